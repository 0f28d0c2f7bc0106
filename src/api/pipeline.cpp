#include "api/pipeline.hpp"

#include <algorithm>

#include "auth/jwt.hpp"
#include "core/ids.hpp"
#include "core/logging.hpp"

namespace imageproc::api {

nlohmann::json problem_body(const AppError& error, const std::string& trace_id) {
  nlohmann::json body = {
      {"type", error.field_errors().empty() ? "about:blank" : "urn:imageproc:problem:validation"},
      {"title", error.title()},
      {"status", error.status()},
      {"detail", error.detail()},
      {"traceId", trace_id},
  };
  if (!error.field_errors().empty()) body["errors"] = error.field_errors();
  return body;
}

Response problem_response(const AppError& error, const std::string& trace_id) {
  Response r = Response::json(error.status(), problem_body(error, trace_id));
  r.headers.set("Content-Type", "application/problem+json");
  if (auto retry = error.retry_after_seconds()) r.headers.set("Retry-After", std::to_string(*retry));
  if (error.status() == 401) r.headers.set("WWW-Authenticate", "Bearer");
  return r;
}

std::string resolve_client_ip(const std::string& peer_ip, std::optional<std::string_view> forwarded_for,
                              const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&](std::string_view ip) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), ip) != trusted_proxies.end();
  };
  if (!forwarded_for || !trusted(peer_ip)) return peer_ip;
  // Walk from the right: each hop appended the address it saw; stop at the first one we do not trust.
  std::string_view list = *forwarded_for;
  while (!list.empty()) {
    const auto comma = list.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) continue;
    if (!trusted(entry)) return std::string(entry);
  }
  return peer_ip;
}

Pipeline::Pipeline(Router router, const HttpConfig& http, const RateLimitConfig& limits,
                   const auth::JwtService& jwt, Metrics& metrics)
    : router_(std::move(router)),
      http_(http),
      jwt_(jwt),
      metrics_(metrics),
      auth_limiter_(limits.auth_per_minute),
      upload_limiter_(limits.upload_per_minute),
      read_limiter_(limits.read_per_minute) {}

HttpHandler::BodyPolicy Pipeline::body_policy(std::string_view method, std::string_view path) const {
  BodyPolicy policy{http_.max_json_body_bytes, false};
  const auto match = router_.match(method, path);
  if (!match.route) return policy;
  if (match.route->options.body_limit) policy.limit = *match.route->options.body_limit;
  policy.to_file = match.route->options.stream_body;
  return policy;
}

std::optional<std::string> Pipeline::allowed_origin(const Request& request) const {
  auto origin = request.headers.get("Origin");
  if (!origin) return std::nullopt;
  const auto& list = http_.cors_origins;
  if (std::find(list.begin(), list.end(), *origin) == list.end()) return std::nullopt;
  return std::string(*origin);
}

void Pipeline::authenticate(Request& request, Access access) const {
  if (access == Access::Public) return;
  auto header = request.headers.get("Authorization");
  if (!header || header->size() < 8 || !iequals(header->substr(0, 7), "Bearer ")) {
    throw errors::unauthorized("A bearer access token is required.");
  }
  try {
    const auto claims = jwt_.verify(header->substr(7), std::chrono::system_clock::now());
    request.principal = Principal{claims.subject, claims.role};
  } catch (const auth::JwtError& e) {
    throw AppError(401, status_title(401), "The access token is invalid or expired.",
                   std::string("jwt rejected: ") + e.what());
  }
  if (access == Access::Admin && !request.principal->is_admin()) {
    throw errors::forbidden("This endpoint is for administrators.");
  }
}

void Pipeline::apply_rate_limit(const Request& request, RateClass rate) {
  std::optional<int> wait;
  const std::string& user_key = request.principal ? request.principal->user_id : request.client_ip;
  switch (rate) {
    case RateClass::None: return;
    case RateClass::Auth: wait = auth_limiter_.acquire(request.client_ip); break;
    case RateClass::Upload: wait = upload_limiter_.acquire(user_key); break;
    case RateClass::Read: wait = read_limiter_.acquire(user_key); break;
  }
  if (wait) throw errors::too_many_requests(*wait);
}

