// The access-control suite (issue 9): every authenticated endpoint without a token and with every kind of bad
// token (tampered, expired, not yet valid, `alg: none`, another algorithm, another key, an unknown key id,
// another issuer or audience, the wrong scheme, a token in the query string) answers 401 and never data;
// another user's job ids answer 404 exactly like missing ones; signed file URLs cannot be moved to another
// key, extended or used after expiry; admin endpoints refuse users; rate limits hold per user. No response
// body carries a stack trace, SQL, an internal path or a connection string. Prints how many requests were
// tried and how many outcomes were unexpected (must be 0).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <regex>

#include "auth/jwt.hpp"
#include "core/crypto.hpp"
#include "images_fixture.hpp"
#include "storage/local/url_signer.hpp"

namespace imageproc::testing {
namespace {

struct Endpoint {
  std::string method;
  std::string path;  // {id} is replaced by a job id
  bool admin = false;
};

class AccessTest : public ImagesTest {
 protected:
  // One request whose status must be `expected`; the outcome is counted and the body kept for the leak scan.
  HttpResponse expect(const HttpRequest& request, long expected, const std::string& why) {
    auto r = api_->request(request);
    ++tried_;
    bodies_.push_back(r.body);
    if (r.status != expected) {
      unexpected_.push_back(fmt::format("{} {} ({}): {} instead of {}: {}", request.method, request.path, why,
                                        r.status, expected, r.body.substr(0, 200)));
    }
    return r;
  }

  static auth::JwtSettings settings(std::string secret = ApiServer::kJwtSecret, std::string kid = "k1") {
    auth::JwtSettings s;
    s.issuer = "imageproc";
    s.audience = "imageproc-api";
    s.keys.push_back({std::move(kid), std::move(secret)});
    return s;
  }

  static std::string issue(const auth::JwtSettings& s, const std::string& subject, const std::string& role,
                           std::chrono::system_clock::time_point at = std::chrono::system_clock::now()) {
    return auth::JwtService(s).issue(subject, role, at).token;
  }

  static std::string part(const std::string& token, int index) {
    std::size_t begin = 0;
    for (int i = 0; i < index; ++i) begin = token.find('.', begin) + 1;
    const auto end = token.find('.', begin);
    return token.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }

  // Tokens for `user` that a correct verifier must refuse, by what is wrong with them.
  std::vector<std::pair<std::string, std::string>> bad_tokens(const std::string& user,
                                                              const std::string& valid) {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto payload = nlohmann::json::parse(*crypto::base64url_decode(part(valid, 1)));
    const auto encode = [](const nlohmann::json& j) { return crypto::base64url_encode(j.dump()); };
    std::vector<std::pair<std::string, std::string>> out;
    // Signature of the valid token, one character changed.
    std::string tampered_sig = valid;
    tampered_sig.back() = tampered_sig.back() == 'A' ? 'B' : 'A';
    out.emplace_back("tampered signature", tampered_sig);
    // The payload made an admin's, the signature kept.
    auto admin_payload = payload;
    admin_payload["role"] = "admin";
    out.emplace_back("tampered payload", part(valid, 0) + "." + encode(admin_payload) + "." + part(valid, 2));
    out.emplace_back("expired", issue(settings(), user, "user", now - hours(2)));
    out.emplace_back("issued in the future", issue(settings(), user, "user", now + hours(1)));
    out.emplace_back("alg none", encode({{"alg", "none"}, {"typ", "JWT"}}) + "." + part(valid, 1) + ".");
    out.emplace_back("alg none without signature part",
                     encode({{"alg", "none"}, {"typ", "JWT"}}) + "." + part(valid, 1));
    // HS512 with the real secret: the algorithm is pinned to HS256.
    const auto hs512_input = encode({{"alg", "HS512"}, {"typ", "JWT"}, {"kid", "k1"}}) + "." + part(valid, 1);
    out.emplace_back("alg HS512",
                     hs512_input + "." +
                         crypto::base64url_encode(crypto::hmac_sha256(ApiServer::kJwtSecret, hs512_input)));
    // RS256 header, HMAC'd with the "public key" trick: refused by algorithm.
    const auto rs_input = encode({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "k1"}}) + "." + part(valid, 1);
    out.emplace_back(
        "alg RS256",
        rs_input + "." + crypto::base64url_encode(crypto::hmac_sha256(ApiServer::kJwtSecret, rs_input)));
    out.emplace_back("other key",
                     issue(settings("another-secret-that-is-long-enough-0123456789"), user, "user"));
    out.emplace_back("other key with admin role",
                     issue(settings("another-secret-that-is-long-enough-0123456789"), user, "admin"));
    out.emplace_back("unknown kid", issue(settings(ApiServer::kJwtSecret, "k9"), user, "user"));
    auto other_issuer = settings();
    other_issuer.issuer = "someone-else";
    out.emplace_back("other issuer", issue(other_issuer, user, "user"));
    auto other_audience = settings();
    other_audience.audience = "another-api";
    out.emplace_back("other audience", issue(other_audience, user, "user"));
    out.emplace_back("garbage", "not.a.token");
    out.emplace_back("empty", "");
    out.emplace_back("two parts", part(valid, 0) + "." + part(valid, 1));
    return out;
  }

