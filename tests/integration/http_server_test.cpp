// The network layer on its own, no services: an in-process api::HttpServer on a free loopback port with a
// small handler, spoken to with libcurl and raw sockets. Covers request bodies spooled to a temp file (never
// in memory, always removed) and streamed responses (chunked, woken from other threads, always stopped).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "api/server.hpp"
#include "core/crypto.hpp"
#include "harness.hpp"

namespace {

namespace fs = std::filesystem;
namespace api = imageproc::api;
using namespace std::chrono_literals;

// Generous bound for "did not hang"; nothing here asserts on how fast things are.
constexpr auto kPatience = 10s;
constexpr std::size_t kUploadLimit = 32 * 1024 * 1024;
constexpr std::size_t kSmallLimit = 64 * 1024;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Deterministic, non-repeating-looking bytes (a repeated pattern could hide reordered pieces).
std::string pseudo_random_bytes(std::size_t size) {
  std::string out(size, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

// A response stream driven by the test: push() from any thread, finish() to end it.
class ScriptedStream : public api::ResponseStream {
 public:
  static constexpr const char* kIdle = ": idle\n\n";

  void start(std::function<void()> wake) override {
    std::lock_guard lock(mutex_);
    wake_ = std::move(wake);
    ++starts_;
    changed_.notify_all();
  }
  std::optional<std::string> take() override {
    std::lock_guard lock(mutex_);
    std::string out;
    for (auto& piece : pending_) out += piece;
    pending_.clear();
    if (out.empty() && finished_) return std::nullopt;
    return out;
  }
  std::string idle_chunk() override { return kIdle; }
  std::chrono::milliseconds idle_interval() const override { return 20ms; }
  void stop() override {
    std::lock_guard lock(mutex_);
    ++stops_;
    changed_.notify_all();  // keeps wake_, so later pushes exercise late wake-ups
  }

  void push(std::string piece) {
    enqueue([&] { pending_.push_back(std::move(piece)); });
  }
  void finish() {
    enqueue([&] { finished_ = true; });
  }

  bool wait_started() {
    return wait([&] { return starts_ > 0; });
  }
  bool wait_stopped() {
    return wait([&] { return stops_ > 0; });
  }
  int starts() const {
    std::lock_guard lock(mutex_);
    return starts_;
  }
  int stops() const {
    std::lock_guard lock(mutex_);
    return stops_;
  }

 private:
  template <typename Change>
  void enqueue(Change change) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      change();
      wake = wake_;
    }
    if (wake) wake();  // outside the lock, as a real producer would
  }
  template <typename Predicate>
  bool wait(Predicate done) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, done);
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> wake_;
  std::deque<std::string> pending_;
  bool finished_ = false;
  int starts_ = 0;
  int stops_ = 0;
};

// What the handler saw of one streamed upload.
struct UploadSeen {
  bool body_empty = false;
  bool has_file = false;
  fs::path path;
  std::uintmax_t size = 0;
  std::string sha256;
};

// Routes: POST /upload and /small-upload spool to a file; POST /echo buffers in memory; GET /events streams.
class TestHandler : public api::HttpHandler {
 public:
  BodyPolicy body_policy(std::string_view method, std::string_view path) const override {
    if (method == "POST" && path == "/upload") return {kUploadLimit, true};
    if (method == "POST" && path == "/small-upload") return {kSmallLimit, true};
    return {kSmallLimit, false};
  }

  api::Response handle(api::Request& request) override {
    if (request.path == "/upload" || request.path == "/small-upload") {
      UploadSeen seen;
      seen.body_empty = request.body.empty();
      seen.has_file = request.body_file != nullptr;
      if (request.body_file) {
        seen.path = request.body_file->path();
        seen.size = fs::file_size(seen.path);
        seen.sha256 = imageproc::crypto::sha256_hex(read_file(seen.path));
      }
      std::lock_guard lock(mutex_);
      uploads_.push_back(seen);
      return api::Response::text(200, "stored");
    }
    if (request.path == "/echo") {
      api::Response r = api::Response::text(200, request.body);
      r.headers.set("X-Had-File", request.body_file ? "yes" : "no");
      return r;
    }
    if (request.path == "/events") {
      api::Response r;
      r.headers.set("Content-Type", "text/event-stream");
      r.stream = stream_;
      return r;
    }
    return api::Response::text(404, "no");
  }

