// S3ObjectStore against a real S3-compatible server (s3rver, started by scripts/services with SERVICES=s3)
// and, for retries and the circuit breaker, against a fault-injecting HTTP server inside this test that
// speaks the S3 wire format (status codes and <Error><Code>…</Code></Error> documents) on 127.0.0.1.
//
// Note on s3rver 3.7: it checks the access key id, X-Amz-Date/X-Amz-Expires (expiry, ≤ 7 days) and the
// x-amz-content-sha256 format, but does NOT recompute SigV4 signatures. Signature correctness is proved by
// the unit tier instead (tests/unit/sigv4_test.cpp: AWS's published examples and botocore's presigner).

#include "storage/s3/s3_store.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/crypto.hpp"
#include "harness.hpp"
#include "storage_contract.hpp"

namespace imageproc::storage {
namespace {

using namespace std::chrono_literals;
using imageproc::testing::required_env;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

StorageConfig s3rver_config() {
  StorageConfig config;
  config.backend = "s3";
  config.s3_endpoint = required_env("IMAGEPROC_TEST_S3_ENDPOINT");
  config.s3_bucket = required_env("IMAGEPROC_TEST_S3_BUCKET");
  config.s3_access_key_id = required_env("IMAGEPROC_TEST_S3_ACCESS_KEY_ID");
  config.s3_secret_access_key = required_env("IMAGEPROC_TEST_S3_SECRET_ACCESS_KEY");
  config.s3_region = required_env("IMAGEPROC_TEST_S3_REGION");
  config.s3_force_path_style = true;  // s3rver on an IP address: no bucket subdomains
  return config;
}

std::string unique_prefix() {
  return "it-" + crypto::hex_encode(crypto::random_bytes(6)) + "/";
}

std::string random_bytes_string(std::size_t n) {
  std::string out(n, '\0');
  std::mt19937_64 rng(n);
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("imageproc-s3-" + crypto::hex_encode(crypto::random_bytes(6)))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A plain HTTP request to an absolute URL (no SigV4 of ours involved: the URL carries the signature).
testing::HttpResponse plain_http(const std::string& method, const std::string& url, std::string body = {},
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
  return testing::http_url(method, url, std::move(headers), std::move(body));
}

StorageErrorKind error_kind_of(const std::function<void()>& operation, std::string* what = nullptr) {
  try {
    operation();
  } catch (const StorageError& e) {
    if (what) *what = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "expected a StorageError";
  return StorageErrorKind::Permanent;
}

// ---------------------------------------------------------------------------------------------------------------
// Against s3rver
// ---------------------------------------------------------------------------------------------------------------

class S3StoreTest : public ::testing::Test {
 protected:
  S3StoreTest() : store_(s3rver_config()), prefix_(unique_prefix()) {}
  ~S3StoreTest() override {
    try {
      store_.remove_prefix(prefix_);
    } catch (...) {
    }
  }
  S3ObjectStore store_;
  std::string prefix_;
};

TEST_F(S3StoreTest, CheckReadySucceedsForTheTestBucket) {
  EXPECT_NO_THROW(store_.check_ready());
}

TEST_F(S3StoreTest, CheckReadyFailsForAMissingBucket) {
  auto config = s3rver_config();
  config.s3_bucket = "imageproc-no-such-bucket";
  S3ObjectStore missing(config);
  EXPECT_THROW(missing.check_ready(), StorageError);
}

TEST_F(S3StoreTest, PutBufferThenGetHeadAndDeleteRoundTrip) {
  const auto key = prefix_ + "buffer.bin";
  const auto data = random_bytes_string(10'000);
  store_.put_buffer(key, data, "application/octet-stream");

  EXPECT_EQ(store_.get_to_buffer(key, data.size()), data);
  const auto info = store_.head(key);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->key, key);
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->content_type, "application/octet-stream");
  EXPECT_FALSE(info->etag.empty());
  EXPECT_EQ(info->etag.front() == '"', false);  // quotes stripped
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - info->last_modified), 5min);

