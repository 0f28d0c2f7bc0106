#include "auth/jwt.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>

#include "core/crypto.hpp"

namespace imageproc::auth {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::string_view kAlgorithm = "HS256";
constexpr std::size_t kMinSecretBytes = 32;  // RFC 7518 section 3.2: key at least as long as the hash output
constexpr std::size_t kSignatureBytes = 32;
// Access tokens we issue are a few hundred bytes. Refusing anything far larger bounds the work an
// unauthenticated caller can make us do (base64 decoding and JSON parsing happen before the signature check).
constexpr std::size_t kMaxTokenLength = std::size_t{8} * 1024;
// NumericDate values are accepted in [0, 2262-04-11T23:47:16Z]: the last whole second a
// system_clock::time_point can hold (nanoseconds since 1970 in libstdc++), so turning a claim into one cannot
// overflow.
constexpr std::int64_t kMaxNumericDate =
    std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count();
constexpr std::size_t kJtiBytes = 16;

[[noreturn]] void fail(JwtFailure failure, const std::string& message) {
  throw JwtError(failure, "jwt: " + message);
}

// Decodes one compact-serialisation segment. JWS uses base64url *without* padding (RFC 7515 section 2), so
// '=' is refused here even though crypto::base64url_decode tolerates it: accepting both spellings would let
// one signature be written several ways.
std::optional<std::string> decode_segment(std::string_view segment) {
  if (segment.find('=') != std::string_view::npos) return std::nullopt;
  return crypto::base64url_decode(segment);
}

// Parses a JSON object, never throwing. Duplicate member names anywhere are refused: RFC 7515 section 5.2
// lets a parser either reject them or take the last one, and rejecting removes any chance of two components
// (or two libraries) reading different values out of one token.
std::optional<json> parse_object(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  bool duplicate = false;
  const json::parser_callback_t on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    json value = json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/false);
    if (duplicate || value.is_discarded() || !value.is_object()) return std::nullopt;
    return value;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// A token split at its dots, with the header already decoded and its algorithm checked.
struct ParsedToken {
  std::string_view signing_input;  // "header.payload" exactly as received: the MAC covers these bytes
  std::string_view payload_segment;
  std::string_view signature_segment;
  json header;
};

// Structure and algorithm checks, done before any key lookup or MAC computation.
ParsedToken parse_and_check_header(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenLength)
    fail(JwtFailure::Malformed, "token length out of range");
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    fail(JwtFailure::Malformed, "token must have exactly three segments");
  }
  const std::optional<std::string> header_bytes = decode_segment(token.substr(0, first));
  if (!header_bytes) fail(JwtFailure::Malformed, "header is not base64url");
  std::optional<json> header = parse_object(*header_bytes);
  if (!header) fail(JwtFailure::Malformed, "header is not a JSON object");

  // The algorithm is pinned: the header may only confirm it, never choose it.
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != kAlgorithm) {
    fail(JwtFailure::UnsupportedAlgorithm, "only HS256 is accepted");
  }
  // RFC 7515 section 4.1.11: a "crit" extension we do not understand must make the token invalid, and we
  // understand none (notably not RFC 7797 "b64", which would change what the signature covers).
  if (header->contains("crit")) fail(JwtFailure::Malformed, "critical header extensions are not supported");
  return ParsedToken{token.substr(0, second), token.substr(first + 1, second - first - 1),
                     token.substr(second + 1), std::move(*header)};
}

void check_signature(const ParsedToken& parsed, std::string_view key) {
  if (key.empty()) fail(JwtFailure::UnknownKey, "empty verification key");
  const std::optional<std::string> signature = decode_segment(parsed.signature_segment);
  if (!signature) fail(JwtFailure::Malformed, "signature is not base64url");
  const std::string expected = crypto::hmac_sha256(key, parsed.signing_input);
  if (signature->size() != kSignatureBytes || !crypto::constant_time_equals(*signature, expected)) {
    fail(JwtFailure::BadSignature, "signature mismatch");
  }
}

json decode_payload(const ParsedToken& parsed) {
  const std::optional<std::string> payload_bytes = decode_segment(parsed.payload_segment);
  if (!payload_bytes) fail(JwtFailure::Malformed, "payload is not base64url");
  std::optional<json> payload = parse_object(*payload_bytes);
  if (!payload) fail(JwtFailure::Malformed, "payload is not a JSON object");
  return std::move(*payload);
}

