#pragma once
// AWS Signature Version 4 for S3 (and S3-compatible stores such as Cloudflare R2), as pure functions: no
// network, no clock, no libcurl. The caller passes the signing time, which makes signatures reproducible
// (tests, and the stable signed URLs of DESIGN §4).
//
// Verified byte for byte (tests/unit/sigv4_test.cpp) against AWS's published S3 examples:
//  - S3 API Reference, "Signature Calculations for the Authorization Header: Transferring Payload in a Single
//    Chunk" — the GET Object example (GET /test.txt, Range: bytes=0-9, examplebucket, us-east-1,
//    20130524T000000Z; signature f0e8bdb8…6bdb41), with its canonical request and string to sign, and the
//    PUT Object, GET Bucket Lifecycle and GET Bucket (List Objects) examples of the same page;
//  - S3 API Reference, "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" — the
//    presigned GET example (expires 86400; signature aeeed9bb…04d404);
// and against botocore's S3 query-string presigner at a fixed signing time (tests/unit/botocore_presign.py).
//
// S3 specifics that differ from the generic SigV4 rules: the canonical URI is the path encoded once (each
// segment URI-encoded, '/' kept, no dot-segment normalisation, never double-encoded), and query-string
// presigning signs the payload as UNSIGNED-PAYLOAD.
//
// Thread-safety: every function is stateless and thread-safe.

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.hpp"

namespace imageproc::storage::sigv4 {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string: the payload hash of a request without a body.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// The longest validity AWS accepts for a presigned URL (7 days).
inline constexpr std::chrono::seconds kMaxPresignExpiry{604800};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Where the signature is valid: "20130524/us-east-1/s3/aws4_request".
struct Scope {
  std::string region;  // "auto" for Cloudflare R2
  std::string service = "s3";
};

// One HTTP request as SigV4 sees it. Path and query hold *decoded* text; the signer encodes them, so the URL
// sent on the wire must be built with canonical_uri() / canonical_query_string() (presign_url does that).
struct SigV4Request {
  std::string method;      // "GET", "PUT", ...
  std::string host;        // the Host header: "bucket.s3.us-east-1.amazonaws.com", "127.0.0.1:9000"
  std::string path = "/";  // "/bucket/my key.txt" (decoded)
  std::multimap<std::string, std::string> query;  // decoded names and values; "delete" → {"delete", ""}
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers to sign (not host/x-amz-date)
  std::string payload_hash = std::string(kUnsignedPayload);  // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
};

// RFC 3986 percent-encoding as S3 wants it: A–Z a–z 0–9 - . _ ~ kept, every other byte %XX (upper-case hex;
// a space is %20, never '+'; UTF-8 is encoded byte by byte). With `keep_slash`, '/' is kept too (paths).
inline std::string uri_encode(std::string_view input, bool keep_slash) {
  return imageproc::text::percent_encode(input, keep_slash);
}

// "/" for an empty path; otherwise the path with each segment encoded once and the '/' kept.
std::string canonical_uri(std::string_view path);

// Names and values encoded, sorted by name then value, joined with '&'; "name=" for an empty value.
std::string canonical_query_string(const std::multimap<std::string, std::string>& query);

struct CanonicalHeaders {
  std::string canonical;       // "host:example.com\nrange:bytes=0-9\n" (ends with a newline per header)
  std::string signed_headers;  // "host;range"
};
// Lower-cases names, trims values and collapses inner runs of spaces, joins repeated names with ',', sorts.
CanonicalHeaders canonical_headers(const std::vector<std::pair<std::string, std::string>>& headers);

// "20130524T000000Z" / "20130524" in UTC.
std::string amz_date(std::chrono::system_clock::time_point time);
std::string amz_day(std::chrono::system_clock::time_point time);

std::string credential_scope(std::chrono::system_clock::time_point time, const Scope& scope);

std::string string_to_sign(std::chrono::system_clock::time_point time, const Scope& scope,
                           std::string_view canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request"), 32 raw bytes.
std::string signing_key(std::string_view secret_access_key, std::string_view day, const Scope& scope);

// The result of header signing. `headers` are the ones to add to the request as given (x-amz-date,
// x-amz-content-sha256, Authorization); the other fields are exposed for tests and debugging and must not be
// logged together with the Authorization value.
struct SignedRequest {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
};

// Signs `request` with an Authorization header. Host, x-amz-date and x-amz-content-sha256 (the request's
// payload_hash) are always signed, together with every header in request.headers, which must not name Host
// itself (in any case or spacing: std::invalid_argument, here and in presign).
SignedRequest sign_headers(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                           std::chrono::system_clock::time_point time);

struct PresignedRequest {
  std::string url;  // scheme://host/path?...&X-Amz-Signature=...
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
};

// Query-string presigning (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature) with an
// UNSIGNED-PAYLOAD body. Signed headers are host plus request.headers (e.g. content-type for a PUT: the
// client must then send exactly that value). Throws std::invalid_argument unless 1 s ≤ expires ≤ 604800 s
// (AWS refuses longer ones).
PresignedRequest presign(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                         std::chrono::system_clock::time_point time, std::chrono::seconds expires,
                         std::string_view scheme = "https");

// presign(...).url
std::string presign_url(const SigV4Request& request, const Credentials& credentials, const Scope& scope,
                        std::chrono::system_clock::time_point time, std::chrono::seconds expires,
                        std::string_view scheme = "https");

}  // namespace imageproc::storage::sigv4