  store_.remove(key);
  EXPECT_FALSE(store_.head(key).has_value());
}

TEST_F(S3StoreTest, PutBufferReplacesAnExistingObject) {
  const auto key = prefix_ + "replace.txt";
  store_.put_buffer(key, "first version", "text/plain");
  store_.put_buffer(key, "second", "text/plain");
  EXPECT_EQ(store_.get_to_buffer(key, 100), "second");
}

TEST_F(S3StoreTest, EmptyObjectRoundTrips) {
  const auto key = prefix_ + "empty";
  store_.put_buffer(key, "", "application/octet-stream");
  EXPECT_EQ(store_.get_to_buffer(key, 0), "");
  EXPECT_EQ(store_.head(key)->size, 0u);
}

TEST_F(S3StoreTest, PutFileOfFiveMegabytesThenGetToFileReturnsIdenticalBytes) {
  TempDir dir;
  const auto source = dir.path() / "source.bin";
  const auto data = random_bytes_string(5 * 1024 * 1024 + 123);
  write_file(source, data);
  const auto key = prefix_ + "large/file.bin";

  const auto started = std::chrono::steady_clock::now();
  store_.put_file(key, source, "image/jpeg");
  const auto put_done = std::chrono::steady_clock::now();
  const auto destination = dir.path() / "out" / "copy.bin";
  std::filesystem::create_directories(destination.parent_path());
  const auto info = store_.get_to_file(key, destination);
  const auto get_done = std::chrono::steady_clock::now();
  std::cout << "[ measure  ] 5 MiB put_file "
            << std::chrono::duration_cast<std::chrono::milliseconds>(put_done - started).count()
            << " ms, get_to_file "
            << std::chrono::duration_cast<std::chrono::milliseconds>(get_done - put_done).count() << " ms\n";

  EXPECT_EQ(info.size, data.size());
  EXPECT_EQ(info.content_type, "image/jpeg");
  EXPECT_TRUE(read_file(destination) == data);
  // Only the destination remains: the temporary download file was renamed, not copied.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(destination.parent_path()), {}), 1);
}

TEST_F(S3StoreTest, GetToFileReplacesAnExistingDestination) {
  TempDir dir;
  const auto destination = dir.path() / "dest.txt";
  write_file(destination, "old contents that are longer");
  const auto key = prefix_ + "dest.txt";
  store_.put_buffer(key, "new", "text/plain");
  store_.get_to_file(key, destination);
  EXPECT_EQ(read_file(destination), "new");
}

TEST_F(S3StoreTest, GetOfAMissingKeyThrowsNotFoundAndLeavesNoFileBehind) {
  TempDir dir;
  const auto key = prefix_ + "missing";
  std::string what;
  EXPECT_EQ(error_kind_of([&] { store_.get_to_buffer(key, 100); }, &what), StorageErrorKind::NotFound);
  EXPECT_NE(what.find("NoSuchKey"), std::string::npos) << what;
  EXPECT_EQ(error_kind_of([&] { store_.get_to_file(key, dir.path() / "x"); }), StorageErrorKind::NotFound);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  EXPECT_FALSE(store_.head(key).has_value());
}

TEST_F(S3StoreTest, RemoveOfAMissingKeySucceeds) {
  EXPECT_NO_THROW(store_.remove(prefix_ + "never-existed"));
}

TEST_F(S3StoreTest, GetToBufferRefusesAnObjectLargerThanMaxBytes) {
  const auto key = prefix_ + "big";
  store_.put_buffer(key, std::string(4096, 'x'), "text/plain");
  EXPECT_EQ(error_kind_of([&] { store_.get_to_buffer(key, 4095); }), StorageErrorKind::Permanent);
  EXPECT_EQ(store_.get_to_buffer(key, 4096).size(), 4096u);
}

TEST_F(S3StoreTest, InvalidKeysAreRefusedAsPermanent) {
  for (const auto& key :
       std::vector<std::string>{"", "/abs", "a/../b", "a//b", "back\\slash", std::string("nul\0x", 5)}) {
    EXPECT_EQ(error_kind_of([&] { store_.put_buffer(key, "x", "text/plain"); }), StorageErrorKind::Permanent)
        << key;
    EXPECT_EQ(error_kind_of([&] { store_.presign_get(key, 60s, std::chrono::system_clock::now()); }),
              StorageErrorKind::Permanent);
  }
}

TEST_F(S3StoreTest, ListReturnsEveryKeyInOrderAcrossPagesWithContinuationTokens) {
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(prefix_ + "list/k" + std::to_string(i));
  for (const auto& key : keys) store_.put_buffer(key, "v" + key, "text/plain");
  store_.put_buffer(prefix_ + "other/not-listed", "x", "text/plain");

  std::vector<std::string> seen;
  std::optional<std::string> token;
  int pages = 0;
  do {
    auto page = store_.list(prefix_ + "list/", token, 2);
    ++pages;
    EXPECT_LE(page.objects.size(), 2u);
    for (const auto& object : page.objects) {
      seen.push_back(object.key);
      EXPECT_EQ(object.size, ("v" + object.key).size());
      EXPECT_FALSE(object.etag.empty());
      EXPECT_NE(object.last_modified, std::chrono::system_clock::time_point{});
    }
    token = page.next_token;
  } while (token && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, keys);
}

TEST_F(S3StoreTest, RemovePrefixDeletesMoreThanOneDeleteObjectsBatch) {
  constexpr int kObjects = 1005;  // > 1000: needs two DeleteObjects batches and two listing pages
  // Sequential on purpose: s3rver is single-threaded, measured at ~3 s for the 1005 puts here (no faster with
  // 4 client threads); concurrency has its own test below.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kObjects; ++i)
    store_.put_buffer(prefix_ + "bulk/" + std::to_string(i), "x", "text/plain");
  const auto put_done = std::chrono::steady_clock::now();

  const auto deleted = store_.remove_prefix(prefix_ + "bulk/");
  const auto remove_done = std::chrono::steady_clock::now();
  std::cout << "[ measure  ] " << kObjects << " sequential puts "
            << std::chrono::duration_cast<std::chrono::milliseconds>(put_done - started).count()
            << " ms, remove_prefix "
            << std::chrono::duration_cast<std::chrono::milliseconds>(remove_done - put_done).count()
            << " ms\n";

  EXPECT_EQ(deleted, static_cast<std::size_t>(kObjects));
  EXPECT_TRUE(store_.list(prefix_ + "bulk/", std::nullopt, 1000).objects.empty());
  EXPECT_FALSE(store_.head(prefix_ + "bulk/0").has_value());
  EXPECT_FALSE(store_.head(prefix_ + "bulk/1004").has_value());
}

TEST_F(S3StoreTest, RemoveManyToleratesMissingKeys) {
  store_.put_buffer(prefix_ + "a", "1", "text/plain");
  EXPECT_NO_THROW(store_.remove_many({prefix_ + "a", prefix_ + "never-existed"}));
  EXPECT_FALSE(store_.head(prefix_ + "a").has_value());
  EXPECT_NO_THROW(store_.remove_many({}));
}

TEST_F(S3StoreTest, PresignedGetIsFetchableWithPlainHttp) {
  const auto key = prefix_ + "presigned/photo.jpg";
  const auto data = random_bytes_string(2048);
  store_.put_buffer(key, data, "image/jpeg");
  const auto now = std::chrono::system_clock::now();
  const auto signing_time = stable_signing_time(now, 600s);
  const auto url = store_.presign_get(key, 600s, signing_time);
  EXPECT_EQ(url.expires_at, signing_time + 600s);
  EXPECT_NE(url.url.find("X-Amz-Signature="), std::string::npos);
  // Signing again with the same window start yields a byte-identical URL (browsers can cache the image).
  EXPECT_EQ(store_.presign_get(key, 600s, stable_signing_time(signing_time + 1s, 600s)).url, url.url);

  const auto response = plain_http("GET", url.url);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.body == data);
}

