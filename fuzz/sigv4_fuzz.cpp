// Fuzzes SigV4 canonicalisation and signing (src/storage/s3/sigv4.hpp).
//
// Input, one item per line (readable, so AWS's example requests are the seeds):
//   METHOD
//   HOST
//   PATH                  decoded, as in SigV4Request::path
//   ?name=value           a query parameter (decoded; no '=' means an empty value)
//   @seconds              signing time (Unix seconds, reduced into 1970..2262, what system_clock holds)
//   +seconds              presign expiry (anything; outside 1..604800 must be refused)
//   $hash                 payload hash
//   name:value            anything else: a header to sign
// Checked:
//   - canonical_uri: "/" for an empty path, otherwise only unreserved characters, '/' and upper-case %XX, and
//     percent-decoding gives the path back;
//   - canonical_query_string: independent of insertion order, sorted, and decodes back to the same pairs;
//   - canonical_headers: independent of the order of distinct names; for HTTP-valid names and values, one
//     line per distinct lower-cased name, sorted, trimmed, inner whitespace collapsed, and signed_headers
//     lists exactly those names;
//   - sign_headers: refuses (std::invalid_argument) any extra header that canonicalises to Host, otherwise is
//     deterministic and its canonical request, string to sign, signature and Authorization header are
//     exactly the documented compositions of the parts; another secret gives another signature;
//   - presign: refuses expiries outside 1..604800 s, otherwise its URL is scheme://host + canonical URI +
//     canonical query + the signature, and equals presign_url.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "fuzz_support.hpp"
#include "storage/s3/sigv4.hpp"

namespace {

namespace sigv4 = imageproc::storage::sigv4;
using imageproc::fuzz::printable;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::int64_t kMaxClock = 9223372036;  // 2262-04-11: the end of system_clock (nanoseconds)

struct Parsed {
  sigv4::SigV4Request request;
  std::vector<std::pair<std::string, std::string>> query_in_order;
  std::int64_t time = 1369353600;  // 2013-05-24T00:00:00Z, AWS's examples
  std::int64_t expires = 86400;
};

std::int64_t parse_integer(std::string_view s) {
  std::int64_t value = 0;
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  for (const char c : s) {
    if (c < '0' || c > '9') break;
    if (value > 100000000000000LL) break;  // enough digits to mean "huge"
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

Parsed parse_input(std::string_view input) {
  std::vector<std::string_view> lines;
  while (!input.empty()) {
    const auto eol = input.find('\n');
    lines.push_back(input.substr(0, eol));
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
  }
  Parsed p;
  p.request.method = lines.size() > 0 ? std::string(lines[0]) : "GET";
  p.request.host = lines.size() > 1 ? std::string(lines[1]) : "examplebucket.s3.amazonaws.com";
  p.request.path = lines.size() > 2 ? std::string(lines[2]) : "/";
  for (std::size_t i = 3; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.starts_with('?')) {
      const auto eq = line.find('=');
      std::string name(line.substr(1, eq == std::string_view::npos ? std::string_view::npos : eq - 1));
      std::string value(eq == std::string_view::npos ? std::string_view{} : line.substr(eq + 1));
      p.query_in_order.emplace_back(name, value);
      p.request.query.emplace(std::move(name), std::move(value));
    } else if (line.starts_with('@')) {
      p.time = parse_integer(line.substr(1)) % (kMaxClock + 1);
      if (p.time < 0) p.time = -p.time;
    } else if (line.starts_with('+')) {
      p.expires = parse_integer(line.substr(1));
    } else if (line.starts_with('$')) {
      p.request.payload_hash = std::string(line.substr(1));
    } else {
      const auto colon = line.find(':');
      p.request.headers.emplace_back(
          std::string(line.substr(0, colon)),
          colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1)));
    }
  }
  return p;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not canonical
}

// Percent-decodes what uri_encode produced; nullopt if it is not in canonical form.
std::optional<std::string> canonical_decode(std::string_view encoded, bool allow_slash) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (is_unreserved(c) || (allow_slash && c == '/')) {
      out.push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= encoded.size() || hex_digit(encoded[i + 1]) < 0 ||
        hex_digit(encoded[i + 2]) < 0) {
      return std::nullopt;
    }
    const char decoded = static_cast<char>(hex_digit(encoded[i + 1]) * 16 + hex_digit(encoded[i + 2]));
    // An unreserved character (or '/', in paths) must not be encoded: canonical means encoded only if needed.
    if (is_unreserved(decoded) || (allow_slash && decoded == '/')) return std::nullopt;
    out.push_back(decoded);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = s.find(separator);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

