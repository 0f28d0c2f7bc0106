#include "storage/s3/sigv4.hpp"

#include <algorithm>
#include <ctime>
#include <stdexcept>

#include "core/crypto.hpp"
#include "core/text.hpp"

namespace imageproc::storage::sigv4 {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

// SigV4 "Trimall": strip leading/trailing whitespace and collapse runs of spaces to one.
std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::tm utc(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string format_time(std::chrono::system_clock::time_point time, const char* format) {
  const std::tm tm = utc(time);
  char buffer[32];
  const auto n = std::strftime(buffer, sizeof buffer, format, &tm);
  return std::string(buffer, n);
}

std::string build_canonical_request(const SigV4Request& request, std::string_view canonical_query,
                                    const CanonicalHeaders& headers, std::string_view payload_hash) {
  std::string out;
  out.reserve(256 + headers.canonical.size() + canonical_query.size());
  out += request.method;
  out += '\n';
  out += canonical_uri(request.path);
  out += '\n';
  out += canonical_query;
  out += '\n';
  out += headers.canonical;
  out += '\n';
  out += headers.signed_headers;
  out += '\n';
  out += payload_hash;
  return out;
}

std::string signature_of(const Credentials& credentials, const Scope& scope,
                         std::chrono::system_clock::time_point time, std::string_view to_sign) {
  const auto key = signing_key(credentials.secret_access_key, amz_day(time), scope);
  return crypto::hex_encode(crypto::hmac_sha256(key, to_sign));
}

// Host first so that callers cannot forget it; request.headers may not repeat it (it would be joined).
std::vector<std::pair<std::string, std::string>> with_host(const SigV4Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size() + 3);
  headers.emplace_back("host", request.host);
  for (const auto& [name, value] : request.headers) {
    // Compared as canonical_headers() will see it: "Host " or " host" would otherwise be joined to the real
    // one.
    if (lower(trim_all(name)) == "host")
      throw std::invalid_argument("SigV4Request.headers must not contain Host");
    headers.emplace_back(name, value);
  }
  return headers;
}

}  // namespace

std::string canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  return uri_encode(path, /*keep_slash=*/true);
}

std::string canonical_query_string(const std::multimap<std::string, std::string>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query)
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  // Sorted by the *encoded* names (byte order), as the specification requires.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

CanonicalHeaders canonical_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::map<std::string, std::string> merged;  // sorted by lower-case name
  for (const auto& [name, value] : headers) {
    auto [it, inserted] = merged.try_emplace(lower(trim_all(name)), trim_all(value));
    if (!inserted) {
      it->second += ',';
      it->second += trim_all(value);
    }
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    out.canonical += name;
    out.canonical += ':';
    out.canonical += value;
    out.canonical += '\n';
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  return format_time(time, "%Y%m%dT%H%M%SZ");
}

std::string amz_day(std::chrono::system_clock::time_point time) {
  return format_time(time, "%Y%m%d");
}

std::string credential_scope(std::chrono::system_clock::time_point time, const Scope& scope) {
  return amz_day(time) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

std::string string_to_sign(std::chrono::system_clock::time_point time, const Scope& scope,
                           std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += '\n';
  out += amz_date(time);
  out += '\n';
  out += credential_scope(time, scope);
  out += '\n';
  out += crypto::sha256_hex(canonical_request);
  return out;
}

std::string signing_key(std::string_view secret_access_key, std::string_view day, const Scope& scope) {
  std::string secret = "AWS4";
  secret += secret_access_key;
  const auto k_date = crypto::hmac_sha256(secret, day);
  const auto k_region = crypto::hmac_sha256(k_date, scope.region);
  const auto k_service = crypto::hmac_sha256(k_region, scope.service);
  return crypto::hmac_sha256(k_service, "aws4_request");
}

SignedRequest sign_headers(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                           std::chrono::system_clock::time_point time) {
  const auto date = amz_date(time);
  auto headers = with_host(request);
  headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  headers.emplace_back("x-amz-date", date);
  const auto canonical = canonical_headers(headers);

  SignedRequest out;
  out.canonical_request = build_canonical_request(request, canonical_query_string(request.query), canonical,
                                                  request.payload_hash);
  out.string_to_sign = string_to_sign(time, scope, out.canonical_request);
  out.signature = signature_of(credentials, scope, time, out.string_to_sign);
  out.headers.emplace_back("x-amz-date", date);
  out.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  out.headers.emplace_back("Authorization",
                           std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                               credential_scope(time, scope) + ",SignedHeaders=" + canonical.signed_headers +
                               ",Signature=" + out.signature);
  return out;
}

PresignedRequest presign(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                         std::chrono::system_clock::time_point time, std::chrono::seconds expires,
                         std::string_view scheme) {
  if (expires.count() < 1 || expires > kMaxPresignExpiry) {
    throw std::invalid_argument("presigned URL expiry must be between 1 and 604800 seconds (7 days), got " +
                                std::to_string(expires.count()));
  }
  const auto canonical = canonical_headers(with_host(request));
  auto query = request.query;
  query.emplace("X-Amz-Algorithm", std::string(kAlgorithm));
  query.emplace("X-Amz-Credential", credentials.access_key_id + "/" + credential_scope(time, scope));
  query.emplace("X-Amz-Date", amz_date(time));
  query.emplace("X-Amz-Expires", std::to_string(expires.count()));
  query.emplace("X-Amz-SignedHeaders", canonical.signed_headers);
  const auto canonical_query = canonical_query_string(query);

  PresignedRequest out;
  out.canonical_request = build_canonical_request(request, canonical_query, canonical, kUnsignedPayload);
  out.string_to_sign = string_to_sign(time, scope, out.canonical_request);
  out.signature = signature_of(credentials, scope, time, out.string_to_sign);
  out.url = std::string(scheme) + "://" + request.host + canonical_uri(request.path) + "?" + canonical_query +
            "&X-Amz-Signature=" + out.signature;
  return out;
}

std::string presign_url(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                        std::chrono::system_clock::time_point time, std::chrono::seconds expires,
                        std::string_view scheme) {
  return presign(request, credentials, scope, time, expires, scheme).url;
}

}  // namespace imageproc::storage::sigv4
