#pragma once
// Signed URLs of the local-disk backend (DESIGN §4: objects stay private; browsers read them through
// short-lived signed links). Pure logic: HMAC-SHA256 over a canonical string, no I/O, no HTTP types.
//
//   canonical = METHOD "\n" key "\n" expires                                  (reads)
//   canonical = METHOD "\n" key "\n" expires "\n" content-type "\n" max-bytes  (direct uploads)
//   sig       = lower-case hex HMAC-SHA256(secret, canonical)
//   url       = {public_base_url}/files/{percent-encoded key, '/'
//   kept}?exp={expires}&sig={sig}[&ct=..&max=..]
//
// Newlines cannot be forged into the fields: validate_key() refuses control characters in keys, the store
// refuses them in content types, and expiry / max-bytes are decimal numbers, so the fields cannot run into
// each other and one canonical string never stands for two requests.
//
// Thread-safety: immutable after construction; one instance may be shared by any number of threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imageproc::storage {

// The extra signed fields of a presigned upload: the client must send exactly this Content-Type and at most
// `max_bytes` bytes.
struct UploadConstraints {
  std::string content_type;
  std::uint64_t max_bytes = 0;
};

class UrlSigner {
 public:
  static constexpr std::size_t kMinSecretBytes = 32;  // HMAC-SHA256 key no shorter than its output

  // Throws std::invalid_argument when `secret` is shorter than kMinSecretBytes. `public_base_url` is the
  // origin (and optional path prefix) the URLs start with; "" makes them relative ("/files/...").
  explicit UrlSigner(std::string secret, std::string public_base_url = {});

  // Lower-case hex HMAC-SHA256 over the canonical string.
  std::string sign(std::string_view method, std::string_view key, std::int64_t expires_epoch,
                   const std::optional<UploadConstraints>& upload = std::nullopt) const;

  // True when `signature` is the signature of these fields; compared in constant time. Says nothing about
  // expiry (the caller compares `expires_epoch` with its clock).
  bool verify(std::string_view method, std::string_view key, std::int64_t expires_epoch,
              std::string_view signature,
              const std::optional<UploadConstraints>& upload = std::nullopt) const;

  // "{base}/files/{key}?exp=..&sig=.." for a GET.
  std::string get_url(std::string_view key, std::int64_t expires_epoch) const;
  // "{base}/files/{key}?exp=..&sig=..&ct=..&max=.." for a PUT with the given constraints.
  std::string put_url(std::string_view key, std::int64_t expires_epoch,
                      const UploadConstraints& upload) const;

 private:
  std::string secret_;
  std::string base_url_;
};

// Parses a strictly decimal, non-negative integer that fits in int64 ("0".."9223372036854775807"); no sign,
// spaces or leading zeros. nullopt otherwise. Used for the `exp` and `max` query parameters: accepting "007"
// or "+7" would not forge anything, but a strict parser keeps exactly one valid spelling of each signed URL.
std::optional<std::int64_t> parse_decimal(std::string_view text);

}  // namespace imageproc::storage