void check_uri(const std::string& path) {
  const std::string uri = sigv4::canonical_uri(path);
  FUZZ_CHECK(uri == sigv4::canonical_uri(path), "canonical_uri is not deterministic");
  if (path.empty()) {
    FUZZ_CHECK(uri == "/", "an empty path did not become /");
    return;
  }
  const auto decoded = canonical_decode(uri, /*allow_slash=*/true);
  FUZZ_CHECK(decoded.has_value(), "canonical_uri is not canonical: " + printable(uri));
  FUZZ_CHECK(*decoded == path,
             "canonical_uri does not decode back: " + printable(path) + " -> " + printable(uri));
}

void check_query(const Parsed& p) {
  const std::string canonical = sigv4::canonical_query_string(p.request.query);
  std::multimap<std::string, std::string> reversed;
  for (auto it = p.query_in_order.rbegin(); it != p.query_in_order.rend(); ++it) reversed.emplace(*it);
  FUZZ_CHECK(sigv4::canonical_query_string(reversed) == canonical,
             "insertion order changed the query string");
  if (p.query_in_order.empty()) {
    FUZZ_CHECK(canonical.empty(), "no parameters but a query string");
    return;
  }
  std::vector<std::pair<std::string, std::string>> encoded_pairs;
  std::vector<std::pair<std::string, std::string>> decoded_pairs;
  for (const auto item : split(canonical, '&')) {
    const auto eq = item.find('=');
    FUZZ_CHECK(eq != std::string_view::npos, "a query item without '=': " + printable(canonical));
    const auto name = canonical_decode(item.substr(0, eq), false);
    const auto value = canonical_decode(item.substr(eq + 1), false);
    FUZZ_CHECK(name && value, "a query item is not canonically encoded: " + printable(item));
    encoded_pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    decoded_pairs.emplace_back(*name, *value);
  }
  FUZZ_CHECK(std::is_sorted(encoded_pairs.begin(), encoded_pairs.end()), "query items are not sorted");
  auto expected = p.query_in_order;
  std::sort(expected.begin(), expected.end());
  std::sort(decoded_pairs.begin(), decoded_pairs.end());
  FUZZ_CHECK(decoded_pairs == expected, "the query string does not decode to its parameters");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// SigV4 "Trimall", written again from the specification: no leading/trailing spaces or tabs, inner runs of
// them become one space.
std::string trim_all(std::string_view s) {
  std::string out;
  bool space = false;
  for (const char c : s) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool is_token(std::string_view name) {  // RFC 9110 field-name
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_unreserved(c) || std::string_view("!#$%&'*+^`|").find(c) != std::string_view::npos;
  });
}

void check_headers(const Headers& headers) {
  const auto canonical = sigv4::canonical_headers(headers);
  Headers by_name = headers;
  std::stable_sort(by_name.begin(), by_name.end(), [](const auto& a, const auto& b) {
    return lower(trim_all(a.first)) < lower(trim_all(b.first));
  });
  const auto sorted = sigv4::canonical_headers(by_name);
  FUZZ_CHECK(sorted.canonical == canonical.canonical && sorted.signed_headers == canonical.signed_headers,
             "the order of distinct headers changed the canonical headers");

  const bool http_valid = std::all_of(headers.begin(), headers.end(), [](const auto& h) {
    return is_token(h.first) && h.second.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
  });
  if (!http_valid) return;
  std::map<std::string, std::string> expected;
  for (const auto& [name, value] : headers) {
    auto [it, inserted] = expected.try_emplace(lower(name), trim_all(value));
    if (!inserted) it->second += "," + trim_all(value);
  }
  std::string expected_canonical;
  std::string expected_signed;
  for (const auto& [name, value] : expected) {
    expected_canonical += name + ":" + value + "\n";
    expected_signed += (expected_signed.empty() ? "" : ";") + name;
  }
  FUZZ_CHECK(
      canonical.canonical == expected_canonical,
      "canonical headers: " + printable(canonical.canonical) + " expected " + printable(expected_canonical));
  FUZZ_CHECK(canonical.signed_headers == expected_signed,
             "signed headers: " + printable(canonical.signed_headers));
}

