#include "api/server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/logging.hpp"
#include "core/temp_file.hpp"

namespace imageproc::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Streamed request bodies go to disk in pieces of this size: memory per upload stays constant.
constexpr std::size_t kSpoolChunkBytes = 64 * 1024;
// How often an idle response stream looks at the drain flag, in case a wake-up was missed.
constexpr std::chrono::seconds kStreamDrainCheck{1};
// How long a drain waits for open response streams to send their last chunk before stopping anyway.
constexpr std::chrono::seconds kStreamDrainGrace{2};
// Bounds on reading and discarding what a refused client is still sending (see linger_and_close()).
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 64 * 1024 * 1024;

// Wakes one streaming response from any thread by cancelling its timer on the connection's strand. Rings
// after close() are ignored, so a producer may keep and call the wake function after the stream (or the
// server) is gone; close() also drops the executor, which must not outlive the io_context.
class Doorbell {
 public:
  Doorbell(asio::any_io_executor strand, std::weak_ptr<asio::steady_timer> timer)
      : strand_(std::move(strand)), timer_(std::move(timer)) {}

  void ring() {
    std::lock_guard lock(mutex_);
    if (!strand_) return;
    asio::post(*strand_, [timer = timer_] {
      if (auto t = timer.lock()) t->cancel();
    });
  }

  void close() {
    std::lock_guard lock(mutex_);
    strand_.reset();
  }

 private:
  std::mutex mutex_;
  std::optional<asio::any_io_executor> strand_;
  std::weak_ptr<asio::steady_timer> timer_;
};

// An append-only descriptor for the upload spool.
class SpoolWriter {
 public:
  explicit SpoolWriter(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC)) {
    if (fd_ < 0) fail("open");
  }
  ~SpoolWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  void write(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write");
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  // Reports a failed close (a full disk can surface only here on some file systems).
  void close() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close");
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    throw std::system_error(errno, std::generic_category(), std::string("upload spool ") + what);
  }
  int fd_;
};

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

// Cuts off a body read that takes too long by cancelling it, leaving the socket open so the 408 can still be
// sent (tcp_stream's own timeout closes the socket). Must be created and destroyed on the connection's
// strand, where its timer fires: a firing after destruction finds `finished` set and does nothing.
class BodyDeadline {
 public:
  BodyDeadline(beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout)
      : timer_(stream.get_executor(), timeout), state_(std::make_shared<State>()) {
    timer_.async_wait([state = state_, socket = &stream.socket()](error_code ec) {
      if (ec || state->finished) return;
      state->expired = true;
      socket->cancel(ec);
    });
  }
  ~BodyDeadline() { state_->finished = true; }
  BodyDeadline(const BodyDeadline&) = delete;
  BodyDeadline& operator=(const BodyDeadline&) = delete;
  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool finished = false;
    bool expired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

// Why a request body could not be read.
struct BodyFailure {
  error_code network;       // from the client side: limit, timeout, malformed, gone
  std::string spool_error;  // writing the temp file failed (set instead of `network`)
};

// The response for a failed body read; nullopt when the client is gone and nothing can be sent.
std::optional<AppError> body_failure_error(const BodyFailure& failure) {
  if (!failure.spool_error.empty()) return errors::internal(failure.spool_error);
  const auto& ec = failure.network;
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == http::error::partial_message) {
    return std::nullopt;
  }
  if (ec == http::error::body_limit)
    return errors::payload_too_large("The request body exceeds the allowed size.");
  if (ec == beast::error::timeout) {
    return AppError(408, status_title(408), "The request body was not received in time.");
  }
  return errors::bad_request("The request body is malformed.");
}

