#pragma once
// refresh_tokens table. Only SHA-256 hashes of tokens are stored. Tokens of one sign-in form a family;
// rotation revokes the presented token and inserts its successor in one transaction, and the conditional
// revoke makes two concurrent refreshes of one token end with exactly one winner. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>

#include "db/pool.hpp"

namespace imageproc::db {

struct RefreshTokenRecord {
  std::string id;
  std::string user_id;
  std::string family_id;
  bool revoked = false;
  bool expired = false;
};

struct NewRefreshToken {
  std::string id;
  std::string user_id;
  std::string family_id;
  std::string token_hash;
  std::int64_t ttl_seconds;
};

class RefreshTokenRepository {
 public:
  explicit RefreshTokenRepository(Pool& pool) : pool_(pool) {}

  void insert(const NewRefreshToken& token);
  std::optional<RefreshTokenRecord> find_by_hash(const std::string& token_hash);
  // Revokes `old_id` if still active and inserts `next`; false (and nothing written) if it was already
  // revoked.
  bool rotate(const std::string& old_id, const NewRefreshToken& next);
  int revoke_family(const std::string& family_id);
  // Deletes up to `limit` tokens that expired more than `grace_days` ago (revoked or not); returns the count.
  int purge(int grace_days, int limit);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
