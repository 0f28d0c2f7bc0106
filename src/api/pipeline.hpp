#pragma once
// The request pipeline around the router, independent of the network layer: request id, client IP (proxy
// headers trusted only from TRUSTED_PROXIES), CORS, routing, authentication, rate limits, the handler, RFC 9457
// problem bodies for every error, security headers, metrics and the access log. Thread-safe.

#include <memory>
#include <string>
#include <vector>

#include "api/metrics.hpp"
#include "api/rate_limiter.hpp"
#include "api/router.hpp"
#include "api/server.hpp"
#include "core/config.hpp"

namespace imageproc::auth {
class JwtService;
}

namespace imageproc::api {

// RFC 9457 body for an error; `trace_id` ties it to the log line holding the internal detail.
nlohmann::json problem_body(const AppError& error, const std::string& trace_id);
Response problem_response(const AppError& error, const std::string& trace_id);

// Picks the client address: the peer, unless the peer is a trusted proxy, in which case the right-most
// X-Forwarded-For entry that is not itself a trusted proxy.
std::string resolve_client_ip(const std::string& peer_ip, std::optional<std::string_view> forwarded_for,
                              const std::vector<std::string>& trusted_proxies);

class Pipeline : public HttpHandler {
 public:
  Pipeline(Router router, const HttpConfig& http, const RateLimitConfig& limits, const auth::JwtService& jwt,
           Metrics& metrics);

  // From the matched route: its body_limit (else HttpConfig::max_json_body_bytes) and stream_body.
  BodyPolicy body_policy(std::string_view method, std::string_view path) const override;
  Response handle(Request& request) override;
  Response reject(Request& request, const AppError& error) override;

 private:
  Response dispatch(Request& request);
  void authenticate(Request& request, Access access) const;
  void apply_rate_limit(const Request& request, RateClass rate);
  void finish(Request& request, Response& response, std::chrono::steady_clock::time_point started);
  std::optional<std::string> allowed_origin(const Request& request) const;

  Router router_;
  const HttpConfig& http_;
  const auth::JwtService& jwt_;
  Metrics& metrics_;
  RateLimiter auth_limiter_;
  RateLimiter upload_limiter_;
  RateLimiter read_limiter_;
};

}  // namespace imageproc::api
