// Fuzzes JWT parsing and verification (src/auth/jwt.hpp) against a fixed key: the 64-byte HMAC key of
// RFC 7515 appendix A.1 (so the RFC's example token passes the signature check and reaches the claim checks).
//
// Every input is used three ways:
//   1. as a token: JwtService::verify and verify_hs256 throw only JwtError; whatever verifies carries
//      exactly the claims of its payload and an HS256 header;
//   2. split at its first '\n' into a header and a payload (JSON texts, or anything): signed with the key, so
//      the claim logic is reached; a correctly signed token is never refused as BadSignature, an accepted
//      one satisfies every rule in the header (exp, nbf, iat, iss, aud, sub, role, jti), and changing any
//      one character of it makes it fail;
//   3. as the subject and role of issue(): refused (std::invalid_argument) exactly when empty, not valid
//      UTF-8 or too long for an 8 KiB token, and otherwise issue→verify round-trips the claims at a clock
//      drawn from the input, fails after exp + leeway and before nbf - leeway, under another secret, and when
//      tampered with.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"
#include "core/crypto.hpp"
#include "fuzz_support.hpp"

namespace {

using imageproc::auth::AccessClaims;
using imageproc::auth::JwtError;
using imageproc::auth::JwtFailure;
using imageproc::auth::JwtService;
using imageproc::auth::JwtSettings;
using imageproc::fuzz::printable;
using imageproc::fuzz::Rng;
using std::chrono::seconds;
using std::chrono::system_clock;
namespace crypto = imageproc::crypto;

const std::string kRfcKey(
    "\x03\x23\x35\x4b\x2b\x0f\xa5\xbc\x83\x7e\x06\x65\x77\x7b\xa6\x8f\x5a\xb3\x28\xe6\xf0\x54\xc9\x28\xa9\x0f"
    "\x84\xb2\xd2\x50\x2e\xbf\xd3\xfb\x5a\x92\xd2\x06\x47\xef\x96\x8a\xb4\xc3\x77\x62\x3d\x22\x3d\x2e\x21\x72"
    "\x05\x2e\x4f\x08\xc0\xcd\x9a\xf5\x67\xd0\x80\xa3",
    64);
const std::string kOtherSecret = "another-secret-of-at-least-32-bytes!";
constexpr const char* kIssuer = "imageproc";
constexpr const char* kAudience = "imageproc-api";
constexpr std::int64_t kNow = 1796083200;  // 2026-12-01T00:00:00Z, when the corpus tokens are valid
constexpr std::int64_t kTtl = 900;
constexpr std::int64_t kLeeway = 30;
constexpr std::size_t kMaxTokenLength = 8192;  // what verify() accepts
// The last second system_clock (nanoseconds since 1970 in libstdc++) can represent: 2262-04-11T23:47:16Z, and
// so the latest date a claim may hold.
constexpr std::int64_t kMaxClock = 9223372036;

JwtSettings settings_with(std::vector<imageproc::auth::JwtKey> keys) {
  JwtSettings s;
  s.issuer = kIssuer;
  s.audience = kAudience;
  s.keys = std::move(keys);
  s.ttl = seconds(kTtl);
  s.leeway = seconds(kLeeway);
  return s;
}

const JwtService& service() {  // one key: tokens without a kid are verified with it
  static const JwtService s(settings_with({{"fuzz", kRfcKey}}));
  return s;
}
const JwtService& rotated_service() {  // signs with a new key, still accepts the old one
  static const JwtService s(settings_with({{"next", kOtherSecret + "-next"}, {"fuzz", kRfcKey}}));
  return s;
}
const JwtService& impostor_service() {  // same kid, another secret
  static const JwtService s(settings_with({{"fuzz", kOtherSecret}}));
  return s;
}

// Only for values within [0, kMaxClock]: beyond, the conversion to nanoseconds overflows.
system_clock::time_point at(std::int64_t unix_seconds) {
  return system_clock::time_point(seconds(unix_seconds));
}

std::int64_t unix_seconds(system_clock::time_point t) {
  return std::chrono::floor<seconds>(t).time_since_epoch().count();
}

std::optional<AccessClaims> try_verify(const JwtService& s, std::string_view token,
                                       system_clock::time_point now,
                                       std::optional<JwtFailure>* failure = nullptr) {
  try {
    return s.verify(token, now);
  } catch (const JwtError& e) {
    if (failure) *failure = e.failure();
    return std::nullopt;
  }
}

// The claims of an accepted token are exactly what its payload says, and satisfy every rule.
void check_accepted(std::string_view token, const AccessClaims& claims, std::int64_t now) {
  const auto decoded = imageproc::auth::verify_hs256(token, kRfcKey);
  FUZZ_CHECK(decoded.header.is_object() && decoded.header.value("alg", "") == "HS256",
             "accepted without HS256");
  FUZZ_CHECK(!decoded.header.contains("crit"), "accepted with crit");
  const auto& p = decoded.payload;
  FUZZ_CHECK(p.is_object(), "payload is not an object");
  FUZZ_CHECK(p.value("sub", "") == claims.subject && !claims.subject.empty(), "sub differs");
  FUZZ_CHECK(p.value("role", "") == claims.role && !claims.role.empty(), "role differs");
  FUZZ_CHECK(p.value("jti", "") == claims.token_id && !claims.token_id.empty(), "jti differs");
  FUZZ_CHECK(p.value("iss", "") == kIssuer, "iss differs");
  const auto& aud = p.at("aud");
  bool audience_ok = aud == kAudience;
  if (aud.is_array()) {
    for (const auto& a : aud) audience_ok = audience_ok || a == kAudience;
  }
  FUZZ_CHECK(audience_ok, "aud does not name us");
  for (const char* name : {"exp", "iat"}) {
    FUZZ_CHECK(p.contains(name) && p.at(name).is_number_integer(), std::string(name) + " is not an integer");
  }
  const auto exp = p.at("exp").get<std::int64_t>();
  const auto iat = p.at("iat").get<std::int64_t>();
  FUZZ_CHECK(exp >= 0 && exp <= kMaxClock && iat >= 0 && iat <= kMaxClock, "date out of range");
  FUZZ_CHECK(now - kLeeway < exp, "accepted after exp + leeway");
  FUZZ_CHECK(iat <= now + kLeeway, "accepted although issued in the future");
  if (p.contains("nbf")) {
    FUZZ_CHECK(p.at("nbf").is_number_integer() && p.at("nbf").get<std::int64_t>() <= now + kLeeway,
               "accepted before nbf - leeway");
  }
  FUZZ_CHECK(unix_seconds(claims.expires_at) == exp && unix_seconds(claims.issued_at) == iat,
             "claim times differ: exp " + std::to_string(exp) + " iat " + std::to_string(iat));
}

// Changing any one character of a valid token must make it fail.
void check_tampering(std::string_view token, Rng& rng, std::int64_t now) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
  for (int i = 0; i < 4 && !token.empty(); ++i) {
    std::string tampered(token);
    const std::size_t pos = rng.next() % tampered.size();
    char replacement = kAlphabet[rng.next() % kAlphabet.size()];
    if (replacement == tampered[pos]) replacement = replacement == 'A' ? 'B' : 'A';
    tampered[pos] = replacement;
    FUZZ_CHECK(!try_verify(service(), tampered, at(now)),
               "a token changed at " + std::to_string(pos) + " still verifies: " + printable(tampered));
  }
}