  void scan_bodies_for_leaks() {
    // What would betray the inside: stack traces, SQL and its errors, source and server paths, URLs with
    // credentials, library names.
    const std::regex leak(
        R"((std::|what\(\)|\.cpp|\.hpp|SELECT |INSERT |UPDATE |DELETE FROM|syntax error|ERROR: |postgresql://|amqp://|/tmp/|/work/|/var/lib|/usr/|libpq|rabbitmq-c|terminate called|0x[0-9a-f]{8,}))",
        std::regex::icase);
    // The scan itself must be able to fail.
    for (const char* known_leak : {"ERROR:  relation \"jobs\" does not exist", "at src/db/pool.cpp:41",
                                   "postgresql://postgres@127.0.0.1:5432/x"}) {
      EXPECT_TRUE(std::regex_search(known_leak, leak)) << known_leak;
    }
    for (const auto& body : bodies_) {
      std::smatch m;
      if (std::regex_search(body, m, leak))
        unexpected_.push_back("body leaks '" + m.str() + "': " + body.substr(0, 200));
    }
  }

  void report() {
    scan_bodies_for_leaks();
    std::printf("access suite: %d requests tried, %zu unexpected outcomes\n", tried_, unexpected_.size());
    for (const auto& u : unexpected_) ADD_FAILURE() << u;
  }

  int tried_ = 0;
  std::vector<std::string> bodies_;
  std::vector<std::string> unexpected_;
};

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> list = {
      {"GET", "/api/auth/me"},
      {"GET", "/api/images"},
      {"GET", "/api/images?page=1&pageSize=100&q=x"},
      {"GET", "/api/images/stats"},
      {"GET", "/api/images/events"},
      {"GET", "/api/images/{id}"},
      {"DELETE", "/api/images/{id}"},
      {"POST", "/api/images/{id}/retry"},
      {"POST", "/api/images/upload"},
      {"GET", "/api/admin/overview", true},
      {"POST", "/api/admin/schedules/prune-outbox/run", true},
  };
  return list;
}

std::string with_id(std::string path, const std::string& id) {
  if (const auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, id);
  return path;
}

TEST_F(AccessTest, EveryEndpointRefusesMissingAndBadTokensAndOtherUsersIds) {
  start({{"RATE_LIMIT_READ_PER_MINUTE", "100000"}, {"RATE_LIMIT_UPLOAD_PER_MINUTE", "100000"}});
  const auto alice = register_user("alice@example.com");
  const auto bob = register_user("bob@example.com");
  const auto alice_id = user_id_of(alice);
  const auto job = upload_ok(alice, "alice.jpg", jpeg(picture(320, 240)));
  ASSERT_EQ(wait_for_image_stage(alice, job)["status"], "Completed");
  const auto before = detail(alice, job);

  // No token, the wrong scheme, a token in the query string: 401.
  for (const auto& e : endpoints()) {
    const auto path = with_id(e.path, job);
    expect({e.method, path, "", {}}, 401, "no token");
    expect({e.method, path, "", {{"Authorization", "Basic " + crypto::base64_encode("alice@example.com:x")}}},
           401, "basic auth");
    expect({e.method, path, "", {{"Authorization", alice}}}, 401, "token without scheme");
    expect({e.method,
            path + (path.find('?') == std::string::npos ? "?" : "&") + "access_token=" + alice,
            "",
            {}},
           401, "token in query");
  }
  // Every bad token on every endpoint: 401, the same generic answer.
  for (const auto& [why, token] : bad_tokens(alice_id, alice)) {
    for (const auto& e : endpoints()) {
      const auto r = expect({e.method, with_id(e.path, job), "", bearer(token)}, 401, why);
      if (r.status == 401) EXPECT_TRUE(r.header("www-authenticate")) << why;
    }
  }
  // Bob with Alice's job id: exactly what a missing id gives.
  const auto missing = "01a00000-0000-7000-8000-000000000000";
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/images/{id}"}, {"DELETE", "/api/images/{id}"}, {"POST", "/api/images/{id}/retry"}}) {
    const auto theirs = expect({method, with_id(path, job), "", bearer(bob)}, 404, "another user's job");
    const auto none = expect({method, with_id(path, missing), "", bearer(bob)}, 404, "missing job");
    auto strip = [](nlohmann::json j) {
      j.erase("traceId");
      return j;
    };
    EXPECT_EQ(strip(theirs.json()), strip(none.json())) << method << " " << path;
    EXPECT_EQ(theirs.body.find(job), std::string::npos);
    expect({method, with_id(path, "not-a-uuid"), "", bearer(bob)}, 404, "malformed id");
  }
  const auto bobs_list = expect({"GET", "/api/images", "", bearer(bob)}, 200, "bob's list");
  EXPECT_EQ(bobs_list.json()["totalCount"], 0);
  expect({"GET", "/api/admin/overview", "", bearer(bob)}, 403, "user on admin endpoint");
  expect({"POST", "/api/admin/schedules/prune-outbox/run", "", bearer(alice)}, 403, "user on admin endpoint");
  // Alice's job is untouched by all of it.
  const auto after = detail(alice, job);
  EXPECT_EQ(after["status"], before["status"]);
  EXPECT_EQ(after["completedAt"], before["completedAt"]);
  EXPECT_EQ(after["retryCount"], before["retryCount"]);
  report();
}