// Reads an integer NumericDate claim. Absent -> nullopt; present but not an in-range integer -> Malformed.
// Fractional dates are legal in RFC 7519 but we never issue them, so they are refused rather than rounded.
std::optional<std::int64_t> numeric_date(const json& payload, const char* name) {
  const auto it = payload.find(name);
  if (it == payload.end()) return std::nullopt;
  std::int64_t value = -1;
  if (it->is_number_unsigned()) {
    const auto raw = it->get<std::uint64_t>();
    value = raw > static_cast<std::uint64_t>(kMaxNumericDate) ? -1 : static_cast<std::int64_t>(raw);
  } else if (it->is_number_integer()) {
    value = it->get<std::int64_t>();
  }
  if (value < 0 || value > kMaxNumericDate)
    fail(JwtFailure::Malformed, std::string(name) + " is not a valid date");
  return value;
}

const std::string& required_string(const json& payload, const char* name) {
  const auto it = payload.find(name);
  if (it == payload.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    fail(JwtFailure::MissingClaim, std::string("missing claim: ") + name);
  }
  return it->get_ref<const std::string&>();
}

bool audience_matches(const json& aud, const std::string& expected) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == expected;
  if (aud.is_array()) {
    return std::any_of(aud.begin(), aud.end(), [&](const json& entry) {
      return entry.is_string() && entry.get_ref<const std::string&>() == expected;
    });
  }
  return false;
}

system_clock::time_point from_numeric_date(std::int64_t value) {
  return system_clock::time_point(seconds(value));
}

}  // namespace

std::string_view to_string(JwtFailure failure) {
  switch (failure) {
    case JwtFailure::Malformed:
      return "malformed";
    case JwtFailure::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case JwtFailure::UnknownKey:
      return "unknown_key";
    case JwtFailure::BadSignature:
      return "bad_signature";
    case JwtFailure::Expired:
      return "expired";
    case JwtFailure::NotYetValid:
      return "not_yet_valid";
    case JwtFailure::WrongIssuer:
      return "wrong_issuer";
    case JwtFailure::WrongAudience:
      return "wrong_audience";
    case JwtFailure::MissingClaim:
      return "missing_claim";
  }
  return "unknown";
}

DecodedJwt verify_hs256(std::string_view token, std::string_view key) {
  ParsedToken parsed = parse_and_check_header(token);
  check_signature(parsed, key);
  json payload = decode_payload(parsed);
  return DecodedJwt{std::move(parsed.header), std::move(payload)};
}

JwtService::JwtService(JwtSettings settings) : settings_(std::move(settings)) {
  if (settings_.keys.empty()) throw std::invalid_argument("JwtService: at least one key is required");
  std::set<std::string_view> kids;
  for (const JwtKey& key : settings_.keys) {
    if (key.kid.empty()) throw std::invalid_argument("JwtService: every key needs a kid");
    if (!kids.insert(key.kid).second) throw std::invalid_argument("JwtService: duplicate kid " + key.kid);
    if (key.secret.size() < kMinSecretBytes) {
      throw std::invalid_argument("JwtService: secret for kid " + key.kid + " is shorter than 32 bytes");
    }
  }
  if (settings_.issuer.empty() || settings_.audience.empty()) {
    throw std::invalid_argument("JwtService: issuer and audience are required");
  }
  if (settings_.ttl <= seconds::zero()) throw std::invalid_argument("JwtService: ttl must be positive");
  if (settings_.leeway < seconds::zero())
    throw std::invalid_argument("JwtService: leeway must not be negative");
}

