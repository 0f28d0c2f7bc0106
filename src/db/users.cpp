#include "db/users.hpp"

namespace imageproc::db {
namespace {


constexpr const char* kInsertUser = R"(
INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT (email) DO NOTHING
RETURNING id, email, name, password_hash, role, created_at, last_login_at)";
constexpr const char* kSelectByEmail =
    "SELECT id, email, name, password_hash, role, created_at, last_login_at FROM users WHERE email = $1";
constexpr const char* kSelectById =
    "SELECT id, email, name, password_hash, role, created_at, last_login_at FROM users WHERE id = $1";
constexpr const char* kRecordLogin = "UPDATE users SET last_login_at = now() WHERE id = $1";
constexpr const char* kUpdateHash = "UPDATE users SET password_hash = $2 WHERE id = $1";
constexpr const char* kSetRole = "UPDATE users SET role = $2 WHERE email = $1";

std::optional<UserRecord> first_user(const Result& r) {
  if (r.rows() == 0) return std::nullopt;
  UserRecord u;
  u.id = r.get(0, 0);
  u.email = r.get(0, 1);
  u.name = r.get(0, 2);
  u.password_hash = r.get(0, 3);
  u.role = r.get(0, 4);
  u.created_at = iso_timestamp(r.get(0, 5));
  if (auto t = r.get_opt(0, 6)) u.last_login_at = iso_timestamp(*t);
  return u;
}

}  // namespace

std::optional<UserRecord> UserRepository::create(const std::string& id, const std::string& email,
                                                 const std::string& name, const std::string& password_hash) {
  auto conn = pool_.acquire();
  return first_user(conn->exec(kInsertUser, params(id, email, name, password_hash)));
}

std::optional<UserRecord> UserRepository::find_by_email(const std::string& email) {
  auto conn = pool_.acquire();
  return first_user(conn->exec(kSelectByEmail, params(email)));
}

std::optional<UserRecord> UserRepository::find_by_id(const std::string& id) {
  auto conn = pool_.acquire();
  return first_user(conn->exec(kSelectById, params(id)));
}

void UserRepository::record_login(const std::string& id) {
  auto conn = pool_.acquire();
  conn->exec(kRecordLogin, params(id));
}

void UserRepository::update_password_hash(const std::string& id, const std::string& hash) {
  auto conn = pool_.acquire();
  conn->exec(kUpdateHash, params(id, hash));
}

bool UserRepository::set_role(const std::string& email, const std::string& role) {
  auto conn = pool_.acquire();
  return conn->exec(kSetRole, params(email, role)).affected() == 1;
}

}  // namespace imageproc::db
