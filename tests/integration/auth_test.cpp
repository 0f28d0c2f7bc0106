// Accounts over real HTTP against the real `imageproc api` and a real PostgreSQL.

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "harness.hpp"

using imageproc::testing::ApiServer;
using imageproc::testing::HttpResponse;
using imageproc::testing::TestDatabase;
using nlohmann::json;

namespace {

constexpr const char* kRefreshCookie = "imageproc_refresh";

class AuthApi : public ::testing::Test {
 protected:
  TestDatabase db_;
  // Every test speaks through a trusted proxy with its own client address, so the per-IP auth limit of one
  // test never throttles another.
  ApiServer api_{db_, {{"TRUSTED_PROXIES", "127.0.0.1"}}};
  std::string client_ip_ = "203.0.113." + std::to_string(1 + std::rand() % 250);

  std::vector<std::pair<std::string, std::string>> as_client(std::vector<std::pair<std::string, std::string>> h = {}) {
    h.emplace_back("X-Forwarded-For", client_ip_);
    return h;
  }
  HttpResponse post(const std::string& path, const json& body, std::vector<std::pair<std::string, std::string>> h = {}) {
    return api_.post_json(path, body, as_client(std::move(h)));
  }
  HttpResponse register_user(const std::string& email, const std::string& password = "correct horse battery") {
    return post("/api/auth/register", {{"name", "Test User"}, {"email", email}, {"password", password}});
  }
  HttpResponse with_cookie(const std::string& path, const std::string& refresh) {
    return post(path, json::object(), {{"Cookie", std::string(kRefreshCookie) + "=" + refresh}});
  }
};

void expect_problem(const HttpResponse& r, long status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
  const auto body = r.json();
  EXPECT_EQ(body.value("status", 0), status);
  EXPECT_TRUE(body.contains("title"));
  EXPECT_TRUE(body.contains("detail"));
  EXPECT_EQ(body.value("traceId", ""), r.header("x-request-id").value_or("?"));
}

TEST_F(AuthApi, RegisterLoginMeRefreshLogoutRoundTrip) {
  auto reg = register_user("  Alice@Example.COM ");
  ASSERT_EQ(reg.status, 201) << reg.body;
  const auto account = reg.json();
  EXPECT_EQ(account["email"], "alice@example.com");
  EXPECT_EQ(account["name"], "Test User");
  EXPECT_FALSE(account["token"].get<std::string>().empty());
  EXPECT_FALSE(account["userId"].get<std::string>().empty());
  EXPECT_FALSE(account["expiresAt"].get<std::string>().empty());
  const auto set_cookie = reg.headers_named("set-cookie");
  ASSERT_EQ(set_cookie.size(), 1u);
  EXPECT_NE(set_cookie[0].find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie[0].find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set_cookie[0].find("Path=/api/auth"), std::string::npos);
  // Only the hash of the refresh token is stored.
  const auto refresh = *reg.cookie(kRefreshCookie);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM refresh_tokens WHERE token_hash = '" + refresh + "'"), "0");

  auto login = post("/api/auth/login", {{"email", "alice@example.com"}, {"password", "correct horse battery"}});
  ASSERT_EQ(login.status, 200) << login.body;
  const auto token = login.json()["token"].get<std::string>();

  auto me = api_.get("/api/auth/me", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["email"], "alice@example.com");
  EXPECT_EQ(me.json()["role"], "user");
  EXPECT_EQ(me.json()["userId"], account["userId"]);
  EXPECT_FALSE(me.json()["createdAt"].get<std::string>().empty());

  auto refreshed = with_cookie("/api/auth/refresh", *login.cookie(kRefreshCookie));
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  const auto new_refresh = *refreshed.cookie(kRefreshCookie);
  EXPECT_NE(new_refresh, *login.cookie(kRefreshCookie));
  EXPECT_EQ(api_.get("/api/auth/me", {{"Authorization", "Bearer " + refreshed.json()["token"].get<std::string>()}})
                .status,
            200);

  auto logout = with_cookie("/api/auth/logout", new_refresh);
  EXPECT_EQ(logout.status, 204);
  EXPECT_NE(logout.headers_named("set-cookie").at(0).find("Max-Age=0"), std::string::npos);
  expect_problem(with_cookie("/api/auth/refresh", new_refresh), 401);
}

TEST_F(AuthApi, ReusedRefreshTokenRevokesItsFamily) {
  auto reg = register_user("bob@example.com");
  ASSERT_EQ(reg.status, 201);
  const auto first = *reg.cookie(kRefreshCookie);
  auto second_resp = with_cookie("/api/auth/refresh", first);
  ASSERT_EQ(second_resp.status, 200);
  const auto second = *second_resp.cookie(kRefreshCookie);

  // The first token is presented again: someone holds a stolen copy.
  expect_problem(with_cookie("/api/auth/refresh", first), 401);
  // Its successor dies with it.
  expect_problem(with_cookie("/api/auth/refresh", second), 401);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL"), "0");

  // A separate sign-in is another family and keeps working.
  auto login = post("/api/auth/login", {{"email", "bob@example.com"}, {"password", "correct horse battery"}});
  ASSERT_EQ(login.status, 200);
  EXPECT_EQ(with_cookie("/api/auth/refresh", *login.cookie(kRefreshCookie)).status, 200);
}

TEST_F(AuthApi, SameEmailInAnotherCaseIsAConflict) {
  ASSERT_EQ(register_user("carol@example.com").status, 201);
  auto again = register_user("CAROL@Example.com");
  expect_problem(again, 409);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM users"), "1");
}

TEST_F(AuthApi, ConcurrentRegistrationsOfOneEmailLetExactlyOneSucceed) {
  constexpr int kClients = 6;
  std::vector<std::future<long>> results;
  for (int i = 0; i < kClients; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      return api_
          .post_json("/api/auth/register",
                     {{"name", "Racer"}, {"email", i % 2 ? "dave@example.com" : "DAVE@example.com"},
                      {"password", "correct horse battery"}},
                     {{"X-Forwarded-For", "198.51.100." + std::to_string(10 + i)}})
          .status;
    }));
  }
  int created = 0, conflicts = 0;
  for (auto& f : results) {
    const long s = f.get();
    created += s == 201;
    conflicts += s == 409;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(conflicts, kClients - 1);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM users"), "1");
}