IssuedToken JwtService::issue(std::string_view subject, std::string_view role,
                              system_clock::time_point now) const {
  if (subject.empty() || role.empty())
    throw std::invalid_argument("JwtService::issue: subject and role are required");
  const JwtKey& key = settings_.keys.front();
  const std::int64_t iat = std::chrono::floor<seconds>(now).time_since_epoch().count();
  const std::int64_t exp = iat + settings_.ttl.count();

  // ordered_json keeps the member order stable and readable; verification does not depend on it.
  nlohmann::ordered_json header;
  header["alg"] = kAlgorithm;
  header["typ"] = "JWT";
  header["kid"] = key.kid;

  nlohmann::ordered_json payload;
  payload["iss"] = settings_.issuer;
  payload["aud"] = settings_.audience;
  payload["sub"] = std::string(subject);
  payload["role"] = std::string(role);
  payload["jti"] = crypto::random_token(kJtiBytes);
  payload["iat"] = iat;
  payload["nbf"] = iat;
  payload["exp"] = exp;

  std::string signing_input;
  try {
    signing_input = crypto::base64url_encode(header.dump()) + "." + crypto::base64url_encode(payload.dump());
  } catch (const nlohmann::json::exception&) {
    // dump() throws on invalid UTF-8; surface it as the caller's mistake, not a library exception.
    throw std::invalid_argument("JwtService::issue: subject and role must be valid UTF-8");
  }
  std::string token =
      signing_input + "." + crypto::base64url_encode(crypto::hmac_sha256(key.secret, signing_input));
  // A token verify() would refuse as too long is no token at all.
  if (token.size() > kMaxTokenLength) {
    throw std::invalid_argument("JwtService::issue: subject and role make the token longer than 8 KiB");
  }
  return IssuedToken{std::move(token), from_numeric_date(exp)};
}

AccessClaims JwtService::verify(std::string_view token, system_clock::time_point now) const {
  const ParsedToken parsed = parse_and_check_header(token);

  // Key selection. Every token we issue names its key. A token without "kid" is accepted only when there is
  // exactly one key, where there is nothing to choose. With several keys we refuse instead of trying each in
  // turn: that would multiply the chances of a forgery by the number of keys, and keep retired-but-listed
  // keys silently relevant for tokens that do not even claim to use them.
  const JwtKey* key = nullptr;
  const auto kid = parsed.header.find("kid");
  if (kid == parsed.header.end()) {
    if (settings_.keys.size() == 1) key = &settings_.keys.front();
  } else {
    if (!kid->is_string()) fail(JwtFailure::Malformed, "kid must be a string");
    const auto& wanted = kid->get_ref<const std::string&>();
    const auto found = std::find_if(settings_.keys.begin(), settings_.keys.end(),
                                    [&](const JwtKey& candidate) { return candidate.kid == wanted; });
    if (found != settings_.keys.end()) key = &*found;
  }
  if (key == nullptr) fail(JwtFailure::UnknownKey, "no key matches the token's kid");

  check_signature(parsed, key->secret);
  const json payload = decode_payload(parsed);

  // Time claims. Comparisons are arranged so that only small values (now, leeway) are added or subtracted.
  const std::int64_t now_s = std::chrono::floor<seconds>(now).time_since_epoch().count();
  const std::int64_t leeway = settings_.leeway.count();

  const std::optional<std::int64_t> exp = numeric_date(payload, "exp");
  if (!exp) fail(JwtFailure::MissingClaim, "missing claim: exp");
  // RFC 7519 section 4.1.4: the token is valid only *before* exp.
  if (now_s - leeway >= *exp) fail(JwtFailure::Expired, "token has expired");

  const std::optional<std::int64_t> nbf = numeric_date(payload, "nbf");
  if (nbf && now_s + leeway < *nbf) fail(JwtFailure::NotYetValid, "token is not valid yet");

  const std::optional<std::int64_t> iat = numeric_date(payload, "iat");
  if (!iat) fail(JwtFailure::MissingClaim, "missing claim: iat");
  if (*iat > now_s + leeway) fail(JwtFailure::NotYetValid, "token was issued in the future");

  const auto iss = payload.find("iss");
  if (iss == payload.end()) fail(JwtFailure::MissingClaim, "missing claim: iss");
  if (!iss->is_string() || iss->get_ref<const std::string&>() != settings_.issuer) {
    fail(JwtFailure::WrongIssuer, "unexpected issuer");
  }

  const auto aud = payload.find("aud");
  if (aud == payload.end()) fail(JwtFailure::MissingClaim, "missing claim: aud");
  if (!audience_matches(*aud, settings_.audience)) fail(JwtFailure::WrongAudience, "unexpected audience");

  AccessClaims claims;
  claims.subject = required_string(payload, "sub");
  claims.role = required_string(payload, "role");
  claims.token_id = required_string(payload, "jti");
  claims.issued_at = from_numeric_date(*iat);
  claims.expires_at = from_numeric_date(*exp);
  return claims;
}

}  // namespace imageproc::auth
