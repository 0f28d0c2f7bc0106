// The local-disk backend: the ObjectStore contract, plus what only it has — the /files endpoint that serves
// its signed URLs (through the real HTTP server and request pipeline, in-process on a free port), atomic
// writes under contention, and refusal to follow symlinks out of the root.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "api/handlers/files.hpp"
#include "api/pipeline.hpp"
#include "api/server.hpp"
#include "auth/jwt.hpp"
#include "core/crypto.hpp"
#include "storage/local/local_store.hpp"
#include "storage_contract.hpp"

namespace {

namespace fs = std::filesystem;
using imageproc::storage::LocalObjectStore;
using imageproc::storage::StorageError;
using imageproc::storage::StorageErrorKind;
using imageproc::storage::UrlSigner;
using imageproc::testing::http_url;
using imageproc::testing::HttpResponse;
using namespace std::chrono_literals;

constexpr const char* kSigningSecret = "local-store-test-signing-secret-0123456789";

fs::path make_temp_dir(const std::string& stem) {
  std::string pattern = (fs::path(::testing::TempDir()) / (stem + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// Lets the server exist (and know its port) before the pipeline it serves: the signer needs the port.
class ForwardingHandler : public imageproc::api::HttpHandler {
 public:
  imageproc::api::HttpHandler* target = nullptr;
  BodyPolicy body_policy(std::string_view method, std::string_view path) const override {
    return target->body_policy(method, path);
  }
  imageproc::api::Response handle(imageproc::api::Request& r) override { return target->handle(r); }
  imageproc::api::Response reject(imageproc::api::Request& r, const imageproc::AppError& e) override {
    return target->reject(r, e);
  }
};

struct Listener {
  ForwardingHandler forward;
  imageproc::api::HttpServer server;
  std::string base_url;

  Listener() : server(options(), forward) {
    server.listen();
    base_url = "http://127.0.0.1:" + std::to_string(server.bound_port());
  }
  static imageproc::api::ServerOptions options() {
    imageproc::api::ServerOptions o;
    o.port = 0;
    o.handler_threads = 4;
    o.shutdown_grace = 5s;
    return o;
  }
};

imageproc::auth::JwtSettings dummy_jwt_settings() {
  imageproc::auth::JwtSettings s;
  s.issuer = "imageproc-test";
  s.audience = "imageproc-test";
  s.keys.push_back({"test", "unused-jwt-secret-for-the-files-endpoint-test"});
  return s;
}

// A LocalObjectStore over a fresh temporary root whose signed URLs are served by the real HTTP server and
// pipeline with FilesHandlers, in-process. Removes the root on destruction.
class ServedLocalStore : public LocalObjectStore {
 public:
  static constexpr std::size_t kMaxUpload = 4 * 1024 * 1024;

  static std::unique_ptr<ServedLocalStore> start() {
    auto listener = std::make_unique<Listener>();
    return std::unique_ptr<ServedLocalStore>(
        new ServedLocalStore(std::move(listener), make_temp_dir("local-store")));
  }

  ~ServedLocalStore() override {
    listener_->server.stop();
    thread_.join();
    std::error_code ec;
    fs::remove_all(root(), ec);
  }

  const std::string& base_url() const { return listener_->base_url; }

 private:
  ServedLocalStore(std::unique_ptr<Listener> listener, const fs::path& root)
      : LocalObjectStore(root, UrlSigner(kSigningSecret, listener->base_url)),
        listener_(std::move(listener)),
        jwt_(dummy_jwt_settings()),
        files_(*this, signer(), kMaxUpload) {
    imageproc::api::Router router;
    files_.register_routes(router);
    pipeline_ = std::make_unique<imageproc::api::Pipeline>(std::move(router), http_, limits_, jwt_, metrics_);
    listener_->forward.target = pipeline_.get();
    thread_ = std::thread([this] { listener_->server.run(); });
  }

  std::unique_ptr<Listener> listener_;
  imageproc::HttpConfig http_;
  imageproc::RateLimitConfig limits_;
  imageproc::auth::JwtService jwt_;
  imageproc::api::Metrics metrics_;
  imageproc::api::FilesHandlers files_;
  std::unique_ptr<imageproc::api::Pipeline> pipeline_;
  std::thread thread_;
};

INSTANTIATE_TEST_SUITE_P(Local, ObjectStoreContract,
                         ::testing::Values(imageproc::testing::StoreFactory{
                             "Local", [] { return ServedLocalStore::start(); },
                             [](const std::string& url) { return imageproc::testing::http_get_body(url); }}),
                         imageproc::testing::store_factory_name);

// --- local-only behaviour
// -----------------------------------------------------------------------------------

class LocalStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServedLocalStore> store_ = ServedLocalStore::start();
  const fs::path outside_ = make_temp_dir("outside-root");

  ~LocalStoreTest() override {
    std::error_code ec;
    fs::remove_all(outside_, ec);
  }

  std::string url_for(const std::string& key, std::chrono::seconds ttl = 600s) {
    return store_->presign_get(key, ttl, std::chrono::system_clock::now()).url;
  }
  HttpResponse get(const std::string& url, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return http_url("GET", url, std::move(headers));
  }
  std::int64_t now_epoch() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Replaces the value of query parameter `name` in `url`.
std::string with_param(const std::string& url, const std::string& name, const std::string& value) {
  const auto start = url.find(name + "=", url.find('?'));
  const auto end = url.find('&', start);
  return url.substr(0, start) + name + "=" + value + (end == std::string::npos ? "" : url.substr(end));
}

void expect_forbidden_problem(const HttpResponse& r) {
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
  EXPECT_EQ(r.json()["status"], 403);
}

TEST_F(LocalStoreTest, SignedUrlWorksAndAnyTamperingIsForbidden) {
  store_->put_buffer("u/photo.jpg", "jpeg bytes", "image/jpeg");
  store_->put_buffer("u/other.jpg", "other bytes", "image/jpeg");
  const auto url = url_for("u/photo.jpg");
  auto ok = get(url);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "jpeg bytes");

  const auto sig = url.substr(url.find("sig=") + 4);
  std::string flipped = sig;
  flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
  expect_forbidden_problem(get(with_param(url, "sig", flipped)));
  expect_forbidden_problem(get(with_param(url, "sig", "")));
  std::string other_key = url;
  other_key.replace(other_key.find("photo.jpg"), 9, "other.jpg");
  expect_forbidden_problem(get(other_key));
  const auto exp = std::stoll(url.substr(url.find("exp=") + 4));
  expect_forbidden_problem(get(with_param(url, "exp", std::to_string(exp + 1))));
  expect_forbidden_problem(get(url + "&exp=" + std::to_string(exp + 3600)));  // a second exp is refused
  expect_forbidden_problem(get(url.substr(0, url.find('?'))));                // unsigned
  // A correctly signed link whose time is up.
  const auto expired = store_->signer().get_url("u/photo.jpg", now_epoch() - 5);
  auto r = get(expired);
  expect_forbidden_problem(r);
  EXPECT_EQ(r.json()["detail"], "This link has expired.");
}

TEST_F(LocalStoreTest, CacheControlIsPrivateAndEndsWithTheLink) {
  store_->put_buffer("c/img.png", "png", "image/png");
  const auto signed_url = store_->presign_get(
      "c/img.png", 600s, imageproc::storage::stable_signing_time(std::chrono::system_clock::now(), 600s));
  const auto remaining = std::chrono::duration_cast<std::chrono::seconds>(signed_url.expires_at -
                                                                          std::chrono::system_clock::now())
                             .count();
  auto r = get(signed_url.url);
  ASSERT_EQ(r.status, 200);
  const auto cache = r.header("cache-control").value_or("");
  ASSERT_EQ(cache.rfind("private, max-age=", 0), 0u) << cache;
  const auto max_age = std::stoll(cache.substr(17));
  EXPECT_GT(max_age, 0);
  EXPECT_LE(max_age, remaining + 1);  // +1: the second may tick between our clock read and the server's
  EXPECT_LE(max_age, 600);
}

TEST_F(LocalStoreTest, FileResponsesAreSandboxedAndTyped) {
  store_->put_buffer("s/evil.svg", "<svg onload=alert(1)>", "image/svg+xml");
  auto r = get(url_for("s/evil.svg"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type").value_or(""), "image/svg+xml");
  EXPECT_EQ(r.header("content-security-policy").value_or(""), "default-src 'none'; sandbox");
  EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  EXPECT_EQ(r.header("accept-ranges").value_or(""), "bytes");
  const auto etag = r.header("etag").value_or("");
  EXPECT_GT(etag.size(), 2u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag, "\"" + store_->head("s/evil.svg")->etag + "\"");
}

TEST_F(LocalStoreTest, MissingObjectWithValidSignatureIs404) {
  auto r = get(url_for("nope/missing.png"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
}

TEST_F(LocalStoreTest, RangeRequestsServeOnlyTheRange) {
  store_->put_buffer("r/data.bin", "0123456789", "application/octet-stream");
  const auto url = url_for("r/data.bin");

  auto r = get(url, {{"Range", "bytes=2-5"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "2345");
  EXPECT_EQ(r.header("content-range").value_or(""), "bytes 2-5/10");

  r = get(url, {{"Range", "bytes=7-"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");
  EXPECT_EQ(r.header("content-range").value_or(""), "bytes 7-9/10");

  r = get(url, {{"Range", "bytes=-3"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");

  r = get(url, {{"Range", "bytes=8-100"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "89");
  EXPECT_EQ(r.header("content-range").value_or(""), "bytes 8-9/10");

  r = get(url, {{"Range", "bytes=10-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range").value_or(""), "bytes */10");
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");

  r = get(url, {{"Range", "bytes=-0"}});
  EXPECT_EQ(r.status, 416);

  r = get(url, {{"Range", "bytes=0-1,4-5"}});  // several ranges: the whole object instead
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");

  r = get(url, {{"Range", "items=0-1"}});  // a unit we do not know: ignored
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
}

TEST_F(LocalStoreTest, HeadReportsTheLengthWithoutABody) {
  store_->put_buffer("h/file.txt", "hello world", "text/plain");
  auto r = http_url("HEAD", url_for("h/file.txt"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length").value_or(""), "11");
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(LocalStoreTest, ConcurrentWritersOfOneKeyLeaveOneCompletePayload) {
  constexpr int kWriters = 8;
  constexpr std::size_t kSize = 1024 * 1024;
  std::vector<std::string> payloads;
  for (int i = 0; i < kWriters; ++i)
    payloads.push_back(std::string(kSize - static_cast<std::size_t>(i), static_cast<char>('A' + i)));
  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> go{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        try {
          store_->put_buffer("hot/key", payloads[static_cast<std::size_t>(i)],
                             "application/x-writer-" + std::to_string(i));
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          failures.fetch_add(1);
        }
      });
    }
    // A reader racing the writers sees some complete version every time, with that version's content type.
    std::thread reader([&] {
      while (!go.load()) std::this_thread::yield();
      for (int n = 0; n < 50; ++n) {
        auto r = store_->open("hot/key");
        if (!r) continue;
        const auto body = r->read(0, static_cast<std::size_t>(r->info().size));
        const int writer = body.empty() ? -1 : body[0] - 'A';
        ASSERT_TRUE(writer >= 0 && writer < kWriters && body == payloads[static_cast<std::size_t>(writer)]);
        EXPECT_EQ(r->info().content_type, "application/x-writer-" + std::to_string(writer));
      }
    });
    go = true;
    for (auto& t : threads) t.join();
    reader.join();
    ASSERT_EQ(failures.load(), 0);
    const auto body = store_->get_to_buffer("hot/key", 2 * kSize);
    const auto match = std::find(payloads.begin(), payloads.end(), body);
    ASSERT_NE(match, payloads.end()) << "the stored object is not one writer's payload";
    EXPECT_EQ(store_->head("hot/key")->content_type,
              "application/x-writer-" + std::to_string(match - payloads.begin()));
  }
  for (const auto& entry : fs::recursive_directory_iterator(store_->root())) {
    EXPECT_EQ(entry.path().filename().string().find(".imageproc-tmp-"), std::string::npos)
        << "temporary file left behind: " << entry.path();
  }
}

TEST_F(LocalStoreTest, SymlinksInsideTheRootAreNeverFollowed) {
  { std::ofstream(outside_ / "secret.txt") << "outside secret"; }
  fs::create_directories(store_->root() / "u");
  fs::create_directory_symlink(outside_, store_->root() / "u" / "dirlink");
  fs::create_symlink(outside_ / "secret.txt", store_->root() / "u" / "filelink");

  for (const std::string key : {"u/dirlink/secret.txt", "u/filelink"}) {
    SCOPED_TRACE(key);
    try {
      (void)store_->get_to_buffer(key, 1000);
      ADD_FAILURE() << "read through a symlink";
    } catch (const StorageError& e) {
      EXPECT_EQ(e.kind(), StorageErrorKind::AccessDenied);
    }
    EXPECT_THROW(store_->head(key), StorageError);
    auto r = get(url_for(key));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body.find("outside secret"), std::string::npos);
  }
  EXPECT_THROW(store_->put_buffer("u/dirlink/planted.txt", "x", "text/plain"), StorageError);
  EXPECT_FALSE(fs::exists(outside_ / "planted.txt"));
  EXPECT_THROW(store_->put_buffer("u/filelink", "overwrite", "text/plain"), StorageError);
  EXPECT_THROW(store_->remove("u/filelink"), StorageError);
  std::string secret;
  std::getline(std::ifstream(outside_ / "secret.txt"), secret);
  EXPECT_EQ(secret, "outside secret");
  EXPECT_TRUE(store_->list("", std::nullopt).objects.empty()) << "list must not walk into or report symlinks";
}

TEST_F(LocalStoreTest, PresignedPutStoresTheObject) {
  const auto upload =
      store_->presign_put("up/new.png", "image/png", 100, 600s, std::chrono::system_clock::now());
  EXPECT_EQ(upload.method, "PUT");
  EXPECT_EQ(upload.headers.at("Content-Type"), "image/png");

  auto r = http_url("PUT", upload.url, {{"Content-Type", "image/png"}}, std::string(100, 'p'));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(store_->get_to_buffer("up/new.png", 1000), std::string(100, 'p'));
  EXPECT_EQ(store_->head("up/new.png")->content_type, "image/png");

  r = http_url("PUT", upload.url, {{"Content-Type", "image/jpeg"}}, "x");
  EXPECT_EQ(r.status, 403) << "a Content-Type other than the signed one";
  r = http_url("PUT", upload.url, {{"Content-Type", "image/png"}}, std::string(101, 'p'));
  EXPECT_EQ(r.status, 413);
  r = http_url("PUT", with_param(upload.url, "max", "1000"), {{"Content-Type", "image/png"}},
               std::string(101, 'p'));
  EXPECT_EQ(r.status, 403) << "the size limit is signed";
  r = http_url("PUT", with_param(upload.url, "ct", "text%2Fhtml"), {{"Content-Type", "text/html"}},
               "<script>");
  EXPECT_EQ(r.status, 403) << "the content type is signed";
  r = http_url("PUT", url_for("up/new.png"), {{"Content-Type", "image/png"}}, "x");
  EXPECT_EQ(r.status, 403) << "a read link is not an upload link";
  r = http_url("PUT", upload.url, {{"Content-Type", "image/png"}},
               std::string(ServedLocalStore::kMaxUpload + 1, 'p'));
  EXPECT_EQ(r.status, 413) << "the route's body limit (a body over 1 MiB must not be refused as malformed)";
  EXPECT_EQ(store_->get_to_buffer("up/new.png", 1000), std::string(100, 'p'))
      << "refused uploads changed nothing";

  // Real photos are several MiB: more than Beast's default 1 MiB request body limit.
  const std::string photo(2 * 1024 * 1024 + 5, 'j');
  const auto big =
      store_->presign_put("up/big.jpg", "image/jpeg", photo.size(), 600s, std::chrono::system_clock::now());
  r = http_url("PUT", big.url, {{"Content-Type", "image/jpeg"}}, photo);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(store_->head("up/big.jpg").value_or(imageproc::storage::ObjectInfo{}).size, photo.size());

  const auto expired =
      store_->presign_put("up/late.png", "image/png", 100, 1s, std::chrono::system_clock::now() - 10s);
  r = http_url("PUT", expired.url, {{"Content-Type", "image/png"}}, "x");
  EXPECT_EQ(r.status, 403);
  EXPECT_FALSE(store_->head("up/late.png").has_value());
}

TEST_F(LocalStoreTest, InvalidKeysNeverReachTheDisk) {
  std::vector<std::string> calls;
  std::mutex mutex;
  store_->set_fault_hook([&](std::string_view op, const std::string& key) {
    std::lock_guard lock(mutex);
    calls.push_back(std::string(op) + " " + key);
  });
  for (const std::string key : {"../x", "/abs", "a//b", "a\\b", "a/./b", ".imageproc-meta-x"}) {
    EXPECT_THROW(store_->put_buffer(key, "x", "text/plain"), StorageError);
    EXPECT_THROW(store_->head(key), StorageError);
    EXPECT_THROW(store_->remove(key), StorageError);
  }
  EXPECT_TRUE(calls.empty()) << calls.front();
  store_->put_buffer("valid", "x", "text/plain");
  EXPECT_EQ(calls, std::vector<std::string>{"put valid"});
  store_->set_fault_hook({});
}

TEST_F(LocalStoreTest, FaultHookSimulatesFailures) {
  store_->set_fault_hook([](std::string_view op, const std::string&) {
    if (op == "put") throw StorageError(StorageErrorKind::Transient, "injected");
  });
  try {
    store_->put_buffer("f/x", "x", "text/plain");
    ADD_FAILURE() << "the hook did not fire";
  } catch (const StorageError& e) {
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_FALSE(store_->head("f/x").has_value());
  store_->set_fault_hook({});
  store_->put_buffer("f/x", "x", "text/plain");
  EXPECT_TRUE(store_->head("f/x").has_value());
}

TEST_F(LocalStoreTest, SidecarsAndTemporaryFilesAreInvisible) {
  store_->put_buffer("v/a.png", "a", "image/png");
  std::ofstream(store_->root() / "v" / ".imageproc-tmp-leftover") << "crashed writer";
  const auto page = store_->list("", std::nullopt);
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "v/a.png");
  EXPECT_EQ(page.objects[0].size, 1u);
}

TEST_F(LocalStoreTest, RemovePrunesEmptyDirectoriesButNeverTheRoot) {
  store_->put_buffer("p/q/r/obj", "x", "text/plain");
  store_->put_buffer("p/keep", "x", "text/plain");
  store_->remove("p/q/r/obj");
  EXPECT_FALSE(fs::exists(store_->root() / "p" / "q"));
  EXPECT_TRUE(fs::exists(store_->root() / "p" / "keep"));
  store_->remove("p/keep");
  EXPECT_FALSE(fs::exists(store_->root() / "p"));
  EXPECT_TRUE(fs::is_directory(store_->root()));
  EXPECT_TRUE(fs::is_empty(store_->root()));
}

TEST_F(LocalStoreTest, AKeyCannotBeBothAnObjectAndAPrefix) {
  store_->put_buffer("k", "object", "text/plain");
  try {
    store_->put_buffer("k/child", "x", "text/plain");
    ADD_FAILURE() << "stored under an object";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Permanent);
  }
  store_->put_buffer("d/child", "x", "text/plain");
  EXPECT_THROW(store_->put_buffer("d", "x", "text/plain"), StorageError);
  EXPECT_FALSE(store_->head("d").has_value()) << "a prefix is not an object";
  EXPECT_FALSE(store_->head("k/child").has_value());
}

TEST_F(LocalStoreTest, CheckReadyFailsWhenTheRootIsGone) {
  EXPECT_NO_THROW(store_->check_ready());
  EXPECT_TRUE(fs::is_empty(store_->root())) << "the probe file is removed";
  fs::remove_all(store_->root());
  EXPECT_THROW(store_->check_ready(), StorageError);
}

TEST_F(LocalStoreTest, PresignRefusesLifetimesOutsideOneSecondToSevenDays) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_THROW(store_->presign_get("k", 0s, now), StorageError);
  EXPECT_THROW(store_->presign_get("k", 7 * 24h + 1s, now), StorageError);
  EXPECT_NO_THROW(store_->presign_get("k", 7 * 24h, now));
  EXPECT_NO_THROW(store_->presign_get("k", 1s, now));
}

}  // namespace