void check_arbitrary_token(std::string_view input) {
  if (const auto claims = try_verify(service(), input, at(kNow))) check_accepted(input, *claims, kNow);
  try {
    const auto decoded = imageproc::auth::verify_hs256(input, kRfcKey);
    FUZZ_CHECK(decoded.header.value("alg", "") == "HS256", "verify_hs256 accepted another algorithm");
    FUZZ_CHECK(decoded.payload.is_object(), "verify_hs256 returned a payload that is not an object");
  } catch (const JwtError&) {
  }
}

void check_signed(std::string_view header, std::string_view payload, Rng& rng) {
  const std::string signing_input =
      crypto::base64url_encode(header) + "." + crypto::base64url_encode(payload);
  const std::string token =
      signing_input + "." + crypto::base64url_encode(crypto::hmac_sha256(kRfcKey, signing_input));
  const std::int64_t now = rng.next() % 4 == 0 ? static_cast<std::int64_t>(rng.between(0, kMaxClock)) : kNow;
  std::optional<JwtFailure> failure;
  const auto claims = try_verify(service(), token, at(now), &failure);
  if (!claims) {
    FUZZ_CHECK(*failure != JwtFailure::BadSignature, "a correctly signed token failed its signature check");
    return;
  }
  check_accepted(token, *claims, now);
  check_tampering(token, rng, now);
}