Response Pipeline::dispatch(Request& request) {
  // CORS preflight: answered here, before routing and authentication.
  if (request.method == "OPTIONS" && request.headers.has("Access-Control-Request-Method")) {
    if (!allowed_origin(request)) throw errors::forbidden("This origin is not allowed.");
    Response r = Response::no_content();
    r.headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    r.headers.set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
    r.headers.set("Access-Control-Max-Age", "600");
    return r;
  }
  auto match = router_.match(request.method, request.path);
  if (!match.route) {
    if (!match.allowed_methods.empty()) {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      AppError e = errors::method_not_allowed();
      Response r = problem_response(e, request.request_id);
      r.headers.set("Allow", allow);
      return r;
    }
    throw errors::not_found("No resource exists at this path.");
  }
  request.route = match.route->pattern;
  request.path_params = std::move(match.params);
  authenticate(request, match.route->options.access);
  apply_rate_limit(request, match.route->options.rate);
  return match.route->handler(request);
}

Response Pipeline::handle(Request& request) {
  const auto started = std::chrono::steady_clock::now();
  auto incoming_id = request.headers.get("X-Request-Id");
  request.request_id = incoming_id && ids::is_acceptable_request_id(*incoming_id) ? std::string(*incoming_id)
                                                                                   : ids::new_request_id();
  request.client_ip =
      resolve_client_ip(request.peer_ip, request.headers.get("X-Forwarded-For"), http_.trusted_proxies);
  Response response;
  try {
    response = dispatch(request);
  } catch (const AppError& e) {
    if (e.status() >= 500 || !e.internal().empty()) {
      (e.status() >= 500 ? log::error : log::warn)(
          "request failed", {{"requestId", request.request_id}, {"status", e.status()}, {"detail", e.internal()}});
    }
    response = problem_response(e, request.request_id);
  } catch (const std::exception& e) {
    log::error("unhandled error", {{"requestId", request.request_id}, {"error", e.what()}});
    response = problem_response(errors::internal(e.what()), request.request_id);
  }
  finish(request, response, started);
  return response;
}

Response Pipeline::reject(Request& request, const AppError& error) {
  const auto started = std::chrono::steady_clock::now();
  if (request.request_id.empty()) request.request_id = ids::new_request_id();
  if (request.client_ip.empty()) request.client_ip = request.peer_ip;
  Response response = problem_response(error, request.request_id);
  if (error.status() == 413) {
    // Say which limit, in the route's own words ("The file exceeds the 50 MiB limit.").
    const auto match = router_.match(request.method, request.path);
    if (match.route && !match.route->options.too_large_message.empty()) {
      response = problem_response(errors::payload_too_large(match.route->options.too_large_message),
                                  request.request_id);
    }
  }
  response.headers.set("Connection", "close");
  finish(request, response, started);
  return response;
}

void Pipeline::finish(Request& request, Response& response, std::chrono::steady_clock::time_point started) {
  auto& h = response.headers;
  h.set("X-Request-Id", request.request_id);
  h.set("X-Content-Type-Options", "nosniff");
  h.set("X-Frame-Options", "DENY");
  h.set("Referrer-Policy", "no-referrer");
  h.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()");
  if (!h.has("Content-Security-Policy")) {
    h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
  if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  if (auto origin = allowed_origin(request)) {
    h.set("Access-Control-Allow-Origin", *origin);
    h.set("Access-Control-Allow-Credentials", "true");
    h.set("Access-Control-Expose-Headers", "Location, Retry-After, X-Request-Id");
    h.add("Vary", "Origin");
  }
  // For a stream this is logged when it starts: the duration is the time to the first byte, and the
  // length is unknown (a stream may stay open for hours; waiting for its end would hide the request).
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe_request(request.route, request.method, response.status, seconds);
  nlohmann::json fields = {{"requestId", request.request_id}, {"method", request.method},
                           {"path", request.path},            {"status", response.status},
                           {"durationMs", seconds * 1000.0},  {"clientIp", request.client_ip}};
  if (response.stream) {
    fields["stream"] = true;
  } else {
    fields["bytes"] = response.body.size();
  }
  if (request.principal) fields["userId"] = request.principal->user_id;
  log::info("request", fields);
}

}  // namespace imageproc::api