TEST_F(S3StoreTest, ExpiredPresignedGetIsRefused) {
  const auto key = prefix_ + "presigned/expired.txt";
  store_.put_buffer(key, "secret", "text/plain");
  const auto url = store_.presign_get(key, 60s, std::chrono::system_clock::now() - 1h);
  const auto response = plain_http("GET", url.url);
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.body.find("secret"), std::string::npos);
}

TEST_F(S3StoreTest, PresignedGetWithATamperedCredentialOrExpiryIsRefused) {
  const auto key = prefix_ + "presigned/tamper.txt";
  store_.put_buffer(key, "secret", "text/plain");
  const auto url = store_.presign_get(key, 60s, std::chrono::system_clock::now()).url;

  auto unknown_key = url;
  const auto credential = unknown_key.find("X-Amz-Credential=") + std::string("X-Amz-Credential=").size();
  unknown_key.replace(credential, 6, "AKIAXX");  // another access key id
  EXPECT_EQ(plain_http("GET", unknown_key).status, 403);

  auto longer = url;
  const auto expires = longer.find("X-Amz-Expires=60");
  ASSERT_NE(expires, std::string::npos);
  longer.replace(expires, std::string("X-Amz-Expires=60").size(), "X-Amz-Expires=999999");  // > 7 days
  EXPECT_GE(plain_http("GET", longer).status, 400);
}

