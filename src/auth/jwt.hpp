#pragma once
// HS256 JSON Web Tokens (RFC 7519 / RFC 7515) for short-lived access tokens.
//
// Deliberately small: the only algorithm is HMAC-SHA256, pinned in code. The algorithm named in a token's
// header is never used to choose how to verify it; a header that does not say exactly "HS256" is rejected
// before any key or signature is touched (this is what defeats "alg":"none" and algorithm-confusion attacks).
//
// Thread-safety: JwtService is immutable after construction, so one instance may be shared by any number of
// threads. verify_hs256 is a free, stateless function.

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imageproc::auth {

struct JwtKey {
  std::string kid;     // key id, written to the token header so verification picks the right secret
  std::string secret;  // raw HMAC key, at least 32 bytes (RFC 7518 section 3.2: key >= hash output size)
};

struct JwtSettings {
  std::string issuer;
  std::string audience;
  std::vector<JwtKey> keys;  // keys[0] signs; all verify (rotation: old keys stay until their tokens expire)
  std::chrono::seconds ttl{15 * 60};
  std::chrono::seconds leeway{30};  // clock skew tolerated for exp/nbf/iat
};

struct AccessClaims {
  std::string subject;
  std::string role;
  std::string token_id;  // jti
  std::chrono::system_clock::time_point issued_at;
  std::chrono::system_clock::time_point expires_at;
};

struct IssuedToken {
  std::string token;
  std::chrono::system_clock::time_point expires_at;
};

enum class JwtFailure {
  Malformed,
  UnsupportedAlgorithm,
  UnknownKey,
  BadSignature,
  Expired,
  NotYetValid,
  WrongIssuer,
  WrongAudience,
  MissingClaim,
};

// Stable lower-case name for logs and metrics ("bad_signature"). Never shown to clients as-is.
std::string_view to_string(JwtFailure failure);

// Why a token was refused. what() is a short developer-facing description that never contains key material
// or the token itself; clients should only ever see a generic 401.
class JwtError : public std::runtime_error {
 public:
  JwtError(JwtFailure failure, const std::string& message) : std::runtime_error(message), failure_(failure) {}
  JwtFailure failure() const { return failure_; }

 private:
  JwtFailure failure_;
};

class JwtService {
 public:
  // Throws std::invalid_argument if there are no keys, a secret is shorter than 32 bytes, a kid is empty or
  // repeated, issuer/audience is empty, ttl is not positive or leeway is negative.
  explicit JwtService(JwtSettings settings);

  // Signs a token for `subject` with keys[0]. iat = nbf = `now` (whole seconds), exp = iat + ttl.
  // Throws std::invalid_argument if subject or role is empty or not valid UTF-8, or so long that the token
  // would exceed the 8 KiB verify() accepts.
  IssuedToken issue(std::string_view subject, std::string_view role,
                    std::chrono::system_clock::time_point now) const;

  // Verifies signature and claims (exp, nbf, iat, iss, aud, sub, role, jti) at time `now`.
  // Throws JwtError describing the first problem found.
  AccessClaims verify(std::string_view token, std::chrono::system_clock::time_point now) const;

 private:
  JwtSettings settings_;
};

// Lower layer, exposed for tests against RFC 7515: checks the compact serialisation's HS256 signature with
// `key` and returns the decoded JOSE header and payload (no claim checks). Throws JwtError.
struct DecodedJwt {
  nlohmann::json header;
  nlohmann::json payload;
};
DecodedJwt verify_hs256(std::string_view token, std::string_view key);

}  // namespace imageproc::auth