TEST_F(AccessTest, SignedFileUrlsCannotBeMovedExtendedOrUsedAfterExpiry) {
  start();
  const auto alice = register_user("files@example.com");
  const auto alice_id = user_id_of(alice);
  const auto job = upload_ok(alice, "f.jpg", jpeg(picture(320, 240)));
  ASSERT_EQ(wait_for_image_stage(alice, job)["status"], "Completed");
  const auto d = detail(alice, job);
  const std::string thumb = d["thumbnails"]["thumb-128"];
  const std::string original = d["originalUrl"];
  expect({"GET", thumb, "", {}}, 200, "valid signed URL");

  const auto query = thumb.substr(thumb.find('?'));
  const auto exp = std::stoll(std::regex_replace(query, std::regex(R"(.*exp=(\d+).*)"), "$1"));
  // The signature of one key on another key, on the original, on a neighbouring output.
  const std::string base = "/files/" + contracts::processed_prefix(alice_id, job);
  expect({"GET", base + "thumb-1024.webp" + query, "", {}}, 403, "signature moved to another output");
  expect({"GET", original.substr(0, original.find('?')) + query, "", {}}, 403,
         "signature moved to the original");
  expect(
      {"GET", "/files/" + contracts::processed_prefix(alice_id, job) + "../thumb-128.webp" + query, "", {}},
      403, "dot segments");
  // The expiry pushed out, the signature kept.
  expect(
      {"GET", std::regex_replace(thumb, std::regex("exp=\\d+"), "exp=" + std::to_string(exp + 3600)), "", {}},
      403, "extended expiry");
  expect({"GET", thumb.substr(0, thumb.find('?')), "", {}}, 403, "unsigned");
  expect({"GET", thumb + "&sig=" + std::string(64, '0'), "", {}}, 403, "repeated signature parameter");
  // A URL signed correctly (with the deployment's secret) but expired.
  const storage::UrlSigner signer("integration-test-storage-secret-0123456789");
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto key = contracts::output_key(alice_id, job, "thumb-128", "webp");
  const auto expired = expect({"GET", signer.get_url(key, now - 5), "", {}}, 403, "expired");
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  expect({"GET", signer.get_url(key, now + 300), "", {}}, 200, "freshly signed");
  report();
}

TEST_F(AccessTest, ReadRateLimitHoldsPerUserAndAnswersWithRetryAfter) {
  start({{"RATE_LIMIT_READ_PER_MINUTE", "5"}});
  const auto alice = register_user("limited@example.com");
  const auto bob = register_user("other@example.com");
  for (int i = 0; i < 5; ++i) expect({"GET", "/api/images", "", bearer(alice)}, 200, "within the limit");
  const auto limited = expect({"GET", "/api/images/stats", "", bearer(alice)}, 429, "over the limit");
  EXPECT_TRUE(limited.header("retry-after")) << limited.body;
  EXPECT_EQ(limited.header("content-type").value_or(""), "application/problem+json");
  // Another user's bucket is their own.
  expect({"GET", "/api/images", "", bearer(bob)}, 200, "another user");
  // A refused token never reaches (or drains) a user's bucket.
  expect({"GET", "/api/images", "", bearer("garbage")}, 401, "bad token");
  report();
}

}  // namespace
}  // namespace imageproc::testing
