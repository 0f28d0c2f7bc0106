#include "api/router.hpp"

#include <gtest/gtest.h>

using namespace imageproc::api;

namespace {

Handler named(std::string name) {
  return [name](Request&) { return Response::text(200, name); };
}

std::string dispatch(const Router& r, const std::string& method, const std::string& path) {
  auto m = r.match(method, path);
  if (!m.route) return m.allowed_methods.empty() ? "404" : "405";
  Request req;
  return m.route->handler(req).body;
}

TEST(Router, MatchesLiteralsAndCapturesParameters) {
  Router r;
  r.add("GET", "/api/images/{id}", named("detail"));
  auto m = r.match("GET", "/api/images/0191-abc");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("id"), "0191-abc");
  EXPECT_EQ(m.route->pattern, "/api/images/{id}");
}

TEST(Router, LiteralSegmentWinsOverParameter) {
  Router r;
  r.add("GET", "/api/images/{id}", named("detail"));
  r.add("GET", "/api/images/stats", named("stats"));
  EXPECT_EQ(dispatch(r, "GET", "/api/images/stats"), "stats");
  EXPECT_EQ(dispatch(r, "GET", "/api/images/42"), "detail");
}

TEST(Router, DistinguishesNotFoundFromMethodNotAllowed) {
  Router r;
  r.add("POST", "/api/auth/login", named("login"));
  EXPECT_EQ(dispatch(r, "GET", "/api/auth/nope"), "404");
  auto m = r.match("GET", "/api/auth/login");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed_methods, std::vector<std::string>{"POST"});
}

TEST(Router, RestParameterTakesTheRemainingPath) {
  Router r;
  r.add("GET", "/files/{key...}", named("file"));
  auto m = r.match("GET", "/files/processed/u1/j1/thumb-128.webp");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("key"), "processed/u1/j1/thumb-128.webp");
  EXPECT_EQ(r.match("GET", "/files").route, nullptr);
  EXPECT_THROW(r.add("GET", "/x/{rest...}/y", named("bad")), std::invalid_argument);
}

TEST(Router, HeadIsServedByGetAndTrailingSlashesAreIgnored) {
  Router r;
  r.add("GET", "/healthz", named("health"));
  EXPECT_EQ(dispatch(r, "HEAD", "/healthz"), "health");
  EXPECT_EQ(dispatch(r, "GET", "/healthz/"), "health");
  EXPECT_EQ(dispatch(r, "GET", "/healthz/extra"), "404");
}

}  // namespace

TEST(Router, GetFallbackTakesOnlyGetAndHeadOnPathsNoRouteHas) {
  Router r;
  r.add("GET", "/healthz", named("health"));
  r.add("POST", "/api/auth/login", named("login"));
  r.set_get_fallback("/{path...}", named("app"));
  EXPECT_EQ(dispatch(r, "GET", "/healthz"), "health");
  EXPECT_EQ(dispatch(r, "GET", "/"), "app");
  EXPECT_EQ(dispatch(r, "HEAD", "/jobs/42"), "app");
  auto m = r.match("GET", "/jobs/42/");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("path"), "jobs/42");
  EXPECT_EQ(m.route->pattern, "/{path...}");
  // A path that exists for another method keeps its 405; other methods on unknown paths stay 404.
  EXPECT_EQ(dispatch(r, "GET", "/api/auth/login"), "405");
  EXPECT_EQ(dispatch(r, "POST", "/jobs/42"), "404");
  EXPECT_EQ(dispatch(r, "DELETE", "/"), "404");
}
