#pragma once
// The HTTP/1.1 server: Boost.Beast over Asio with C++20 coroutines. This header and server.cpp are the only
// places that know about Beast. The network threads only parse and write; every request is handed to a bounded
// pool of handler threads (database work and password hashing block), so a slow query never stalls the
// network loop. Bodies of routes that ask for it are spooled to a temp file in 64 KiB pieces (memory per upload
// is constant); streamed responses (Response::stream) are sent chunked and close the connection afterwards.
// Timeouts: headers, body and keep-alive idle time. SIGINT/SIGTERM drain gracefully: stop accepting, let
// in-flight requests finish (up to the grace period), tell open streams to end, then return from run().

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/http.hpp"
#include "core/errors.hpp"

namespace imageproc::api {

// What the server calls. Implementations must be thread-safe: requests are handled concurrently.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // How to read this request's body, decided from the headers before reading it.
  struct BodyPolicy {
    std::size_t limit = 0;  // the largest body accepted (413 beyond, checked while reading)
    bool to_file = false;   // spool to a temp file (Request::body_file) instead of memory (Request::body)
  };
  virtual BodyPolicy body_policy(std::string_view method, std::string_view path) const = 0;
  // Handles a complete request. Must not throw.
  virtual Response handle(Request& request) = 0;
  // Builds the response for a request the network layer refused (body too large, malformed, too slow).
  virtual Response reject(Request& request, const AppError& error) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port (see bound_port())
  int io_threads = 2;
  int handler_threads = 8;
  int max_connections = 1024;  // open connections; past it new ones are closed immediately (bounded memory)
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds idle_timeout{75};
  std::chrono::seconds shutdown_grace{20};
  std::string temp_dir;  // where streamed request bodies are spooled ("" = the system temp directory)
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, HttpHandler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket (throws with a clear message if the address is taken).
  void listen();
  std::uint16_t bound_port() const;
  // Serves until SIGINT/SIGTERM or stop(); then drains and returns.
  void run();
  // Thread-safe; may be called from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imageproc::api
