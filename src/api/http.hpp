#pragma once
// Plain HTTP request/response values shared by the router, middleware and handlers. No Beast/Asio here: the
// network layer (server.cpp) converts to and from these, so handlers are ordinary functions that tests can call.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace imageproc::api {

// Header list with case-insensitive lookup; keeps order and duplicates (Set-Cookie).
class Headers {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  void set(std::string name, std::string value);  // replaces every header of that name
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool iequals(std::string_view a, std::string_view b);

// The authenticated caller, set by the auth middleware from a verified access token.
struct Principal {
  std::string user_id;
  std::string role;
  bool is_admin() const { return role == "admin"; }
};

struct Request {
  std::string method;       // upper-case, e.g. "GET"
  std::string target;       // as received: path + query
  std::string path;         // decoded path without the query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  Headers headers;
  std::string body;
  std::string peer_ip;      // the TCP peer
  std::string client_ip;    // the peer, or X-Forwarded-For's client when the peer is a trusted proxy
  std::string request_id;   // from a valid X-Request-Id or generated
  std::map<std::string, std::string> path_params;  // filled by the router: "/api/images/{id}" → {"id", ...}
  std::string route;        // the matched route pattern (metrics label); "" when none matched
  std::optional<Principal> principal;

  std::optional<std::string> query_param(std::string_view name) const;
  std::optional<std::string> cookie(std::string_view name) const;
  const std::string& param(const std::string& name) const { return path_params.at(name); }
  // Parses the body as a JSON object; throws a 400 AppError (never a parser exception) otherwise.
  nlohmann::json json_body() const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response json(int status, const nlohmann::json& body);
  static Response no_content();
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space). Malformed escapes are kept literally.
std::multimap<std::string, std::string> parse_query(std::string_view query);
std::string percent_decode(std::string_view s, bool plus_as_space);

}  // namespace imageproc::api
