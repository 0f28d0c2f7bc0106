#include "api/handlers/auth.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/text.hpp"

namespace imageproc::api {
namespace {

// Reads an optional string field; a present non-string value is a validation error for that field.
std::string string_field(const nlohmann::json& body, const char* name, FieldErrors& problems) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) {
    problems[name].push_back(fmt::format("{} must be a string.", name));
    return {};
  }
  return it->get<std::string>();
}

}  // namespace

AuthHandlers::AuthHandlers(auth::AccountService& accounts, bool secure_cookie)
    : accounts_(accounts), secure_cookie_(secure_cookie) {}

void AuthHandlers::register_routes(Router& router) {
  const RouteOptions public_auth{Access::Public, RateClass::Auth, std::nullopt};
  router.add(
      "POST", "/api/auth/register", [this](Request& r) { return register_user(r); }, public_auth);
  router.add(
      "POST", "/api/auth/login", [this](Request& r) { return login(r); }, public_auth);
  router.add(
      "POST", "/api/auth/refresh", [this](Request& r) { return refresh(r); }, public_auth);
  router.add(
      "POST", "/api/auth/logout", [this](Request& r) { return logout(r); }, public_auth);
  router.add("GET", "/api/auth/me", [this](Request& r) { return me(r); },
             {Access::User, RateClass::Read, {}});
}

std::string AuthHandlers::refresh_cookie(const std::string& value, std::chrono::seconds max_age) const {
  return fmt::format("{}={}; Path=/api/auth; Max-Age={}; HttpOnly; SameSite=Strict{}", kRefreshCookie, value,
                     max_age.count(), secure_cookie_ ? "; Secure" : "");
}

Response AuthHandlers::session_response(int status, const auth::AuthSession& s) const {
  Response r = Response::json(status, {{"token", s.access.token},
                                       {"expiresAt", text::rfc3339(s.access.expires_at)},
                                       {"email", s.user.email},
                                       {"name", s.user.name},
                                       {"userId", s.user.id}});
  r.headers.add("Set-Cookie", refresh_cookie(s.refresh_token, accounts_.refresh_ttl()));
  return r;
}

Response AuthHandlers::register_user(Request& request) {
  const auto body = request.json_body();
  FieldErrors problems;
  const auto name = string_field(body, "name", problems);
  const auto email = string_field(body, "email", problems);
  const auto password = string_field(body, "password", problems);
  if (!problems.empty()) throw errors::validation(std::move(problems));
  const auto session = accounts_.register_user(name, email, password);
  Response r = session_response(201, session);
  r.headers.set("Location", "/api/auth/me");
  return r;
}

Response AuthHandlers::login(Request& request) {
  const auto body = request.json_body();
  FieldErrors problems;
  const auto email = string_field(body, "email", problems);
  const auto password = string_field(body, "password", problems);
  if (email.empty()) problems["email"].push_back("Email is required.");
  if (password.empty()) problems["password"].push_back("Password is required.");
  if (!problems.empty()) throw errors::validation(std::move(problems));
  return session_response(200, accounts_.login(email, password));
}

Response AuthHandlers::refresh(Request& request) {
  return session_response(200, accounts_.refresh(request.cookie(kRefreshCookie).value_or("")));
}

Response AuthHandlers::logout(Request& request) {
  accounts_.logout(request.cookie(kRefreshCookie).value_or(""));
  Response r = Response::no_content();
  r.headers.add("Set-Cookie", refresh_cookie("", std::chrono::seconds(0)));
  return r;
}

Response AuthHandlers::me(Request& request) {
  const auto user = accounts_.profile(request.principal->user_id);
  return Response::json(200, {{"userId", user.id},
                              {"email", user.email},
                              {"name", user.name},
                              {"role", user.role},
                              {"createdAt", user.created_at}});
}

}  // namespace imageproc::api
