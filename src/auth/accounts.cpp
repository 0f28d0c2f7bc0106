#include "auth/accounts.hpp"
#include "core/text.hpp"

#include "auth/validation.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/logging.hpp"

namespace imageproc::auth {
namespace {

AppError invalid_credentials() { return errors::unauthorized("Invalid email or password."); }
AppError invalid_refresh() { return errors::unauthorized("The session has expired; please sign in again."); }

}  // namespace

AccountService::AccountService(db::UserRepository& users, db::RefreshTokenRepository& tokens,
                               const PasswordHasher& hasher, const JwtService& jwt,
                               std::chrono::seconds refresh_ttl)
    : users_(users), tokens_(tokens), hasher_(hasher), jwt_(jwt), refresh_ttl_(refresh_ttl) {}

AuthSession AccountService::start_session(const db::UserRecord& user, const std::string& family_id) {
  AuthSession s;
  s.user = user;
  s.access = jwt_.issue(user.id, user.role, std::chrono::system_clock::now());
  s.refresh_token = crypto::random_token(32);
  tokens_.insert({ids::new_uuid(), user.id, family_id, crypto::sha256_hex(s.refresh_token), refresh_ttl_.count()});
  return s;
}

AuthSession AccountService::register_user(const std::string& name, const std::string& email,
                                          const std::string& password) {
  if (auto problems = validate_registration(name, email, password); !problems.empty()) {
    throw errors::validation(std::move(problems));
  }
  const std::string normalised = normalize_email(email);
  auto user = users_.create(ids::new_uuid(), normalised, text::trim(name), hasher_.hash(password));
  if (!user) throw errors::conflict("An account with this email already exists.");
  log::info("user registered", {{"userId", user->id}});
  return start_session(*user, ids::new_uuid());
}

AuthSession AccountService::login(const std::string& email, const std::string& password) {
  const std::string normalised = normalize_email(email);
  auto user = normalised.empty() ? std::nullopt : users_.find_by_email(normalised);
  if (!user) {
    hasher_.verify_against_dummy(password);  // same cost as a real check: no account enumeration by timing
    throw invalid_credentials();
  }
  if (!hasher_.verify(password, user->password_hash)) throw invalid_credentials();
  if (hasher_.needs_rehash(user->password_hash)) users_.update_password_hash(user->id, hasher_.hash(password));
  users_.record_login(user->id);
  return start_session(*user, ids::new_uuid());
}

AuthSession AccountService::refresh(const std::string& refresh_token) {
  if (refresh_token.empty()) throw invalid_refresh();
  auto record = tokens_.find_by_hash(crypto::sha256_hex(refresh_token));
  if (!record) throw invalid_refresh();
  if (record->revoked) {
    const int revoked = tokens_.revoke_family(record->family_id);
    log::warn("refresh token reuse detected; family revoked",
              {{"userId", record->user_id}, {"familyId", record->family_id}, {"revoked", revoked}});
    throw invalid_refresh();
  }
  if (record->expired) throw invalid_refresh();
  auto user = users_.find_by_id(record->user_id);
  if (!user) throw invalid_refresh();

  AuthSession s;
  s.user = *user;
  s.refresh_token = crypto::random_token(32);
  const db::NewRefreshToken next{ids::new_uuid(), user->id, record->family_id,
                                 crypto::sha256_hex(s.refresh_token), refresh_ttl_.count()};
  if (!tokens_.rotate(record->id, next)) {
    // Another request rotated this token first: the same token was used twice.
    tokens_.revoke_family(record->family_id);
    log::warn("concurrent refresh token reuse; family revoked", {{"userId", user->id}});
    throw invalid_refresh();
  }
  s.access = jwt_.issue(user->id, user->role, std::chrono::system_clock::now());
  return s;
}

void AccountService::logout(const std::string& refresh_token) {
  if (refresh_token.empty()) return;
  if (auto record = tokens_.find_by_hash(crypto::sha256_hex(refresh_token))) {
    tokens_.revoke_family(record->family_id);
  }
}

db::UserRecord AccountService::profile(const std::string& user_id) {
  auto user = users_.find_by_id(user_id);
  if (!user) throw errors::unauthorized("The account no longer exists.");
  return *user;
}

}  // namespace imageproc::auth
