#include "db/refresh_tokens.hpp"

namespace imageproc::db {
namespace {

constexpr const char* kInsert = R"(
INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)))";
constexpr const char* kSelectByHash = R"(
SELECT id, user_id, family_id, revoked_at IS NOT NULL, expires_at <= now()
FROM refresh_tokens WHERE token_hash = $1)";
constexpr const char* kRevokeIfActive =
    "UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL";
constexpr const char* kRevokeFamily =
    "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL";
// Revoked tokens are kept until they would have expired: presenting one revokes its whole family (reuse
// detection), which must keep working for as long as a stolen token could otherwise be used.
constexpr const char* kPurge = R"(
DELETE FROM refresh_tokens WHERE id IN (
  SELECT id FROM refresh_tokens WHERE expires_at < now() - make_interval(days => $1::int) LIMIT $2))";

}  // namespace

void RefreshTokenRepository::insert(const NewRefreshToken& t) {
  auto conn = pool_.acquire();
  conn->exec(kInsert, params(t.id, t.user_id, t.family_id, t.token_hash, t.ttl_seconds));
}

std::optional<RefreshTokenRecord> RefreshTokenRepository::find_by_hash(const std::string& token_hash) {
  auto conn = pool_.acquire();
  auto r = conn->exec(kSelectByHash, params(token_hash));
  if (r.rows() == 0) return std::nullopt;
  return RefreshTokenRecord{r.get(0, 0), r.get(0, 1), r.get(0, 2), r.get_bool(0, 3), r.get_bool(0, 4)};
}

bool RefreshTokenRepository::rotate(const std::string& old_id, const NewRefreshToken& next) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  if (conn->exec(kRevokeIfActive, params(old_id)).affected() != 1) return false;
  conn->exec(kInsert, params(next.id, next.user_id, next.family_id, next.token_hash, next.ttl_seconds));
  tx.commit();
  return true;
}

int RefreshTokenRepository::revoke_family(const std::string& family_id) {
  auto conn = pool_.acquire();
  return conn->exec(kRevokeFamily, params(family_id)).affected();
}

int RefreshTokenRepository::purge(int grace_days, int limit) {
  auto conn = pool_.acquire();
  return conn->exec(kPurge, params(grace_days, limit)).affected();
}

}  // namespace imageproc::db
