#include "api/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>
#include <vector>

#include "core/logging.hpp"

namespace imageproc::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct HttpServer::Impl {
  Impl(ServerOptions o, HttpHandler& h)
      : options(std::move(o)),
        handler(h),
        ioc(options.io_threads),
        handler_pool(static_cast<std::size_t>(options.handler_threads)),
        acceptor(ioc),
        signals(ioc, SIGINT, SIGTERM),
        drain_timer(ioc) {}

  ServerOptions options;
  HttpHandler& handler;
  asio::io_context ioc;
  asio::thread_pool handler_pool;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::atomic<int> connections{0};

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket socket);
  asio::awaitable<bool> write(beast::tcp_stream& stream, Request& req, Response res, unsigned version,
                              bool keep_alive);
  void begin_drain();
  void poll_drain(std::chrono::steady_clock::time_point deadline);
};

namespace {

Request make_request(const http::request_header<>& header, const std::string& peer) {
  Request req;
  req.method = std::string(header.method_string());
  req.target = std::string(header.target());
  const auto q = req.target.find('?');
  req.path = percent_decode(std::string_view(req.target).substr(0, q), false);
  if (q != std::string::npos) req.query = parse_query(std::string_view(req.target).substr(q + 1));
  for (const auto& field : header) {
    req.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  req.peer_ip = peer;
  return req;
}

}  // namespace

asio::awaitable<bool> HttpServer::Impl::write(beast::tcp_stream& stream, Request& req, Response res,
                                              unsigned version, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(res.status), version};
  for (const auto& [name, value] : res.headers.items()) out.insert(name, value);
  keep_alive = keep_alive && !draining.load();
  out.keep_alive(keep_alive);
  const bool head = req.method == "HEAD";
  if (head) {
    out.content_length(res.body.size());
  } else {
    out.body() = std::move(res.body);
    out.prepare_payload();
  }
  error_code ec;
  stream.expires_after(options.body_timeout);
  co_await http::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec && keep_alive;
}

asio::awaitable<void> HttpServer::Impl::session(tcp::socket socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  std::string peer = ec ? std::string("unknown") : endpoint.address().to_string();
  if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  bool first = true;

  for (;;) {
    // Waiting for the next request on a kept-alive connection uses the idle timeout; once its first bytes
    // arrive the whole header must follow within the header timeout (slow-loris protection).
    if (buffer.size() == 0) {
      stream.expires_after(first ? options.header_timeout : options.idle_timeout);
      const std::size_t n =
          co_await stream.async_read_some(buffer.prepare(8192), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buffer.commit(n);
    }
    first = false;

    auto parser = std::make_unique<http::request_parser<http::string_body>>();
    parser->header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    // Beast's default body limit (1 MiB) would be checked against Content-Length while reading the headers,
    // before we know the route; lift it here and apply the route's own limit below.
    parser->body_limit(boost::none);
    stream.expires_after(options.header_timeout);
    co_await http::async_read_header(stream, buffer, *parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::connection_reset) {
        break;
      }
      Request bad;
      bad.method = "GET";
      bad.path = "/";
      bad.peer_ip = peer;
      const auto error = ec == http::error::header_limit
                             ? AppError(431, status_title(431), "The request headers are too large.")
                             : errors::bad_request("The request is not valid HTTP/1.1.");
      co_await write(stream, bad, handler.reject(bad, error), 11, false);
      break;
    }

    auto& header = parser->get();
    Request req = make_request(header, peer);
    const unsigned version = header.version();
    const bool keep_alive = header.keep_alive();
    in_flight.fetch_add(1);
    struct InFlight {
      std::atomic<int>& n;
      ~InFlight() { n.fetch_sub(1); }
    } guard{in_flight};

    const std::size_t limit = handler.body_limit(req.method, req.path);
    if (parser->content_length() && *parser->content_length() > limit) {
      co_await write(stream, req, handler.reject(req, errors::payload_too_large(
                                                          "The request body exceeds the allowed size.")),
                     version, false);
      break;
    }
    parser->body_limit(limit);
    if (!parser->is_done()) {
      if (auto expect = header[http::field::expect]; beast::iequals(expect, "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, version};
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      stream.expires_after(options.body_timeout);
      co_await http::async_read(stream, buffer, *parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        AppError error = ec == http::error::body_limit
                             ? errors::payload_too_large("The request body exceeds the allowed size.")
                         : ec == beast::error::timeout
                             ? AppError(408, status_title(408), "The request body was not received in time.")
                             : errors::bad_request("The request body is malformed.");
        if (ec != asio::error::eof && ec != asio::error::connection_reset) {
          co_await write(stream, req, handler.reject(req, error), version, false);
        }
        break;
      }
    }
    req.body = std::move(parser->get().body());

    // Hand the request to the handler pool; resume on this connection's strand afterwards.
    Response res = co_await asio::co_spawn(
        handler_pool, [&]() -> asio::awaitable<Response> { co_return handler.handle(req); },
        asio::use_awaitable);
    if (!co_await write(stream, req, std::move(res), version, keep_alive)) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    error_code ec;
    tcp::socket socket(asio::make_strand(ioc));
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors or similar: back off instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(ioc, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (connections.load() >= options.max_connections) {
      log::warn("connection limit reached; closing new connection", {{"limit", options.max_connections}});
      socket.close(ec);
      continue;
    }
    connections.fetch_add(1);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket)), [this](std::exception_ptr e) {
      connections.fetch_sub(1);
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("connection failed", {{"error", ex.what()}});
      }
    });
  }
}

void HttpServer::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  log::info("shutting down: draining in-flight requests",
            {{"inFlight", in_flight.load()}, {"graceSeconds", options.shutdown_grace.count()}});
  error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  poll_drain(std::chrono::steady_clock::now() + options.shutdown_grace);
}

void HttpServer::Impl::poll_drain(std::chrono::steady_clock::time_point deadline) {
  if (in_flight.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (in_flight.load() != 0) log::warn("drain timed out", {{"inFlight", in_flight.load()}});
    ioc.stop();
    return;
  }
  drain_timer.expires_after(std::chrono::milliseconds(25));
  drain_timer.async_wait([this, deadline](error_code) { poll_drain(deadline); });
}

HttpServer::HttpServer(ServerOptions options, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

HttpServer::~HttpServer() {
  impl_->handler_pool.join();
}

void HttpServer::listen() {
  auto& s = *impl_;
  tcp::resolver resolver(s.ioc);
  error_code ec;
  auto results = resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve IMAGEPROC_HTTP_ADDR host '" + s.options.host + "': " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) + ": " +
                             ec.message());
  }
  s.acceptor.listen(asio::socket_base::max_listen_connections);
}

std::uint16_t HttpServer::bound_port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  auto& s = *impl_;
  s.signals.async_wait([&s](error_code ec, int) {
    if (!ec) s.begin_drain();
  });
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < s.options.io_threads; ++i) threads.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : threads) t.join();
  s.handler_pool.join();
}

void HttpServer::stop() {
  asio::post(impl_->ioc, [this] { impl_->begin_drain(); });
}

}  // namespace imageproc::api
