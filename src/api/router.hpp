#pragma once
// Maps (method, path) to a handler. Patterns are literal segments, `{name}` (one segment) and a trailing
// `{name...}` (the rest of the path). A literal segment wins over a parameter. An optional GET fallback takes
// the GET/HEAD requests whose path no route has (the web app's SPA fallback), so a wrong method on an API
// path stays a 405 and other methods on unknown paths stay 404s. Immutable once the server runs, so matching
// is thread-safe without locks.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.hpp"

namespace imageproc::api {

// The non-empty segments of a path ("/a//b/" → {"a", "b"}), as the router matches them.
std::vector<std::string> split_path(std::string_view path);

enum class Access { Public, User, Admin };
// Which token bucket a route draws from (DESIGN §4): auth per client IP, upload and reads per user.
enum class RateClass { None, Auth, Upload, Read };

struct RouteOptions {
  Access access = Access::Public;
  RateClass rate = RateClass::None;
  std::optional<std::size_t> body_limit;  // bytes; the server's JSON default when unset
  bool stream_body = false;               // spool the body to a temp file (uploads), see Request::body_file
  std::string too_large_message;          // 413 detail when the body exceeds body_limit ("" = generic)
};

using Handler = std::function<Response(Request&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  Handler handler;
  RouteOptions options;
};

struct RouteMatch {
  const Route* route = nullptr;  // set when found
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed_methods;  // set when the path exists but not for this method
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  // Serves GET (and HEAD) requests whose path matches no route for any method; its `{path...}` parameter is
  // the whole path without the leading slash ("" for "/"). `pattern` is the route label (metrics, logs).
  void set_get_fallback(std::string pattern, Handler handler, RouteOptions options = {});
  // HEAD falls back to GET routes.
  RouteMatch match(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
  std::optional<Route> get_fallback_;
};

}  // namespace imageproc::api