// The length of the token issue() writes (its layout: header, payload with a 16-byte jti, signature),
// computed independently so the fuzzer knows when the 8 KiB limit must refuse it.
std::size_t issued_length(std::string_view subject, std::string_view role, std::int64_t iat,
                          std::string_view kid) {
  nlohmann::ordered_json header = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}};
  nlohmann::ordered_json payload = {
      {"iss", kIssuer}, {"aud", kAudience}, {"sub", subject},   {"role", role}, {"jti", std::string(22, 'x')},
      {"iat", iat},     {"nbf", iat},       {"exp", iat + kTtl}};
  const auto b64 = [](std::size_t n) { return (n * 4 + 2) / 3; };
  return b64(header.dump().size()) + 1 + b64(payload.dump().size()) + 1 + b64(32);
}

bool issue_refused(std::string_view subject, std::string_view role, system_clock::time_point now,
                   imageproc::auth::IssuedToken& out, const JwtService& s) {
  try {
    out = s.issue(subject, role, now);
    return false;
  } catch (const std::invalid_argument&) {
    return true;
  }
}

void check_round_trip(std::string_view input, Rng& rng) {
  const std::size_t half = input.size() / 2;
  const std::string_view subject = input.substr(0, std::min<std::size_t>(half, 2000));
  const std::string_view role = input.substr(half, 2000);
  // Any clock from 1970 to the end of system_clock's range that leaves room for the token's lifetime.
  const std::int64_t base = static_cast<std::int64_t>(rng.between(0, kMaxClock - kTtl - 2 * kLeeway));
  const auto now = at(base) + std::chrono::milliseconds(rng.next() % 1000);

  imageproc::auth::IssuedToken issued;
  const bool refused = issue_refused(subject, role, now, issued, service());
  const bool valid_input = !subject.empty() && !role.empty() && imageproc::fuzz::is_valid_utf8(subject) &&
                           imageproc::fuzz::is_valid_utf8(role) &&
                           issued_length(subject, role, base, "fuzz") <= kMaxTokenLength;
  FUZZ_CHECK(refused == !valid_input, std::string("issue() ") + (refused ? "refused" : "accepted") +
                                          " subject " + printable(subject) + " role " + printable(role));
  if (refused) return;

  const std::int64_t iat = base;
  const std::int64_t exp = iat + kTtl;
  FUZZ_CHECK(issued.expires_at == at(exp), "expires_at is not iat + ttl");
  const auto claims = try_verify(service(), issued.token, now);
  FUZZ_CHECK(claims.has_value(), "an issued token does not verify: " + printable(issued.token));
  FUZZ_CHECK(claims->subject == subject && claims->role == role, "issued claims did not round-trip");
  FUZZ_CHECK(claims->issued_at == at(iat) && claims->expires_at == at(exp),
             "issued times did not round-trip");
  FUZZ_CHECK(claims->token_id.size() == 22, "jti is not 16 random bytes");
  check_accepted(issued.token, *claims, base);

  FUZZ_CHECK(try_verify(service(), issued.token, at(exp + kLeeway - 1)).has_value(),
             "refused within the leeway");
  std::optional<JwtFailure> failure;
  FUZZ_CHECK(
      !try_verify(service(), issued.token, at(exp + kLeeway), &failure) && failure == JwtFailure::Expired,
      "accepted at exp + leeway");
  failure.reset();
  FUZZ_CHECK(!try_verify(service(), issued.token, at(iat - kLeeway - 1), &failure) &&
                 failure == JwtFailure::NotYetValid,
             "accepted before nbf - leeway");
  failure.reset();
  FUZZ_CHECK(
      !try_verify(impostor_service(), issued.token, now, &failure) && failure == JwtFailure::BadSignature,
      "accepted under another secret");
  FUZZ_CHECK(try_verify(rotated_service(), issued.token, now).has_value(), "an old key stopped verifying");
  imageproc::auth::IssuedToken rotated;
  FUZZ_CHECK(!issue_refused(subject, role, now, rotated, rotated_service()),
             "rotated service refused to issue");
  failure.reset();
  FUZZ_CHECK(!try_verify(service(), rotated.token, now, &failure) && failure == JwtFailure::UnknownKey,
             "a token of an unknown kid verified");
  check_tampering(issued.token, rng, base);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = imageproc::fuzz::as_view(data, size);
  Rng rng(imageproc::fuzz::hash_bytes(input));
  check_arbitrary_token(input);
  if (const auto newline = input.find('\n'); newline != std::string_view::npos) {
    check_signed(input.substr(0, newline), input.substr(newline + 1), rng);
  }
  check_round_trip(input, rng);
  return 0;
}
