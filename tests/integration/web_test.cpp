// The web app served by the real `imageproc api` (WEB_DIST_DIR): SPA fallback, assets, caching, the app's CSP
// on HTML next to the API's own headers, and API paths that stay API 404s.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/temp_file.hpp"
#include "harness.hpp"

using imageproc::testing::ApiServer;
using imageproc::testing::TestDatabase;
namespace fs = std::filesystem;

namespace {

imageproc::TempDir built_app() {
  auto dir = imageproc::TempDir::create(fs::temp_directory_path(), "it-web-dist-");
  fs::create_directories(dir / "assets");
  std::ofstream(dir / "index.html")
      << "<!DOCTYPE html><html><body><div id=app></div><script>window.boot=1</script>"
         "<script type=\"module\" src=\"/assets/index-Abc123.js\"></script></body></html>";
  std::ofstream(dir / "assets" / "index-Abc123.js") << "console.log('app')";
  return dir;
}

class WebAppTest : public ::testing::Test {
 protected:
  imageproc::TempDir dist_ = built_app();
  TestDatabase db_;
  ApiServer api_{db_, {{"WEB_DIST_DIR", dist_.path().string()}}};
};

TEST_F(WebAppTest, AppRoutesGetIndexHtmlWithTheAppPolicy) {
  for (const std::string path : {"/", "/login", "/jobs/01937b2e-5a40-7c3e-9d1f-6b2a0c4e8f10"}) {
    const auto r = api_.get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_NE(r.body.find("window.boot=1"), std::string::npos) << path;
    EXPECT_EQ(r.header("content-type").value_or(""), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("cache-control").value_or(""), "no-cache");
    const std::string csp = r.header("content-security-policy").value_or("");
    EXPECT_NE(csp.find("script-src 'self' 'sha256-"), std::string::npos) << csp;
    EXPECT_NE(csp.find("img-src 'self' data: blob:"), std::string::npos) << csp;
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(r.header("x-frame-options").value_or(""), "DENY");
    EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  }
  EXPECT_EQ(api_.request({"HEAD", "/gallery", "", {}}).status, 200);
}

TEST_F(WebAppTest, HashedAssetsAreCachedAndMissingOnesAre404) {
  const auto js = api_.get("/assets/index-Abc123.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log('app')");
  EXPECT_EQ(js.header("content-type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.header("cache-control").value_or(""), "public, max-age=31536000, immutable");
  const auto missing = api_.get("/assets/index-Old999.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(api_.get("/%2e%2e/%2e%2e/etc/passwd").status, 404);
}

TEST_F(WebAppTest, ApiPathsStayApiAnswers) {
  const auto unknown = api_.get("/api/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(api_.get("/api/auth/me").status, 401);
  EXPECT_EQ(api_.get("/healthz").status, 200);
  EXPECT_EQ(api_.request({"DELETE", "/login", "", {}}).status, 404);
  EXPECT_EQ(api_.get("/api/auth/login").status, 405);
}

}  // namespace