  api::Response reject(api::Request&, const imageproc::AppError& error) override {
    api::Response r = api::Response::text(error.status(), error.title());
    r.headers.set("Connection", "close");
    return r;
  }

  std::vector<UploadSeen> uploads() const {
    std::lock_guard lock(mutex_);
    return uploads_;
  }
  std::shared_ptr<ScriptedStream> stream() const { return stream_; }

 private:
  mutable std::mutex mutex_;
  std::vector<UploadSeen> uploads_;
  std::shared_ptr<ScriptedStream> stream_ = std::make_shared<ScriptedStream>();
};

// Blocking TCP client for what curl hides: chunk boundaries, early closes, malformed bodies.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      ADD_FAILURE() << "connect failed";
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // False once the server closed its side (it may answer before reading everything).
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until `needle` is in what was received (or the peer closes / 10 s pass); returns everything so far.
  std::string read_until(std::string_view needle) {
    while (received_.find(needle) == std::string::npos && fill()) {
    }
    return received_;
  }
  std::string read_to_close() {
    while (fill()) {
    }
    return received_;
  }
  // Everything after the response header, once it has been read.
  std::string body_so_far() const {
    const auto end = received_.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : received_.substr(end + 4);
  }
  bool peer_closed() const { return closed_; }

 private:
  bool fill() {
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = n == 0;
      return false;
    }
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

// Decodes a chunked body; `complete` tells whether the terminating zero-size chunk was seen.
struct Dechunked {
  std::vector<std::string> chunks;
  bool complete = false;
  bool malformed = false;
};

Dechunked dechunk(std::string_view body) {
  Dechunked out;
  for (;;) {
    const auto line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) return out;
    const std::size_t size = std::stoul(std::string(body.substr(0, line_end)), nullptr, 16);
    body.remove_prefix(line_end + 2);
    if (size == 0) {
      out.complete = body.substr(0, 2) == "\r\n";
      return out;
    }
    if (body.size() < size + 2) return out;
    if (body.substr(size, 2) != "\r\n") {
      out.malformed = true;
      return out;
    }
    out.chunks.emplace_back(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

std::string chunked(std::string_view data, std::size_t piece) {
  std::string out;
  char size_line[32];
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const auto part = data.substr(at, piece);
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", part.size());
    out += size_line;
    out += part;
    out += "\r\n";
  }
  return out;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

class HttpServerInProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "http-server-spool-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    temp_dir_ = pattern;
    api::ServerOptions options;
    options.port = 0;
    options.io_threads = 2;
    options.handler_threads = 2;
    options.body_timeout = 2s;
    options.shutdown_grace = 5s;
    options.temp_dir = temp_dir_.string();
    server_ = std::make_unique<api::HttpServer>(options, handler_);
    server_->listen();
    port_ = server_->bound_port();
    base_url_ = "http://127.0.0.1:" + std::to_string(port_);
    run_ = std::async(std::launch::async, [this] { server_->run(); });
  }

  void TearDown() override {
    if (server_) stop_server();
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
  }

  // Stops the server and waits for run() to return; false when it did not within the bound.
  bool stop_server() {
    server_->stop();
    if (run_.wait_for(kPatience) != std::future_status::ready) {
      ADD_FAILURE() << "server did not stop";
      // Leak it rather than hang the whole test binary in its destructor.
      (void)server_.release();
      return false;
    }
    server_.reset();
    return true;
  }

  TestHandler handler_;
  fs::path temp_dir_;
  std::unique_ptr<api::HttpServer> server_;
  std::future<void> run_;
  std::uint16_t port_ = 0;
  std::string base_url_;
};

