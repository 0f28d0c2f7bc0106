#pragma once
// Small, audited wrappers over OpenSSL 3 for the primitives the auth layer needs.
//
// Contract: every function is stateless and thread-safe (OpenSSL 3 initialises itself and its default DRBG is
// per-thread). Byte strings travel as std::string / std::string_view holding raw bytes; nothing here assumes
// NUL termination or text. Functions that can only fail on a broken crypto library (RAND_bytes, SHA-256,
// HMAC) throw std::runtime_error rather than return a value that could be mistaken for a real digest.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imageproc::crypto {

// RFC 4648 section 5 ("base64url"), without '=' padding, as JOSE (RFC 7515) requires.
std::string base64url_encode(std::string_view bytes);

// Decodes base64url. Padding is optional (accepted only if it is the correct amount); any character outside
// the alphabet, an impossible length, or non-zero unused trailing bits (a non-canonical encoding) yields
// nullopt. Rejecting non-canonical input matters: otherwise two different strings decode to the same bytes,
// which makes signatures malleable.
std::optional<std::string> base64url_decode(std::string_view text);

// RFC 4648 section 4 (standard alphabet), padded.
std::string base64_encode(std::string_view bytes);

// Lower-case hexadecimal, two characters per byte.
std::string hex_encode(std::string_view bytes);

// SHA-256 digest as 32 raw bytes.
std::string sha256(std::string_view data);

// SHA-256 digest as 64 lower-case hex characters.
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (uploads). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex_digest();  // finishes the hash; update() must not be called afterwards

 private:
  void* ctx_;  // EVP_MD_CTX
};

// HMAC-SHA256 (RFC 2104) as 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Compares two byte strings in time independent of their contents (CRYPTO_memcmp). The lengths are not
// secret: strings of different length compare unequal immediately.
bool constant_time_equals(std::string_view a, std::string_view b);

// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the generator fails (never returns weak
// bytes).
std::string random_bytes(std::size_t n);

// base64url (unpadded) of `bytes` random bytes: an unguessable, URL- and header-safe identifier.
std::string random_token(std::size_t bytes = 32);

}  // namespace imageproc::crypto
