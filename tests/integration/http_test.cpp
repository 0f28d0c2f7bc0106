// HTTP behaviour of the real server: routing errors, headers, CORS, health, limits, timeouts, shutdown.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "harness.hpp"
#include "raw_connection.hpp"

using imageproc::testing::ApiServer;
using imageproc::testing::HttpResponse;
using imageproc::testing::RawConnection;
using imageproc::testing::TestDatabase;

namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  TestDatabase db_;
  ApiServer api_{db_,
                 {{"CORS_ORIGINS", "https://app.example.com"},
                  {"HTTP_HEADER_TIMEOUT_SECONDS", "1"},
                  {"HTTP_MAX_HEADER_BYTES", "4096"}}};
};

void expect_security_headers(const HttpResponse& r) {
  EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  EXPECT_EQ(r.header("x-frame-options").value_or(""), "DENY");
  EXPECT_TRUE(r.header("referrer-policy").has_value());
  EXPECT_TRUE(r.header("permissions-policy").has_value());
  EXPECT_TRUE(r.header("content-security-policy").has_value());
  EXPECT_FALSE(r.header("x-request-id").value_or("").empty());
}

TEST_F(HttpServerTest, UnknownPathIsA404ProblemWithSecurityHeaders) {
  auto r = api_.get("/api/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(r.json()["status"], 404);
  expect_security_headers(r);
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  auto r = api_.request({"DELETE", "/api/auth/login", "", {}});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow").value_or(""), "POST");
  EXPECT_EQ(r.json()["status"], 405);
}

TEST_F(HttpServerTest, ClientRequestIdIsEchoedAndUnsafeOnesReplaced) {
  EXPECT_EQ(api_.get("/healthz", {{"X-Request-Id", "abc-123"}}).header("x-request-id"), "abc-123");
  auto replaced = api_.get("/healthz", {{"X-Request-Id", "<script>"}}).header("x-request-id").value_or("");
  EXPECT_NE(replaced, "<script>");
  EXPECT_FALSE(replaced.empty());
}

TEST_F(HttpServerTest, HealthReadinessAndMetrics) {
  auto health = api_.get("/healthz");
  EXPECT_EQ(health.status, 200);
  expect_security_headers(health);
  // Ready once the broker connection is up too (it is made in the background right after start).
  auto ready = api_.get("/readyz");
  for (int i = 0; i < 200 && ready.status != 200; ++i) {
    EXPECT_EQ(ready.status, 503);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ready = api_.get("/readyz");
  }
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json()["checks"]["database"], "ok");
  EXPECT_EQ(ready.json()["checks"]["broker"], "ok");
  EXPECT_EQ(ready.json()["checks"]["storage"], "ok");
  auto metrics = api_.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.body.find("imageproc_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"} 1\n"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("imageproc_http_request_duration_seconds_bucket"), std::string::npos);
}

TEST_F(HttpServerTest, CorsPreflightAllowsOnlyConfiguredOrigins) {
  auto ok =
      api_.request({"OPTIONS",
                    "/api/auth/login",
                    "",
                    {{"Origin", "https://app.example.com"}, {"Access-Control-Request-Method", "POST"}}});
  EXPECT_EQ(ok.status, 204);
  EXPECT_EQ(ok.header("access-control-allow-origin").value_or(""), "https://app.example.com");
  EXPECT_EQ(ok.header("access-control-allow-credentials").value_or(""), "true");
  auto refused =
      api_.request({"OPTIONS",
                    "/api/auth/login",
                    "",
                    {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}});
  EXPECT_EQ(refused.status, 403);
  EXPECT_FALSE(refused.header("access-control-allow-origin").has_value());
  auto simple = api_.get("/healthz", {{"Origin", "https://app.example.com"}});
  EXPECT_EQ(simple.header("access-control-allow-origin").value_or(""), "https://app.example.com");
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  RawConnection c(api_.base_url());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
  const auto reply = c.read_all();
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, BodiesOverTheRouteLimitAre413EvenWhenLarge) {
  // Larger than the HTTP library's own default limit: the route's limit must decide, with a 413.
  auto r = api_.request(
      {"POST", "/api/auth/login", std::string(3 * 1024 * 1024, 'x'), {{"Content-Type", "application/json"}}});
  EXPECT_EQ(r.status, 413) << r.body;
}

TEST_F(HttpServerTest, GarbageIsA400) {
  RawConnection c(api_.base_url());
  c.send("NOT HTTP AT ALL\r\n\r\n");
  const auto reply = c.read_all();
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, SlowHeadersAreCutOffByTheHeaderTimeout) {
  RawConnection c(api_.base_url());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes the header block
  const auto started = std::chrono::steady_clock::now();
  const auto reply = c.read_all();  // returns when the server closes
  EXPECT_TRUE(reply.empty()) << reply;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(9));
  // The server is still healthy afterwards.
  EXPECT_EQ(api_.get("/healthz").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RawConnection c(api_.base_url());
  c.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n");
  const auto reply = c.read_all();
  size_t count = 0;
  for (size_t pos = 0; (pos = reply.find("HTTP/1.1 200", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_EQ(count, 2u) << reply;
}

TEST(HttpServerProxy, ForwardedForIsIgnoredFromUntrustedPeers) {
  TestDatabase db;
  ApiServer api(db, {{"RATE_LIMIT_AUTH_PER_MINUTE", "2"}});  // no TRUSTED_PROXIES
  for (int i = 0; i < 2; ++i) {
    api.post_json("/api/auth/login", {{"email", "a@example.com"}, {"password", "whatever1"}},
                  {{"X-Forwarded-For", "192.0.2." + std::to_string(i + 1)}});
  }
  // A forged header does not buy a fresh bucket.
  auto r = api.post_json("/api/auth/login", {{"email", "a@example.com"}, {"password", "whatever1"}},
                         {{"X-Forwarded-For", "192.0.2.99"}});
  EXPECT_EQ(r.status, 429);
}

TEST(HttpServerShutdown, SigtermDrainsAndExitsZero) {
  TestDatabase db;
  ApiServer api(db);
  ASSERT_EQ(api.get("/healthz").status, 200);
  api.process().process().signal(SIGTERM);
  ASSERT_TRUE(api.process().process().wait(std::chrono::seconds(30)));
  EXPECT_EQ(api.process().process().exit_code(), 0);
  EXPECT_TRUE(api.process().wait_for_line("api stopped", std::chrono::seconds(1)).has_value());
}

}  // namespace