TEST_F(HttpServerInProcess, StreamedUploadArrivesByteIdenticalInATempFileNotInMemory) {
  const std::string body = pseudo_random_bytes(20 * 1024 * 1024);
  const auto r = imageproc::testing::http(base_url_, {"POST", "/upload", body, {}});
  ASSERT_EQ(r.status, 200);

  const auto uploads = handler_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_TRUE(uploads[0].body_empty);
  ASSERT_TRUE(uploads[0].has_file);
  EXPECT_EQ(uploads[0].size, body.size());
  EXPECT_EQ(uploads[0].sha256, imageproc::crypto::sha256_hex(body));
  EXPECT_EQ(uploads[0].path.parent_path(), temp_dir_);
  // The server let go of the file before answering, so it is gone by the time the client has the response.
  EXPECT_FALSE(fs::exists(uploads[0].path));
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, ChunkedUploadWithoutContentLengthIsSpooledToo) {
  const std::string body = pseudo_random_bytes(300 * 1024);
  RawClient client(port_);
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          chunked(body, 10000) + "0\r\n\r\n"));
  EXPECT_NE(client.read_until("stored").find("HTTP/1.1 200"), std::string::npos);
  const auto uploads = handler_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_TRUE(uploads[0].body_empty);
  EXPECT_EQ(uploads[0].size, body.size());
  EXPECT_EQ(uploads[0].sha256, imageproc::crypto::sha256_hex(body));
  EXPECT_FALSE(fs::exists(uploads[0].path));
}

TEST_F(HttpServerInProcess, StreamedUploadAnswers100ContinueBeforeTheBodyIsSent) {
  const std::string body = pseudo_random_bytes(100 * 1024);
  RawClient client(port_);
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n", 0), 0u);
  ASSERT_TRUE(client.send(body));
  EXPECT_NE(client.read_until("stored").find("HTTP/1.1 200"), std::string::npos);
  const auto uploads = handler_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].sha256, imageproc::crypto::sha256_hex(body));
}

TEST_F(HttpServerInProcess, EmptyStreamedUploadGivesAnEmptyFile) {
  const auto r = imageproc::testing::http(base_url_, {"POST", "/upload", "", {}});
  ASSERT_EQ(r.status, 200);
  const auto uploads = handler_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_TRUE(uploads[0].has_file);
  EXPECT_EQ(uploads[0].size, 0u);
}

