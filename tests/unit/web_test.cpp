// The web app's static serving: path rules, symlink containment, content types, the HTML CSP with the
// hashes of the build's inline scripts, and the handler's SPA fallback against a real directory.
#include "api/handlers/web.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/temp_file.hpp"

using namespace imageproc::api;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

imageproc::TempDir make_dist() {
  auto dir = imageproc::TempDir::create(fs::temp_directory_path(), "web-test-");
  write(dir / "index.html",
        "<!DOCTYPE html><html><body><script>boot()</script>"
        "<script type=\"module\" src=\"/assets/index-abc.js\"></script></body></html>");
  write(dir / "assets/index-abc.js", "console.log('app')");
  write(dir / "assets/style-abc.css", "body{}");
  write(dir / "robots.txt", "User-agent: *");
  return dir;
}

Request get_request(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

int status_of(WebHandlers& web, const std::string& path) {
  Request r = get_request(path);
  try {
    return web.get(r).status;
  } catch (const imageproc::AppError& e) {
    return e.status();
  }
}

TEST(WebPaths, ApiAndFilePrefixesAreNeverTheApp) {
  EXPECT_EQ(classify_web_path("/api/nope"), WebTarget::NotWeb);
  EXPECT_EQ(classify_web_path("/api"), WebTarget::NotWeb);
  EXPECT_EQ(classify_web_path("/files/originals/x"), WebTarget::NotWeb);
  EXPECT_EQ(classify_web_path("/assets/index-abc.js"), WebTarget::Asset);
  EXPECT_EQ(classify_web_path("/"), WebTarget::Page);
  EXPECT_EQ(classify_web_path("/jobs/0193"), WebTarget::Page);
  EXPECT_EQ(classify_web_path("/apis"), WebTarget::Page);  // a prefix is a whole segment
  EXPECT_EQ(classify_web_path("/assetsx/a.js"), WebTarget::Page);
}

TEST(WebPaths, SafeRelativePathRefusesTraversalHiddenAndOddSegments) {
  EXPECT_EQ(safe_relative_path("/"), "");
  EXPECT_EQ(safe_relative_path("/assets/index-abc.js"), "assets/index-abc.js");
  EXPECT_EQ(safe_relative_path("//assets///a.js/"), "assets/a.js");
  EXPECT_EQ(safe_relative_path("/../etc/passwd"), std::nullopt);
  EXPECT_EQ(safe_relative_path("/assets/../../etc/passwd"), std::nullopt);
  EXPECT_EQ(safe_relative_path("/./index.html"), std::nullopt);
  EXPECT_EQ(safe_relative_path("/.env"), std::nullopt);
  EXPECT_EQ(safe_relative_path("/assets/..\\..\\x"), std::nullopt);
  EXPECT_EQ(safe_relative_path(std::string_view("/a\0b", 4)), std::nullopt);
  EXPECT_EQ(safe_relative_path("/jobs/a..b"), "jobs/a..b");  // dots inside a name are fine
}

TEST(WebPaths, ResolveInsideFollowsSymlinksOnlyWithinTheRoot) {
  const auto outside = imageproc::TempDir::create(fs::temp_directory_path(), "web-outside-");
  write(outside / "secret.txt", "secret");
  const auto dist = make_dist();
  fs::create_symlink(outside / "secret.txt", dist / "escape.txt");
  fs::create_symlink(dist / "robots.txt", dist / "inside.txt");
  fs::create_directory_symlink(outside.path(), dist / "linked-dir");

  EXPECT_EQ(resolve_inside(dist.path(), "robots.txt"), fs::canonical(dist / "robots.txt"));
  EXPECT_EQ(resolve_inside(dist.path(), "inside.txt"), fs::canonical(dist / "robots.txt"));
  EXPECT_EQ(resolve_inside(dist.path(), "escape.txt"), std::nullopt);
  EXPECT_EQ(resolve_inside(dist.path(), "linked-dir/secret.txt"), std::nullopt);
  EXPECT_EQ(resolve_inside(dist.path(), "missing.js"), std::nullopt);
  EXPECT_EQ(resolve_inside(dist.path(), "assets"), std::nullopt);  // a directory is not a file
  EXPECT_EQ(resolve_inside(dist.path(), ""), std::nullopt);
  // A sibling whose name extends the root's is outside it.
  const fs::path sibling = dist.path().string() + "-evil";
  write(sibling / "x.txt", "x");
  EXPECT_EQ(resolve_inside(dist.path(), "../" + sibling.filename().string() + "/x.txt"), std::nullopt);
  fs::remove_all(sibling);
}

TEST(WebPaths, ContentTypesByExtension) {
  EXPECT_EQ(web_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(web_content_type("index-ABC.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(web_content_type("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(web_content_type("logo.svg"), "image/svg+xml");
  EXPECT_EQ(web_content_type("font.woff2"), "font/woff2");
  EXPECT_EQ(web_content_type("app.webmanifest"), "application/manifest+json");
  EXPECT_EQ(web_content_type("blob.bin"), "application/octet-stream");
}

TEST(WebCsp, InlineScriptsAreHashedAndScriptsWithSrcAreNot) {
  const std::string html =
      "<html><head><SCRIPT>a()</SCRIPT></head><body><script data-tsr-stream-part=\"\">b()</script>"
      "<script type=\"module\" async=\"\" src=\"/assets/x.js\"></script><scripts>no</scripts>"
      "<script data-src=\"x\">c()</script></body></html>";
  const auto hashes = inline_script_hashes(html);
  const auto hash = [](std::string_view body) {
    return "'sha256-" + imageproc::crypto::base64_encode(imageproc::crypto::sha256(body)) + "'";
  };
  EXPECT_EQ(hashes, (std::vector<std::string>{hash("a()"), hash("b()"), hash("c()")}));
  // The well-known digest of an empty script, as browsers print it in CSP reports.
  EXPECT_EQ(inline_script_hashes("<script></script>"),
            std::vector<std::string>{"'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"});
}

TEST(WebCsp, PolicyAllowsOnlyTheAppItsImagesAndItsApi) {
  const auto csp = app_content_security_policy({"'sha256-abc='"}, {"https://bucket.s3.example.com"});
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self' 'sha256-abc='"), std::string::npos);
  EXPECT_NE(csp.find("style-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("img-src 'self' data: blob: https://bucket.s3.example.com;"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
}

TEST(WebCsp, OriginOfAbsoluteUrlsOnly) {
  EXPECT_EQ(url_origin("https://bucket.s3.eu-central-1.amazonaws.com/originals/u/j?X-Amz-Signature=1"),
            "https://bucket.s3.eu-central-1.amazonaws.com");
  EXPECT_EQ(url_origin("http://127.0.0.1:9000/bucket/key"), "http://127.0.0.1:9000");
  EXPECT_EQ(url_origin("https://cdn.example.com"), "https://cdn.example.com");
  EXPECT_EQ(url_origin("/files/originals/u/j?exp=1&sig=2"), "");
  EXPECT_EQ(url_origin("https://"), "");
  EXPECT_EQ(url_origin("javascript:alert(1)"), "");
}

TEST(WebHandler, ServesFilesAssetsAndFallsBackToIndexForAppRoutes) {
  const auto dist = make_dist();
  WebHandlers web(dist.path(), {"https://images.example.com"});

  Request asset = get_request("/assets/index-abc.js");
  const Response js = web.get(asset);
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log('app')");
  EXPECT_EQ(js.headers.get("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_FALSE(js.headers.has("Content-Security-Policy"));  // the pipeline's default-src 'none' applies

  for (const std::string path : {"/", "/jobs/0193b2e4", "/login", "/index.html"}) {
    Request page = get_request(path);
    const Response html = web.get(page);
    EXPECT_EQ(html.status, 200) << path;
    EXPECT_NE(html.body.find("boot()"), std::string::npos) << path;
    EXPECT_EQ(html.headers.get("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_EQ(html.headers.get("Cache-Control"), "no-cache") << path;
    const auto csp = std::string(html.headers.get("Content-Security-Policy").value_or(""));
    EXPECT_NE(csp.find(inline_script_hashes(html.body).at(0)), std::string::npos) << csp;
    EXPECT_NE(csp.find("https://images.example.com"), std::string::npos) << csp;
  }

  Request robots = get_request("/robots.txt");
  EXPECT_EQ(web.get(robots).headers.get("Cache-Control"), "public, max-age=3600");

  EXPECT_EQ(status_of(web, "/assets/missing-xyz.js"), 404);  // a stale asset name is not the app's HTML
  EXPECT_EQ(status_of(web, "/api/nope"), 404);
  EXPECT_EQ(status_of(web, "/files/originals/x"), 404);
  EXPECT_EQ(status_of(web, "/../../etc/passwd"), 404);
  EXPECT_EQ(status_of(web, "/.hidden"), 404);
}

TEST(WebHandler, SymlinkOutOfTheDistIsNotServed) {
  const auto outside = imageproc::TempDir::create(fs::temp_directory_path(), "web-outside-");
  write(outside / "secret.js", "secret");
  const auto dist = make_dist();
  fs::create_symlink(outside / "secret.js", dist / "assets" / "secret.js");
  WebHandlers web(dist.path(), {});
  EXPECT_EQ(status_of(web, "/assets/secret.js"), 404);
}

TEST(WebHandler, MissingIndexIsAClear404) {
  const auto dist = make_dist();
  fs::remove(dist / "index.html");
  WebHandlers web(dist.path(), {});
  Request r = get_request("/");
  try {
    web.get(r);
    FAIL() << "expected a 404";
  } catch (const imageproc::AppError& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.detail(), "The web app is not built.");
  }
}

}  // namespace
