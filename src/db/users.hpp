#pragma once
// users table. Emails are stored normalised (trimmed, lower-case) under a unique index. Thread-safe (each call
// leases its own connection).

#include <optional>
#include <string>

#include "db/pool.hpp"

namespace imageproc::db {

struct UserRecord {
  std::string id;
  std::string email;
  std::string name;
  std::string password_hash;
  std::string role;
  std::string created_at;  // RFC 3339
  std::optional<std::string> last_login_at;
};

class UserRepository {
 public:
  explicit UserRepository(Pool& pool) : pool_(pool) {}

  // nullopt when the email is already taken (the unique index decides, so concurrent registrations are safe).
  std::optional<UserRecord> create(const std::string& id, const std::string& email, const std::string& name,
                                   const std::string& password_hash);
  std::optional<UserRecord> find_by_email(const std::string& email);
  std::optional<UserRecord> find_by_id(const std::string& id);
  void record_login(const std::string& id);
  void update_password_hash(const std::string& id, const std::string& hash);
  // Returns false when no user has that email.
  bool set_role(const std::string& email, const std::string& role);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
