#pragma once
// Account rules (DESIGN §4): registration, login without account enumeration, refresh-token rotation with reuse
// detection, logout. Plain domain code over the repositories; the HTTP glue lives in api/handlers/auth.cpp.
// Errors are AppErrors carrying the status a client should see. Thread-safe.

#include <chrono>
#include <string>

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "db/refresh_tokens.hpp"
#include "db/users.hpp"

namespace imageproc::auth {

struct AuthSession {
  IssuedToken access;
  std::string refresh_token;  // the raw token for the cookie; only its hash is stored
  db::UserRecord user;
};

class AccountService {
 public:
  AccountService(db::UserRepository& users, db::RefreshTokenRepository& tokens, const PasswordHasher& hasher,
                 const JwtService& jwt, std::chrono::seconds refresh_ttl);

  // 400 with field errors when invalid; 409 when the (normalised) email is taken.
  AuthSession register_user(const std::string& name, const std::string& email, const std::string& password);
  // 401 "Invalid email or password." for an unknown email and a wrong password alike; both cost one Argon2id run.
  AuthSession login(const std::string& email, const std::string& password);
  // Rotates: the presented token is revoked and a successor issued in the same family. Presenting a revoked
  // token is treated as theft: the whole family is revoked. 401 for anything unknown, expired or revoked.
  AuthSession refresh(const std::string& refresh_token);
  // Revokes the token's family (this sign-in on every tab). Unknown tokens are ignored.
  void logout(const std::string& refresh_token);
  // 401 when the account no longer exists.
  db::UserRecord profile(const std::string& user_id);

  std::chrono::seconds refresh_ttl() const { return refresh_ttl_; }

 private:
  AuthSession start_session(const db::UserRecord& user, const std::string& family_id);

  db::UserRepository& users_;
  db::RefreshTokenRepository& tokens_;
  const PasswordHasher& hasher_;
  const JwtService& jwt_;
  std::chrono::seconds refresh_ttl_;
};

}  // namespace imageproc::auth
