#include "auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "core/crypto.hpp"

namespace imageproc::auth {
namespace {

// libsodium's C API wants a NUL-terminated string shorter than crypto_pwhash_STRBYTES. Anything longer cannot
// be one of our hashes, and copying guarantees termination for string_views that are not.
bool fits_phc_buffer(std::string_view stored) {
  return !stored.empty() && stored.size() < crypto_pwhash_STRBYTES &&
         stored.find('\0') == std::string_view::npos;
}

// An empty string_view may carry a null data(); libsodium gets a real (empty) buffer instead.
const char* data_or_empty(std::string_view text) {
  return text.empty() ? "" : text.data();
}

}  // namespace

PasswordHasher::PasswordHasher(PasswordHashParams params) : params_(params) {
  if (sodium_init() < 0) throw std::runtime_error("PasswordHasher: sodium_init failed");
  if (params_.ops_limit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params_.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
    throw std::invalid_argument("PasswordHasher: ops_limit outside libsodium's Argon2id range");
  }
  if (params_.mem_limit_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params_.mem_limit_bytes > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    throw std::invalid_argument("PasswordHasher: mem_limit_bytes outside libsodium's Argon2id range");
  }
  // The dummy is a hash of a random secret nobody knows, made with the live parameters, so verifying against
  // it costs exactly what verifying a real account's hash costs and can never succeed.
  dummy_hash_ = hash(crypto::random_token(32));
}

std::string PasswordHasher::hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES] = {};
  if (crypto_pwhash_str_alg(out, data_or_empty(password), password.size(), params_.ops_limit,
                            params_.mem_limit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("PasswordHasher: Argon2id hashing failed (out of memory?)");
  }
  return std::string(out);
}

bool PasswordHasher::verify(std::string_view password, std::string_view stored) const {
  if (!fits_phc_buffer(stored)) return false;
  const std::string terminated(stored);
  // crypto_pwhash_str_verify parses the PHC string (algorithm, m, t, p, salt) itself and compares in constant
  // time; any parse error is a plain -1, same as a wrong password.
  return crypto_pwhash_str_verify(terminated.c_str(), data_or_empty(password), password.size()) == 0;
}

bool PasswordHasher::verify_against_dummy(std::string_view password) const {
  // The result is discarded on purpose; only the time spent matters.
  [[maybe_unused]] const int ignored =
      crypto_pwhash_str_verify(dummy_hash_.c_str(), data_or_empty(password), password.size());
  return false;
}

bool PasswordHasher::needs_rehash(std::string_view stored) const {
  if (!fits_phc_buffer(stored)) return true;
  const std::string terminated(stored);
  // The Argon2id-specific check returns -1 for anything that is not Argon2id (e.g. a legacy Argon2i hash),
  // which we treat as "upgrade it", unlike the generic crypto_pwhash_str_needs_rehash that accepts Argon2i.
  return crypto_pwhash_argon2id_str_needs_rehash(terminated.c_str(), params_.ops_limit,
                                                 params_.mem_limit_bytes) != 0;
}

}  // namespace imageproc::auth