TEST_F(HttpServerInProcess, OrdinaryRoutesStillGetTheBodyInMemory) {
  const auto r = imageproc::testing::http(base_url_, {"POST", "/echo", "hello body", {}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello body");
  EXPECT_EQ(r.header("x-had-file").value_or(""), "no");
}

TEST_F(HttpServerInProcess, OverLimitChunkedUploadIs413AndLeavesNoTempFile) {
  // Small enough to sit in the socket buffers whole, so the client never blocks on a server that stopped
  // reading, and the 413 is already queued for us when the server closes.
  const std::string body = pseudo_random_bytes(4 * kSmallLimit);
  RawClient client(port_);
  client.send("POST /small-upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
              chunked(body, 8192) + "0\r\n\r\n");
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_TRUE(handler_.uploads().empty());
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, OverLimitContentLengthIs413BeforeAnyBodyIsRead) {
  RawClient client(port_);
  client.send("POST /small-upload HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(kSmallLimit + 1) +
              "\r\n\r\n");
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, RefusedUploadIsAnsweredWhileTheClientIsStillSendingItsBody) {
  // Far more than the socket buffers hold: if the server closed right after its 413, the kernel would reset
  // the connection and these sends would fail, as they do for curl ("Failed sending data to the peer").
  const std::string body(24 * 1024 * 1024, 'b');
  RawClient client(port_);
  ASSERT_TRUE(client.send("POST /small-upload HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_TRUE(client.send(body));
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, SlowStreamedUploadIs408AndLeavesNoTempFile) {
  RawClient client(port_);
  client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly a little");
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 408", 0), 0u);  // body timeout is 2 s
  EXPECT_TRUE(handler_.uploads().empty());
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, MalformedChunkedUploadIs400AndLeavesNoTempFile) {
  RawClient client(port_);
  client.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
  EXPECT_EQ(client.read_until("\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_TRUE(handler_.uploads().empty());
  EXPECT_EQ(files_in(temp_dir_), 0u);
}

TEST_F(HttpServerInProcess, StreamSendsEventsWokenFromAnotherThreadInOrderWithIdleChunks) {
  auto stream = handler_.stream();
  RawClient client(port_);
  ASSERT_TRUE(client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string head = client.read_until("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head.find("Connection: close"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos);
  ASSERT_TRUE(stream->wait_started());
  // Nothing to send yet: the server keeps the stream alive with idle chunks.
  client.read_until(ScriptedStream::kIdle);

  std::thread producer([&] {
    for (int i = 1; i <= 3; ++i) {
      stream->push("event: job\ndata: " + std::to_string(i) + "\n\n");
      std::this_thread::sleep_for(30ms);
    }
    stream->finish();
  });
  const std::string all = client.read_to_close();
  producer.join();

  EXPECT_TRUE(client.peer_closed());
  const auto body = dechunk(all.substr(all.find("\r\n\r\n") + 4));
  EXPECT_FALSE(body.malformed);
  EXPECT_TRUE(body.complete);
  std::string events;
  int idle = 0;
  for (const auto& chunk : body.chunks) {
    if (chunk == ScriptedStream::kIdle) {
      ++idle;
    } else {
      events += chunk;
    }
  }
  EXPECT_GE(idle, 1);
  EXPECT_EQ(events, "event: job\ndata: 1\n\nevent: job\ndata: 2\n\nevent: job\ndata: 3\n\n");
  ASSERT_TRUE(stream->wait_stopped());
  EXPECT_EQ(stream->starts(), 1);
  EXPECT_EQ(stream->stops(), 1);
}

TEST_F(HttpServerInProcess, StreamIsStoppedWhenTheClientDisconnects) {
  auto stream = handler_.stream();
  {
    RawClient client(port_);
    ASSERT_TRUE(client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n"));
    client.read_until(ScriptedStream::kIdle);
    ASSERT_TRUE(stream->wait_started());
  }
  // Found out by the next idle chunk that cannot be written.
  ASSERT_TRUE(stream->wait_stopped());
  // A late wake after the stream ended is harmless.
  stream->push("event: late\n\n");
  ASSERT_TRUE(stop_server());
  stream->push("event: after the server\n\n");  // ... and so is one after the server is gone
  EXPECT_EQ(stream->stops(), 1);
}

TEST_F(HttpServerInProcess, ServerStopEndsOpenStreamsPromptlyAndStopsThem) {
  auto stream = handler_.stream();
  RawClient client(port_);
  ASSERT_TRUE(client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n"));
  client.read_until("\r\n\r\n");
  ASSERT_TRUE(stream->wait_started());

  ASSERT_TRUE(stop_server());  // bounded: fails instead of hanging
  EXPECT_EQ(stream->stops(), 1);
  // The stream ended cleanly, with the terminating chunk.
  client.read_to_close();
  EXPECT_TRUE(dechunk(client.body_so_far()).complete);
}

TEST_F(HttpServerInProcess, HeadOnAStreamRouteSendsOnlyTheHeaders) {
  auto stream = handler_.stream();
  RawClient client(port_);
  ASSERT_TRUE(client.send("HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string all = client.read_to_close();
  EXPECT_EQ(all.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(client.peer_closed());
  EXPECT_EQ(client.body_so_far(), "");
  ASSERT_TRUE(stream->wait_stopped());
  EXPECT_EQ(stream->starts(), 0);
  EXPECT_EQ(stream->stops(), 1);
}

}  // namespace