TEST_F(S3StoreTest, PresignedPutAcceptsAPlainHttpPutWithTheReturnedHeaders) {
  const auto key = prefix_ + "direct-upload/image.png";
  const auto upload = store_.presign_put(key, "image/png", 1024, 300s, std::chrono::system_clock::now());
  EXPECT_EQ(upload.method, "PUT");
  ASSERT_EQ(upload.headers.count("Content-Type"), 1u);
  EXPECT_EQ(upload.headers.at("Content-Type"), "image/png");
  EXPECT_NE(upload.url.find("X-Amz-SignedHeaders=content-type%3Bhost"), std::string::npos) << upload.url;

  const auto body = random_bytes_string(1000);
  std::vector<std::pair<std::string, std::string>> headers(upload.headers.begin(), upload.headers.end());
  const auto response = plain_http(upload.method, upload.url, body, headers);
  EXPECT_EQ(response.status, 200) << response.body;

  const auto info = store_.head(key);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->size, body.size());
  EXPECT_EQ(info->content_type, "image/png");
  EXPECT_TRUE(store_.get_to_buffer(key, 2000) == body);
}

TEST_F(S3StoreTest, PresignRefusesTtlLongerThanSevenDays) {
  EXPECT_EQ(
      error_kind_of([&] { store_.presign_get(prefix_ + "k", 604801s, std::chrono::system_clock::now()); }),
      StorageErrorKind::Permanent);
  EXPECT_NO_THROW(store_.presign_get(prefix_ + "k", 604800s, std::chrono::system_clock::now()));
}

TEST_F(S3StoreTest, KeysWithSpacesUnicodeAndReservedCharactersRoundTrip) {
  const std::vector<std::string> names = {
      "my photo 1.jpg",
      "\xC3\xBC\xC3\xB1\xC3\xAE\xC3\xA7\xC3\xB8"
      "d\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x93\xB7.png",
      "reserved !'()*~-._+=;,$@:.bin",
      "percent %20 and %2F.txt",
  };
  std::vector<std::string> keys;
  for (const auto& name : names) keys.push_back(prefix_ + "odd/" + name);
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    SCOPED_TRACE(key);
    store_.put_buffer(key, "body of " + key, "text/plain");
    EXPECT_EQ(store_.get_to_buffer(key, 1000), "body of " + key);
    ASSERT_TRUE(store_.head(key).has_value());
    const auto url = store_.presign_get(key, 60s, std::chrono::system_clock::now());
    const auto response = plain_http("GET", url.url);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "body of " + key);
  }
  std::vector<std::string> listed;
  for (const auto& object : store_.list(prefix_ + "odd/", std::nullopt, 1000).objects)
    listed.push_back(object.key);
  EXPECT_EQ(listed, keys);
  store_.remove_many(keys);
  EXPECT_TRUE(store_.list(prefix_ + "odd/", std::nullopt, 1000).objects.empty());
}

TEST_F(S3StoreTest, ConcurrentUseFromManyThreadsSharesTheStoreSafely) {
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const auto key = prefix_ + "concurrent/" + std::to_string(t) + "-" + std::to_string(i);
        const auto value = "value " + key;
        store_.put_buffer(key, value, "text/plain");
        if (store_.get_to_buffer(key, 1000) != value) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Retries, error mapping and the circuit breaker, against a fault-injecting server on 127.0.0.1
// ---------------------------------------------------------------------------------------------------------------

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool drop = false;                   // close the connection without answering
  std::chrono::milliseconds delay{0};  // wait before answering
};

Reply s3_error(int status, const std::string& code, const std::string& message) {
  return {status,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
              "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>",
          {{"Content-Type", "application/xml"}}};
}

