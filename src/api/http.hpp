#pragma once
// Plain HTTP request/response values shared by the router, middleware and handlers. No Beast/Asio here: the
// network layer (server.cpp) converts to and from these, so handlers are ordinary functions that tests can call.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/temp_file.hpp"

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
  std::string body;         // in memory, for ordinary routes
  // For routes with RouteOptions::stream_body: the body as received, spooled to a temporary file by the
  // server (never held in memory; `body` stays empty). Always set for such routes (an empty file when there
  // is no body), null otherwise. The file is removed when the last reference goes.
  std::shared_ptr<const TempFile> body_file;
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

// A response body produced over time (Server-Sent Events). The server writes the status and headers, then
// sends what take() returns as it becomes available, chunked, until take() returns nullopt, the client goes
// or the server drains; then the connection closes. The request no longer counts as in flight once streaming.
// Handler threads never block on it: the producer calls the `wake` function given to start() and the network
// thread then calls take().
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Called once by the network thread before anything else. `wake` may be called from any thread, any number
  // of times, also after the stream ended.
  virtual void start(std::function<void()> wake) = 0;
  // Non-blocking: the bytes to send now ("" when nothing is pending), or nullopt when the stream is over.
  virtual std::optional<std::string> take() = 0;
  // Sent after idle_interval() without other output (an SSE comment keeps proxies from closing the stream).
  virtual std::string idle_chunk() = 0;
  virtual std::chrono::milliseconds idle_interval() const = 0;
  // The stream is over: it ended, the client went away or the server is shutting down. Called exactly once
  // for every stream the server goes on to send, by the network thread (or the thread destroying the server),
  // also when start() was never called (HEAD, the client left before the headers went out). Must not block.
  virtual void stop() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::shared_ptr<ResponseStream> stream;  // when set, `body` is ignored and the stream is sent instead

  static Response json(int status, const nlohmann::json& body);
  static Response no_content();
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space). Malformed escapes are kept literally.
std::multimap<std::string, std::string> parse_query(std::string_view query);
std::string percent_decode(std::string_view s, bool plus_as_space);

}  // namespace imageproc::api