TEST_F(AuthApi, EleventhAuthRequestFromOneIpInAMinuteIsRateLimited) {
  for (int i = 0; i < 10; ++i) {
    auto r = post("/api/auth/login", {{"email", "nobody@example.com"}, {"password", "wrong password"}});
    ASSERT_EQ(r.status, 401) << "request " << i + 1 << ": " << r.body;
  }
  auto limited = post("/api/auth/login", {{"email", "nobody@example.com"}, {"password", "wrong password"}});
  expect_problem(limited, 429);
  const int retry_after = std::stoi(limited.header("retry-after").value_or("0"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  // Another client address is not affected.
  auto other = api_.post_json("/api/auth/login", {{"email", "nobody@example.com"}, {"password", "x"}},
                              {{"X-Forwarded-For", "192.0.2.77"}});
  EXPECT_EQ(other.status, 401);
}

TEST_F(AuthApi, LoginFailuresLookTheSameForUnknownEmailAndWrongPassword) {
  ASSERT_EQ(register_user("erin@example.com").status, 201);
  auto wrong_password = post("/api/auth/login", {{"email", "erin@example.com"}, {"password", "not the password"}});
  auto unknown_email = post("/api/auth/login", {{"email", "ghost@example.com"}, {"password", "not the password"}});
  expect_problem(wrong_password, 401);
  expect_problem(unknown_email, 401);
  EXPECT_EQ(wrong_password.json()["detail"], unknown_email.json()["detail"]);
  EXPECT_EQ(wrong_password.json()["title"], unknown_email.json()["title"]);
}

TEST_F(AuthApi, ValidationErrorsNameEachField) {
  auto r = post("/api/auth/register", {{"name", "A"}, {"email", "not-an-email"}, {"password", "short"}});
  expect_problem(r, 400);
  const auto errors = r.json()["errors"];
  EXPECT_TRUE(errors.contains("name"));
  EXPECT_TRUE(errors.contains("email"));
  EXPECT_TRUE(errors.contains("password"));

  auto missing = post("/api/auth/register", json::object());
  expect_problem(missing, 400);
  EXPECT_EQ(missing.json()["errors"].size(), 3u);

  auto wrong_type = post("/api/auth/register", {{"name", 42}, {"email", "x@example.com"}, {"password", true}});
  expect_problem(wrong_type, 400);
  EXPECT_TRUE(wrong_type.json()["errors"].contains("name"));
}

TEST_F(AuthApi, MalformedJsonAndNonObjectBodiesAre400) {
  for (const std::string body : {"{not json", "[1,2,3]", "\"text\"", ""}) {
    auto r = api_.request({"POST", "/api/auth/login", body,
                           as_client({{"Content-Type", "application/json"}})});
    expect_problem(r, 400);
  }
}

TEST_F(AuthApi, OversizedBodyIs413NotA500) {
  const std::string huge(200 * 1024, 'x');
  auto r = api_.request({"POST", "/api/auth/register", "{\"name\":\"" + huge + "\"}",
                         as_client({{"Content-Type", "application/json"}})});
  expect_problem(r, 413);
}

TEST_F(AuthApi, MeRequiresAValidBearerToken) {
  expect_problem(api_.get("/api/auth/me"), 401);
  expect_problem(api_.get("/api/auth/me", {{"Authorization", "Bearer not.a.jwt"}}), 401);
  auto reg = register_user("frank@example.com");
  std::string token = reg.json()["token"];
  token[token.size() - 3] = token[token.size() - 3] == 'A' ? 'B' : 'A';
  expect_problem(api_.get("/api/auth/me", {{"Authorization", "Bearer " + token}}), 401);
  // alg "none" with the same claims.
  const std::string original = reg.json()["token"];
  const auto payload = original.substr(original.find('.') + 1, original.rfind('.') - original.find('.') - 1);
  const std::string none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".";
  expect_problem(api_.get("/api/auth/me", {{"Authorization", "Bearer " + none}}), 401);
}

}  // namespace