// A thread per connection (a slow reply must not hold back the client's next attempt), `Connection: close` on
// every answer; the script decides each reply from the request's arrival index (0-based) and content.
class FaultServer {
 public:
  using Script = std::function<Reply(std::size_t index, const ReceivedRequest&)>;

  explicit FaultServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("FaultServer: cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~FaultServer() {
    stop_ = true;
    thread_.join();
    for (auto& connection : connections_) connection.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count() const { return requests().size(); }

 private:
  void run() {
    while (!stop_) {
      pollfd pfd{listen_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      connections_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  void serve(int fd) {
    std::string data;
    char buffer[65536];
    std::size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      const auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    ReceivedRequest request;
    std::istringstream head(data.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream request_line(line);
    request_line >> request.method >> request.target;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      request.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    const auto length =
        request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    request.body = data.substr(header_end + 4);
    while (request.body.size() < length) {
      const auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      request.body.append(buffer, static_cast<std::size_t>(n));
    }
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex_);
      index = requests_.size();
      requests_.push_back(request);
    }
    const auto reply = script_(index, request);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    if (reply.drop) return;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                      " Status\r\nConnection: close\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\n";
    for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
    out += "\r\n";
    if (request.method != "HEAD") out += reply.body;
    std::size_t sent = 0;
    while (sent < out.size()) {
      const auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> connections_;  // touched by the accept thread only, joined after it
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
};

constexpr const char* kFaultSecret = "fault-server-secret-never-printed";

StorageConfig fault_config(const FaultServer& server, int max_attempts = 4) {
  StorageConfig config;
  config.backend = "s3";
  config.s3_endpoint = server.endpoint();
  config.s3_bucket = "bucket";
  config.s3_region = "us-east-1";
  config.s3_access_key_id = "AKIDFAULT";
  config.s3_secret_access_key = kFaultSecret;
  config.s3_force_path_style = true;
  config.s3_max_attempts = max_attempts;
  config.s3_connect_timeout = 1000ms;
  config.s3_request_timeout = 2000ms;
  return config;
}

S3Tuning fast_tuning() {
  S3Tuning tuning;
  tuning.backoff_base = 1ms;
  tuning.backoff_cap = 5ms;
  return tuning;
}

Reply ok_put() {
  return {200, "", {{"ETag", "\"abc\""}}};
}

TEST(S3StoreRetry, PutBufferSucceedsAfterTransient503sAndResendsTheWholeSignedBody) {
  FaultServer server([](std::size_t i, const ReceivedRequest&) {
    return i < 2 ? s3_error(503, "SlowDown", "Please reduce your request rate.") : ok_put();
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  const auto data = random_bytes_string(100'000);
  store.put_buffer("a/b.bin", data, "application/octet-stream");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.method, "PUT");
    EXPECT_EQ(request.target, "/bucket/a/b.bin");
    EXPECT_TRUE(request.body == data);
    EXPECT_EQ(request.headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(request.headers.at("x-amz-content-sha256"), crypto::sha256_hex(data));
    EXPECT_EQ(request.headers.at("content-type"), "application/octet-stream");
    EXPECT_EQ(request.headers.at("authorization").rfind("AWS4-HMAC-SHA256 Credential=AKIDFAULT/", 0), 0u);
    EXPECT_NE(request.headers.at("authorization")
                  .find("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,"),
              std::string::npos);
    EXPECT_EQ(request.headers.count("transfer-encoding"), 0u);  // a real length, never aws-chunked
  }
}

TEST(S3StoreRetry, PutFileSucceedsAfterADroppedConnectionAndResendsTheFileFromTheStart) {
  TempDir dir;
  const auto file = dir.path() / "upload.bin";
  const auto data = random_bytes_string(300'000);
  write_file(file, data);
  FaultServer server([](std::size_t i, const ReceivedRequest&) {
    Reply reply = ok_put();
    reply.drop = i == 0;
    return reply;
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  store.put_file("up/file.bin", file, "image/webp");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& request : requests) {
    EXPECT_EQ(request.headers.at("content-length"), std::to_string(data.size()));
    EXPECT_EQ(request.headers.at("x-amz-content-sha256"), crypto::sha256_hex(data));
    EXPECT_TRUE(request.body == data);
  }
}

TEST(S3StoreRetry, GetToFileSucceedsAfterInternalErrorAndWritesOnlyTheFinalBody) {
  TempDir dir;
  FaultServer server([](std::size_t i, const ReceivedRequest&) {
    if (i == 0) return s3_error(500, "InternalError", "We encountered an internal error. Please try again.");
    return Reply{200, "hello world", {{"Content-Type", "text/plain"}, {"ETag", "\"e1\""}}};
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  const auto info = store.get_to_file("k", dir.path() / "out.txt");
  EXPECT_EQ(read_file(dir.path() / "out.txt"), "hello world");
  EXPECT_EQ(info.size, 11u);
  EXPECT_EQ(info.etag, "e1");
  EXPECT_EQ(server.count(), 2u);
}

TEST(S3StoreRetry, ThrottlingCodeInA400IsRetried) {
  FaultServer server([](std::size_t i, const ReceivedRequest&) {
    return i == 0 ? s3_error(400, "RequestTimeout", "Your socket connection to the server was not read from.")
                  : Reply{200, "ok", {}};
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  EXPECT_EQ(store.get_to_buffer("k", 10), "ok");
  EXPECT_EQ(server.count(), 2u);
}

TEST(S3StoreRetry, TooManyRequestsIsRetried) {
  FaultServer server([](std::size_t i, const ReceivedRequest&) {
    return i == 0 ? Reply{429, "", {}} : Reply{200, "ok", {}};
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  EXPECT_EQ(store.get_to_buffer("k", 10), "ok");
  EXPECT_EQ(server.count(), 2u);
}

TEST(S3StoreRetry, ForbiddenIsNotRetriedAndMapsToAccessDeniedWithoutLeakingSecrets) {
  FaultServer server(
      [](std::size_t, const ReceivedRequest&) { return s3_error(403, "AccessDenied", "Access Denied"); });
  S3ObjectStore store(fault_config(server), fast_tuning());
  std::string what;
  EXPECT_EQ(error_kind_of([&] { store.put_buffer("k", "data", "text/plain"); }, &what),
            StorageErrorKind::AccessDenied);
  EXPECT_EQ(server.count(), 1u);
  EXPECT_NE(what.find("AccessDenied"), std::string::npos) << what;
  EXPECT_NE(what.find("Access Denied"), std::string::npos) << what;
  EXPECT_EQ(what.find(kFaultSecret), std::string::npos) << what;
  EXPECT_EQ(what.find("Signature="), std::string::npos) << what;
}

TEST(S3StoreRetry, NoSuchKeyIsNotRetriedAndMapsToNotFound) {
  FaultServer server([](std::size_t, const ReceivedRequest&) {
    return s3_error(404, "NoSuchKey", "The specified key does not exist.");
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::NotFound);
  EXPECT_EQ(server.count(), 1u);
}

TEST(S3StoreRetry, OtherClientErrorsArePermanentAndNotRetried) {
  FaultServer server([](std::size_t, const ReceivedRequest&) {
    return s3_error(400, "InvalidArgument", "Invalid Argument &amp; more");
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  std::string what;
  EXPECT_EQ(error_kind_of([&] { store.put_buffer("k", "x", "text/plain"); }, &what),
            StorageErrorKind::Permanent);
  EXPECT_EQ(server.count(), 1u);
  EXPECT_NE(what.find("InvalidArgument: Invalid Argument & more"), std::string::npos) << what;
}

TEST(S3StoreRetry, PersistentServerErrorsBecomeTransientAfterMaxAttempts) {
  FaultServer server(
      [](std::size_t, const ReceivedRequest&) { return s3_error(503, "ServiceUnavailable", "busy"); });
  S3ObjectStore store(fault_config(server, 3), fast_tuning());
  std::string what;
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }, &what), StorageErrorKind::Transient);
  EXPECT_EQ(server.count(), 3u);
  EXPECT_NE(what.find("3 attempt"), std::string::npos) << what;
}

TEST(S3StoreRetry, RequestTimeoutIsTransientAndBoundedByTheConfiguredTimeout) {
  FaultServer server([](std::size_t, const ReceivedRequest&) {
    Reply reply{200, "late", {}};
    reply.delay = 1500ms;
    return reply;
  });
  auto config = fault_config(server, 2);
  config.s3_request_timeout = 300ms;
  S3ObjectStore store(config, fast_tuning());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::Transient);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);  // 2 attempts × 300 ms, plus the server's lag
  EXPECT_EQ(server.count(), 2u);
}

TEST(S3StoreRetry, ConnectionRefusedIsTransient) {
  int port = 0;
  {
    FaultServer server([](std::size_t, const ReceivedRequest&) { return Reply{}; });
    port = server.port();
  }  // closed: nothing listens there any more
  StorageConfig config;
  config.s3_endpoint = "http://127.0.0.1:" + std::to_string(port);
  config.s3_bucket = "bucket";
  config.s3_access_key_id = "AKIDFAULT";
  config.s3_secret_access_key = kFaultSecret;
  config.s3_force_path_style = true;
  config.s3_max_attempts = 2;
  S3ObjectStore store(config, fast_tuning());
  EXPECT_EQ(error_kind_of([&] { store.head("k"); }), StorageErrorKind::Transient);
}

TEST(S3StoreRetry, CircuitBreakerOpensAfterConsecutiveTransientFailuresFailsFastThenProbesAndCloses) {
  std::atomic<bool> healthy{false};
  FaultServer server([&](std::size_t, const ReceivedRequest&) {
    return healthy ? Reply{200, "ok", {}} : s3_error(503, "ServiceUnavailable", "down");
  });
  auto tuning = fast_tuning();
  tuning.breaker_threshold = 3;
  tuning.breaker_cooldown = 300ms;
  S3ObjectStore store(fault_config(server, 1), tuning);

  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::Transient);
  EXPECT_EQ(server.count(), 3u);

  // Open: fails fast without touching the network.
  std::string what;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }, &what), StorageErrorKind::Transient);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
  EXPECT_NE(what.find("storage circuit open"), std::string::npos) << what;
  EXPECT_EQ(server.count(), 3u);

  // After the cool-down a failing probe re-opens it at once.
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::Transient);
  EXPECT_EQ(server.count(), 4u);
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }, &what), StorageErrorKind::Transient);
  EXPECT_NE(what.find("storage circuit open"), std::string::npos) << what;
  EXPECT_EQ(server.count(), 4u);

  // A succeeding probe closes it.
  healthy = true;
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(store.get_to_buffer("k", 10), "ok");
  EXPECT_EQ(store.get_to_buffer("k", 10), "ok");
  EXPECT_EQ(server.count(), 6u);
}

TEST(S3StoreRetry, DefinitiveAnswersDoNotCountTowardsTheCircuitBreaker) {
  std::atomic<int> mode{0};
  FaultServer server([&](std::size_t, const ReceivedRequest&) {
    return mode == 0 ? s3_error(503, "SlowDown", "slow") : s3_error(404, "NoSuchKey", "missing");
  });
  auto tuning = fast_tuning();
  tuning.breaker_threshold = 2;
  S3ObjectStore store(fault_config(server, 1), tuning);
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::Transient);
  mode = 1;
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }),
            StorageErrorKind::NotFound);  // resets the count
  mode = 0;
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }), StorageErrorKind::Transient);
  mode = 1;
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("k", 10); }),
            StorageErrorKind::NotFound);  // still closed
  EXPECT_EQ(server.count(), 4u);
}