// Counts a request as in flight (the drain waits for it) until released or destroyed.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& count) : count_(&count) { count_->fetch_add(1); }
  ~InFlight() { release(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  void release() {
    if (count_ != nullptr) count_->fetch_sub(1);
    count_ = nullptr;
  }

 private:
  std::atomic<int>* count_;
};

// Closes a connection whose request was refused before its body was read. Closing at once, with the body
// still arriving, makes the kernel reset the connection, and clients then tend to report a failed send
// instead of our 413/408/400. So: send FIN, then read and discard until the client closes, within bounds.
asio::awaitable<void> linger_and_close(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::vector<char> sink(kSpoolChunkBytes);
  for (std::size_t discarded = 0; !ec && discarded < kLingerBytes;) {
    discarded +=
        co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

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
  // Declared before the io_context: session coroutines still pending when the server is destroyed are
  // destroyed with it, and their guards touch these.
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::atomic<int> connections{0};
  std::mutex streams_mutex;
  std::set<std::shared_ptr<Doorbell>> open_streams;  // rung when the drain begins

  asio::io_context ioc;
  asio::thread_pool handler_pool;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket socket);
  asio::awaitable<std::optional<BodyFailure>> read_body_to_file(
      beast::tcp_stream& stream, beast::flat_buffer& buffer,
      http::request_parser<http::string_body>& header_parser, std::size_t limit, Request& req);
  asio::awaitable<bool> write(beast::tcp_stream& stream, Request& req, Response res, unsigned version,
                              bool keep_alive);
  asio::awaitable<void> write_stream(beast::tcp_stream& stream, const Request& req, Response res,
                                     unsigned version);
  std::size_t open_stream_count();
  void begin_drain();
  void poll_drain(std::chrono::steady_clock::time_point deadline,
                  std::chrono::steady_clock::time_point streams_deadline);
};

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

asio::awaitable<void> HttpServer::Impl::write_stream(beast::tcp_stream& stream, const Request& req,
                                                     Response res, unsigned version) {
  ResponseStream& source = *res.stream;
  auto timer = std::make_shared<asio::steady_timer>(stream.get_executor());
  auto doorbell = std::make_shared<Doorbell>(stream.get_executor(), timer);
  {
    std::lock_guard lock(streams_mutex);
    open_streams.insert(doorbell);
  }
  // Runs however this ends (end of stream, client gone, drain, or the coroutine destroyed with the server):
  // later wake-ups are ignored, and the producer hears stop() exactly once.
  struct StopGuard {
    Impl& server;
    std::shared_ptr<Doorbell> doorbell;
    ResponseStream& source;
    ~StopGuard() {
      doorbell->close();
      {
        std::lock_guard lock(server.streams_mutex);
        server.open_streams.erase(doorbell);
      }
      source.stop();
    }
  } guard{*this, doorbell, source};

  // HTTP/1.0 has no chunked encoding: the body then simply ends when the connection closes.
  const bool chunked = version >= 11;
  http::response<http::empty_body> head{static_cast<http::status>(res.status), version};
  for (const auto& [name, value] : res.headers.items()) head.insert(name, value);
  head.erase(http::field::content_length);
  head.erase(http::field::transfer_encoding);
  head.chunked(chunked);
  head.keep_alive(false);
  http::response_serializer<http::empty_body> serializer{head};
  error_code ec;
  stream.expires_after(options.body_timeout);
  co_await http::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  if (ec || req.method == "HEAD") co_return;

  auto send = [&](const std::string& piece) -> asio::awaitable<bool> {
    error_code write_ec;
    stream.expires_after(options.body_timeout);
    if (chunked) {
      co_await asio::async_write(stream, http::make_chunk(asio::buffer(piece)),
                                 asio::redirect_error(asio::use_awaitable, write_ec));
    } else {
      co_await asio::async_write(stream, asio::buffer(piece),
                                 asio::redirect_error(asio::use_awaitable, write_ec));
    }
    co_return !write_ec;
  };

  source.start([doorbell] { doorbell->ring(); });
  auto last_output = std::chrono::steady_clock::now();
  for (;;) {
    if (draining.load()) break;
    // take() before waiting: a wake-up posted while we were writing has already cancelled nothing, so
    // whatever it announced must be picked up here. Both run on this strand, so none is lost in between.
    std::optional<std::string> piece = source.take();
    if (!piece) break;
    const auto now = std::chrono::steady_clock::now();
    if (piece->empty()) {
      const auto idle_at = last_output + source.idle_interval();
      if (now < idle_at) {
        timer->expires_at(std::min(idle_at, now + kStreamDrainCheck));
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      piece = source.idle_chunk();
    }
    // An empty chunk would be read as the end of the body.
    if (!piece->empty() && !co_await send(*piece)) co_return;  // the client is gone
    last_output = std::chrono::steady_clock::now();
  }
  if (chunked) {
    stream.expires_after(options.body_timeout);
    co_await asio::async_write(stream, http::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<std::optional<BodyFailure>> HttpServer::Impl::read_body_to_file(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    http::request_parser<http::string_body>& header_parser, std::size_t limit, Request& req) {
  // Until handed to the request, the file is owned here: every early return removes it.
  std::optional<TempFile> spool;
  std::optional<SpoolWriter> writer;
  try {
    spool.emplace(TempFile::create(scratch_directory(options.temp_dir), "upload-"));
    writer.emplace(spool->path());
  } catch (const std::exception& e) {
    co_return BodyFailure{{}, e.what()};
  }
  // A parser that has read only the header can change its body type: the buffer body hands each piece of
  // the body to us instead of collecting it.
  http::request_parser<http::buffer_body> parser(std::move(header_parser));
  parser.body_limit(limit);
  std::vector<char> chunk(kSpoolChunkBytes);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    // need_buffer only says our piece is full.
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return BodyFailure{ec, {}};
    try {
      writer->write(chunk.data(), chunk.size() - parser.get().body().size);
    } catch (const std::exception& e) {
      co_return BodyFailure{{}, e.what()};
    }
  }
  try {
    writer->close();
  } catch (const std::exception& e) {
    co_return BodyFailure{{}, e.what()};
  }
  req.body_file = std::make_shared<const TempFile>(std::move(*spool));
  co_return std::nullopt;
}

asio::awaitable<void> HttpServer::Impl::session(tcp::socket socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  std::string peer = ec ? std::string("unknown") : endpoint.address().to_string();
  if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  bool first = true;
  bool refused = false;  // answered with an error before the request was read whole

  for (;;) {
    // Waiting for the next request on a kept-alive connection uses the idle timeout; once its first bytes
    // arrive the whole header must follow within the header timeout (slow-loris protection).
    if (buffer.size() == 0) {
      stream.expires_after(first ? options.header_timeout : options.idle_timeout);
      const std::size_t n = co_await stream.async_read_some(buffer.prepare(8192),
                                                            asio::redirect_error(asio::use_awaitable, ec));
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
      refused = true;
      break;
    }

    const auto& header = parser->get();
    Request req = make_request(header, peer);
    const unsigned version = header.version();
    const bool keep_alive = header.keep_alive();
    const bool expects_continue = beast::iequals(header[http::field::expect], "100-continue");
    InFlight in_flight_guard(in_flight);

    const auto policy = handler.body_policy(req.method, req.path);
    if (parser->content_length() && *parser->content_length() > policy.limit) {
      co_await write(
          stream, req,
          handler.reject(req, errors::payload_too_large("The request body exceeds the allowed size.")),
          version, false);
      refused = true;
      break;
    }
    if (!parser->is_done() && expects_continue) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    std::optional<BodyFailure> failure;
    {
      // One deadline for the whole body, however it is read.
      stream.expires_never();
      BodyDeadline deadline(stream, options.body_timeout);
      if (policy.to_file) {
        failure = co_await read_body_to_file(stream, buffer, *parser, policy.limit, req);
      } else {
        parser->body_limit(policy.limit);
        if (!parser->is_done()) {
          co_await http::async_read(stream, buffer, *parser, asio::redirect_error(asio::use_awaitable, ec));
          if (ec) failure = BodyFailure{ec, {}};
        }
        if (!failure) req.body = std::move(parser->get().body());
      }
      if (failure && deadline.expired()) failure->network = beast::error::timeout;
    }
    if (failure) {
      if (!failure->spool_error.empty()) {
        log::error("cannot spool request body", {{"path", req.path}, {"error", failure->spool_error}});
      }
      if (auto error = body_failure_error(*failure)) {
        co_await write(stream, req, handler.reject(req, *error), version, false);
        refused = true;
      }
      break;
    }

    // Hand the request to the handler pool; resume on this connection's strand afterwards.
    Response res = co_await asio::co_spawn(
        handler_pool, [&]() -> asio::awaitable<Response> { co_return handler.handle(req); },
        asio::use_awaitable);
    // The spool goes now unless the handler kept a reference: not after the client has its answer.
    req.body_file.reset();
    if (res.stream) {
      // A stream may stay open for hours; the drain must not wait for it (it is told to end instead).
      in_flight_guard.release();
      co_await write_stream(stream, req, std::move(res), version);
      break;
    }
    if (!co_await write(stream, req, std::move(res), version, keep_alive)) break;
  }
  if (refused) {
    co_await linger_and_close(stream);
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
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

std::size_t HttpServer::Impl::open_stream_count() {
  std::lock_guard lock(streams_mutex);
  return open_streams.size();
}

void HttpServer::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  log::info("shutting down: draining in-flight requests", {{"inFlight", in_flight.load()},
                                                           {"streams", open_stream_count()},
                                                           {"graceSeconds", options.shutdown_grace.count()}});
  error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  {
    // Streams see the drain flag when woken and end with a last chunk, so clients see a clean end.
    std::lock_guard lock(streams_mutex);
    for (const auto& doorbell : open_streams) doorbell->ring();
  }
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + options.shutdown_grace;
  poll_drain(deadline, std::min(deadline, now + kStreamDrainGrace));
}

void HttpServer::Impl::poll_drain(std::chrono::steady_clock::time_point deadline,
                                  std::chrono::steady_clock::time_point streams_deadline) {
  const auto now = std::chrono::steady_clock::now();
  const bool requests_done = in_flight.load() == 0;
  // Streams get a short grace of their own: one that cannot finish its last write (a client that stopped
  // reading) is cut off when the server stops, rather than holding up the whole drain.
  const bool streams_done = open_stream_count() == 0 || now >= streams_deadline;
  if ((requests_done && streams_done) || now >= deadline) {
    if (in_flight.load() != 0) log::warn("drain timed out", {{"inFlight", in_flight.load()}});
    ioc.stop();
    return;
  }
  drain_timer.expires_after(std::chrono::milliseconds(25));
  drain_timer.async_wait(
      [this, deadline, streams_deadline](error_code) { poll_drain(deadline, streams_deadline); });
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
    throw std::runtime_error("cannot resolve IMAGEPROC_HTTP_ADDR host '" + s.options.host +
                             "': " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                             ": " + ec.message());
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
