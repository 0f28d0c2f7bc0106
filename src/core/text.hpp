#pragma once
// Small text helpers shared by URL signing (local and SigV4) and text sanitising. Pure and thread-safe.

#include <chrono>
#include <string>
#include <string_view>

namespace imageproc::text {

// RFC 3986 percent-encoding: unreserved characters (A–Z a–z 0–9 - . _ ~) stay, every other byte becomes %XX
// with upper-case hex; '/' stays when `keep_slash` (object keys in URL paths). This is exactly AWS SigV4's
// UriEncode, so both the local URL signer and the SigV4 signer use it.
std::string percent_encode(std::string_view text, bool keep_slash);

// `text` without leading and trailing ASCII whitespace (space, tab, CR, LF).
std::string trim(std::string_view text);

// "2026-12-01T18:59:55Z" (UTC, whole seconds), as API timestamps are written.
std::string rfc3339(std::chrono::system_clock::time_point t);

// Appends the UTF-8 encoding of a Unicode scalar value.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace imageproc::text
