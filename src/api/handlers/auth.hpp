#pragma once
// /api/auth/*: register, login, refresh, logout, me. Glue between HTTP and auth::AccountService: read the JSON
// body, call the service, write the token response and the refresh cookie (HttpOnly, SameSite=Strict,
// Path=/api/auth, so scripts never see it and other paths never send it).

#include "api/http.hpp"
#include "api/router.hpp"
#include "auth/accounts.hpp"

namespace imageproc::api {

class AuthHandlers {
 public:
  static constexpr const char* kRefreshCookie = "imageproc_refresh";

  AuthHandlers(auth::AccountService& accounts, bool secure_cookie);
  void register_routes(Router& router);

  Response register_user(Request& request);
  Response login(Request& request);
  Response refresh(Request& request);
  Response logout(Request& request);
  Response me(Request& request);

 private:
  Response session_response(int status, const auth::AuthSession& session) const;
  std::string refresh_cookie(const std::string& value, std::chrono::seconds max_age) const;

  auth::AccountService& accounts_;
  bool secure_cookie_;
};

}  // namespace imageproc::api