bool is_lower_hex(std::string_view s, std::size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void check_signing(const Parsed& p) {
  const sigv4::Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  const sigv4::Scope scope{"us-east-1"};
  const auto time = std::chrono::system_clock::time_point(std::chrono::seconds(p.time));

  const std::string date = sigv4::amz_date(time);
  const std::string day = sigv4::amz_day(time);
  FUZZ_CHECK(
      date.size() == 16 && date[8] == 'T' && date[15] == 'Z' && date.starts_with(day) && day.size() == 8,
      "amz_date " + date + " / amz_day " + day);

  const bool names_host = std::any_of(p.request.headers.begin(), p.request.headers.end(),
                                      [](const auto& h) { return lower(trim_all(h.first)) == "host"; });
  sigv4::SignedRequest signed_request;
  try {
    signed_request = sigv4::sign_headers(p.request, credentials, scope, time);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(names_host, "sign_headers refused a request without a Host header among its headers");
    return;
  }
  FUZZ_CHECK(!names_host, "sign_headers accepted an extra header that canonicalises to Host");
  const auto again = sigv4::sign_headers(p.request, credentials, scope, time);
  FUZZ_CHECK(again.signature == signed_request.signature &&
                 again.canonical_request == signed_request.canonical_request,
             "sign_headers is not deterministic");

  Headers all = {{"host", p.request.host}};
  all.insert(all.end(), p.request.headers.begin(), p.request.headers.end());
  all.emplace_back("x-amz-content-sha256", p.request.payload_hash);
  all.emplace_back("x-amz-date", date);
  const auto headers = sigv4::canonical_headers(all);
  const std::string canonical_request = p.request.method + "\n" + sigv4::canonical_uri(p.request.path) +
                                        "\n" + sigv4::canonical_query_string(p.request.query) + "\n" +
                                        headers.canonical + "\n" + headers.signed_headers + "\n" +
                                        p.request.payload_hash;
  FUZZ_CHECK(signed_request.canonical_request == canonical_request, "the canonical request is not its parts");
  const std::string scope_text = day + "/us-east-1/s3/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + date + "\n" + scope_text + "\n" +
                              imageproc::crypto::sha256_hex(canonical_request);
  FUZZ_CHECK(signed_request.string_to_sign == to_sign, "the string to sign is not its parts");
  const std::string signature = imageproc::crypto::hex_encode(
      imageproc::crypto::hmac_sha256(sigv4::signing_key(credentials.secret_access_key, day, scope), to_sign));
  FUZZ_CHECK(signed_request.signature == signature && is_lower_hex(signature, 64),
             "the signature is not HMAC");
  const std::string authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" + scope_text +
                                    ",SignedHeaders=" + headers.signed_headers + ",Signature=" + signature;
  FUZZ_CHECK(signed_request.headers.size() == 3 && signed_request.headers[0].first == "x-amz-date" &&
                 signed_request.headers[0].second == date &&
                 signed_request.headers[1].first == "x-amz-content-sha256" &&
                 signed_request.headers[1].second == p.request.payload_hash &&
                 signed_request.headers[2].first == "Authorization" &&
                 signed_request.headers[2].second == authorization,
             "the headers to send are not the documented ones");
  const sigv4::Credentials other{credentials.access_key_id, credentials.secret_access_key + "x"};
  FUZZ_CHECK(sigv4::sign_headers(p.request, other, scope, time).signature != signature,
             "another secret gave the same signature");

  // Query-string presigning.
  const auto expires = std::chrono::seconds(p.expires);
  const bool expiry_ok = p.expires >= 1 && p.expires <= 604800;
  sigv4::PresignedRequest presigned;
  try {
    presigned = sigv4::presign(p.request, credentials, scope, time, expires);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(!expiry_ok, "presign refused expiry " + std::to_string(p.expires));
    return;
  }
  FUZZ_CHECK(expiry_ok, "presign accepted expiry " + std::to_string(p.expires));
  FUZZ_CHECK(presigned.url == sigv4::presign_url(p.request, credentials, scope, time, expires),
             "presign_url differs from presign().url");
  FUZZ_CHECK(presigned.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"), "presigning signed a payload hash");
  const auto lines = split(presigned.canonical_request, '\n');
  const std::string query = std::string(lines.size() > 2 ? lines[2] : "");
  FUZZ_CHECK(query.find("X-Amz-Expires=" + std::to_string(p.expires)) != std::string::npos &&
                 query.find("X-Amz-Date=" + date) != std::string::npos,
             "the presigned query lacks its X-Amz parameters");
  const std::string prefix = "https://" + p.request.host + sigv4::canonical_uri(p.request.path) + "?";
  FUZZ_CHECK(presigned.url.starts_with(prefix) &&
                 presigned.url.ends_with("&X-Amz-Signature=" + presigned.signature) &&
                 is_lower_hex(presigned.signature, 64),
             "presigned URL " + printable(presigned.url));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Parsed p = parse_input(imageproc::fuzz::as_view(data, size));
  check_uri(p.request.path);
  check_query(p);
  check_headers(p.request.headers);
  check_signing(p);
  return 0;
}
