#include "api/pipeline.hpp"

#include <gtest/gtest.h>

#include "api/rate_limiter.hpp"
#include "core/errors.hpp"

using namespace imageproc;
using namespace imageproc::api;

namespace {

TEST(ProblemBody, CarriesStatusTitleDetailAndTraceButNoInternals) {
  AppError e = errors::internal("SELECT secret FROM users failed at /src/db/pool.cpp:42");
  const auto body = problem_body(e, "trace-1");
  EXPECT_EQ(body["status"], 500);
  EXPECT_EQ(body["traceId"], "trace-1");
  EXPECT_EQ(body["title"], "Internal Server Error");
  EXPECT_EQ(body.dump().find("SELECT"), std::string::npos);
  EXPECT_EQ(body.dump().find("pool.cpp"), std::string::npos);
  EXPECT_FALSE(body.contains("errors"));
}

TEST(ProblemBody, ValidationErrorsListFieldsAndRetryAfterBecomesAHeader) {
  const auto body = problem_body(errors::validation({{"email", {"Email is not valid."}}}), "t");
  EXPECT_EQ(body["status"], 400);
  EXPECT_EQ(body["errors"]["email"][0], "Email is not valid.");
  const auto r = problem_response(errors::too_many_requests(7), "t");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.get("Retry-After").value_or(""), "7");
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "application/problem+json");
}

TEST(ClientIp, ForwardedForIsTrustedOnlyFromConfiguredProxies) {
  const std::vector<std::string> proxies = {"10.0.0.1", "10.0.0.2"};
  EXPECT_EQ(resolve_client_ip("203.0.113.9", "1.2.3.4", proxies), "203.0.113.9");
  EXPECT_EQ(resolve_client_ip("10.0.0.1", "1.2.3.4", proxies), "1.2.3.4");
  // A client cannot spoof by prepending: the right-most untrusted hop is taken.
  EXPECT_EQ(resolve_client_ip("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", proxies), "1.2.3.4");
  EXPECT_EQ(resolve_client_ip("10.0.0.1", std::nullopt, proxies), "10.0.0.1");
  EXPECT_EQ(resolve_client_ip("10.0.0.1", " , ", proxies), "10.0.0.1");
}

TEST(RateLimiter, AllowsTheBudgetThenAsksToWait) {
  RateLimiter limiter(10);
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.acquire("ip", t0).has_value()) << i;
  auto wait = limiter.acquire("ip", t0);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, 6);  // one token per 6 s at 10/min
  EXPECT_FALSE(limiter.acquire("other", t0).has_value());
  // Six seconds later one more request fits, and only one.
  EXPECT_FALSE(limiter.acquire("ip", t0 + std::chrono::seconds(6)).has_value());
  EXPECT_TRUE(limiter.acquire("ip", t0 + std::chrono::seconds(6)).has_value());
}

TEST(RateLimiter, MemoryStaysBoundedUnderManyKeys) {
  RateLimiter limiter(5, 100);
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 1000; ++i) limiter.acquire("k" + std::to_string(i), t0 + std::chrono::milliseconds(i));
  // The most recent key is still tracked: its second request within the same instant uses its bucket.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(limiter.acquire("k999", t0 + std::chrono::milliseconds(999)));
  EXPECT_TRUE(limiter.acquire("k999", t0 + std::chrono::milliseconds(999)).has_value());
}

TEST(HttpParsing, QueryStringsAreDecoded) {
  auto q = parse_query("page=2&q=red%20car&tag=a+b&empty=&flag");
  EXPECT_EQ(q.find("page")->second, "2");
  EXPECT_EQ(q.find("q")->second, "red car");
  EXPECT_EQ(q.find("tag")->second, "a b");
  EXPECT_EQ(q.find("empty")->second, "");
  EXPECT_EQ(q.count("flag"), 1u);
  EXPECT_EQ(percent_decode("100%", false), "100%");
  EXPECT_EQ(percent_decode("%zz", false), "%zz");
}

TEST(HttpParsing, CookiesAreFoundByName) {
  Request r;
  r.headers.add("Cookie", "a=1; imageproc_refresh=tok-en; b=2");
  EXPECT_EQ(r.cookie("imageproc_refresh").value_or(""), "tok-en");
  EXPECT_FALSE(r.cookie("missing").has_value());
}

}  // namespace
