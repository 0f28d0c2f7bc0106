#pragma once
// Password hashing with Argon2id (libsodium), stored as PHC strings such as
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>". The salt and parameters travel inside the string, so
// stored hashes stay verifiable after the parameters are raised; needs_rehash() tells the login path when to
// upgrade one.
//
// Thread-safety: PasswordHasher is immutable after construction and libsodium's pwhash functions are
// reentrant, so one instance may be shared by all threads. Each hash/verify allocates mem_limit_bytes.

#include <cstddef>
#include <string>
#include <string_view>

namespace imageproc::auth {

struct PasswordHashParams {
  unsigned long long ops_limit = 2;  // passes over memory (PHC "t")
  std::size_t mem_limit_bytes =
      std::size_t{19} * 1024 * 1024;  // OWASP minimum for Argon2id: 19 MiB, 2 passes
};

class PasswordHasher {
 public:
  // Calls sodium_init() (idempotent), checks the params against libsodium's Argon2id limits
  // (std::invalid_argument if out of range), and computes the dummy hash used by verify_against_dummy().
  // Throws std::runtime_error if libsodium cannot initialise or hash (e.g. out of memory).
  explicit PasswordHasher(PasswordHashParams params = {});

  // A fresh salt per call, so two hashes of one password differ. Throws std::runtime_error on failure
  // (in practice only when mem_limit_bytes cannot be allocated).
  std::string hash(std::string_view password) const;

  // True iff `stored` is a well-formed Argon2 PHC string produced for `password`. Malformed, truncated or
  // over-long strings yield false, never an exception.
  bool verify(std::string_view password, std::string_view stored) const;

  // Runs one full verification against a dummy hash so that a login for an unknown account costs the same
  // time as a real one (no account enumeration by timing). Always returns false.
  bool verify_against_dummy(std::string_view password) const;

  // True if `stored` was made with other parameters or another algorithm than this hasher's (or cannot be
  // parsed): the caller should re-hash the password it just verified and store the new string.
  bool needs_rehash(std::string_view stored) const;

 private:
  PasswordHashParams params_;
  std::string dummy_hash_;
};

}  // namespace imageproc::auth