TEST(S3StoreRetry, InvalidKeysAreRefusedBeforeAnyRequest) {
  FaultServer server([](std::size_t, const ReceivedRequest&) { return Reply{}; });
  S3ObjectStore store(fault_config(server), fast_tuning());
  EXPECT_EQ(error_kind_of([&] { store.get_to_buffer("../etc/passwd", 10); }), StorageErrorKind::Permanent);
  EXPECT_EQ(error_kind_of([&] { store.remove_many({"ok", "bad//key"}); }), StorageErrorKind::Permanent);
  EXPECT_EQ(server.count(), 0u);
}

TEST(S3StoreRetry, DeleteObjectsSendsContentMd5AndEscapedKeysInBatchesOf1000) {
  FaultServer server([](std::size_t, const ReceivedRequest&) {
    return Reply{
        200, "<?xml version=\"1.0\"?><DeleteResult></DeleteResult>", {{"Content-Type", "application/xml"}}};
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  std::vector<std::string> keys;
  for (int i = 0; i < 1001; ++i) keys.push_back("p/" + std::to_string(i));
  keys[0] = "p/a&b<c>\"d'";
  store.remove_many(keys);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/bucket?delete=");
  // base64(MD5(body)), which S3 requires on DeleteObjects.
  const auto& body = requests[0].body;
  EXPECT_FALSE(requests[0].headers.at("content-md5").empty());
  EXPECT_NE(body.find("<Key>p/a&amp;b&lt;c&gt;&quot;d&apos;</Key>"), std::string::npos);
  auto count_objects = [](const std::string& xml) {
    std::size_t n = 0;
    for (auto pos = xml.find("<Object>"); pos != std::string::npos; pos = xml.find("<Object>", pos + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count_objects(requests[0].body), 1000u);
  EXPECT_EQ(count_objects(requests[1].body), 1u);
}

TEST(S3StoreRetry, DeleteObjectsReportsPerKeyErrors) {
  FaultServer server([](std::size_t, const ReceivedRequest&) {
    return Reply{
        200,
        "<DeleteResult><Error><Key>a</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        "</DeleteResult>",
        {}};
  });
  S3ObjectStore store(fault_config(server), fast_tuning());
  EXPECT_EQ(error_kind_of([&] { store.remove_many({"a", "b"}); }), StorageErrorKind::AccessDenied);
}

TEST(S3StoreConfig, VirtualHostStyleIsTheDefaultAndDefaultEndpointFollowsTheRegion) {
  StorageConfig config;
  config.s3_region = "eu-central-1";
  config.s3_bucket = "photos";
  config.s3_access_key_id = "AKID";
  config.s3_secret_access_key = "secret";
  S3ObjectStore store(config);
  const auto url = store.presign_get("a b.jpg", 60s, std::chrono::system_clock::time_point(1704110400s)).url;
  EXPECT_EQ(url.rfind("https://photos.s3.eu-central-1.amazonaws.com/a%20b.jpg?", 0), 0u) << url;
  EXPECT_NE(url.find("X-Amz-Credential=AKID%2F20240101%2Feu-central-1%2Fs3%2Faws4_request"),
            std::string::npos);
}

TEST(S3StoreConfig, R2RegionAutoNeedsAnEndpoint) {
  StorageConfig config;
  config.s3_region = "auto";
  config.s3_bucket = "photos";
  config.s3_access_key_id = "AKID";
  config.s3_secret_access_key = "secret";
  EXPECT_THROW(S3ObjectStore{config}, StorageError);
  config.s3_endpoint = "https://acct.r2.cloudflarestorage.com";
  S3ObjectStore store(config);
  const auto url = store.presign_get("k", 60s, std::chrono::system_clock::time_point(1704110400s)).url;
  EXPECT_EQ(url.rfind("https://photos.acct.r2.cloudflarestorage.com/k?", 0), 0u) << url;
  EXPECT_NE(url.find("%2Fauto%2Fs3%2Faws4_request"), std::string::npos);
}

TEST(S3StoreConfig, EndpointWithAPathOrWithoutSchemeIsRefused) {
  StorageConfig config;
  config.s3_bucket = "photos";
  config.s3_access_key_id = "AKID";
  config.s3_secret_access_key = "secret";
  config.s3_endpoint = "https://example.com/prefix";
  EXPECT_THROW(S3ObjectStore{config}, StorageError);
  config.s3_endpoint = "example.com";
  EXPECT_THROW(S3ObjectStore{config}, StorageError);
  config.s3_endpoint = "https://example.com:443/";  // default port and a bare slash are normalised away
  S3ObjectStore store(config);
  EXPECT_EQ(store.presign_get("k", 60s, std::chrono::system_clock::now())
                .url.rfind("https://photos.example.com/k?", 0),
            0u);
}

}  // namespace
}  // namespace imageproc::storage

// The shared ObjectStore contract (tests/integration/storage_contract.hpp), run against s3rver.
INSTANTIATE_TEST_SUITE_P(S3, ObjectStoreContract,
                         ::testing::Values(imageproc::testing::StoreFactory{
                             "S3",
                             [] {
                               return std::make_unique<imageproc::storage::S3ObjectStore>(
                                   imageproc::storage::s3rver_config());
                             },
                             [](const std::string& url) { return imageproc::testing::http_get_body(url); }}),
                         imageproc::testing::store_factory_name);
