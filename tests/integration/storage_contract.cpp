// The ObjectStore contract cases, run for every backend that instantiates ObjectStoreContract (see the
// header).

#include "storage_contract.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "core/crypto.hpp"

namespace imageproc::testing {

namespace fs = std::filesystem;
using storage::StorageError;
using storage::StorageErrorKind;

HttpResponse http_url(const std::string& method, const std::string& url,
                      std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  const auto scheme = url.find("://");
  const auto path_start = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (path_start == std::string::npos) throw std::invalid_argument("not an absolute URL: " + url);
  return http(url.substr(0, path_start),
              HttpRequest{method, url.substr(path_start), std::move(body), std::move(headers)});
}

std::string http_get_body(const std::string& url) {
  auto response = http_url("GET", url);
  if (response.status < 200 || response.status > 299) throw FetchError(response.status, url);
  return std::move(response.body);
}

void ObjectStoreContract::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr);
  prefix_ = "contract-" + crypto::hex_encode(crypto::random_bytes(8)) + "/";
}

void ObjectStoreContract::TearDown() {
  if (!store_) return;
  try {
    store_->remove_prefix(prefix_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cleaning up " << prefix_ << ": " << e.what();
  }
  store_.reset();
}

}  // namespace imageproc::testing

namespace {

namespace fs = std::filesystem;
using imageproc::storage::stable_signing_time;
using imageproc::storage::StorageError;
using imageproc::storage::StorageErrorKind;
using imageproc::testing::FetchError;
using namespace std::chrono_literals;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Runs `op` and returns the StorageError kind it threw (a test failure if it did not throw one).
template <typename Op>
std::optional<StorageErrorKind> error_kind(Op&& op) {
  try {
    op();
  } catch (const StorageError& e) {
    return e.kind();
  }
  return std::nullopt;
}

// A scratch directory for put_file/get_to_file, removed with the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "contract-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> keys_of(const imageproc::storage::ListPage& page) {
  std::vector<std::string> out;
  for (const auto& o : page.objects) out.push_back(o.key);
  return out;
}

TEST_P(ObjectStoreContract, BufferRoundTripKeepsBytesAndContentType) {
  const std::string data = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(1, '\0') + random_bytes(5000, 1);
  store().put_buffer(key("image.png"), data, "image/png");
  EXPECT_EQ(store().get_to_buffer(key("image.png"), 1 << 20), data);
  const auto info = store().head(key("image.png"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->key, key("image.png"));
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->content_type, "image/png");
  EXPECT_FALSE(info->etag.empty());
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - info->last_modified), 10min);
}

TEST_P(ObjectStoreContract, FileRoundTripStreamsSeveralMegabytes) {
  ScratchDir dir;
  const std::string data = random_bytes(3 * 1024 * 1024 + 17, 2);
  {
    std::ofstream out(dir.path() / "source.bin", std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  store().put_file(key("big.bin"), dir.path() / "source.bin", "application/octet-stream");
  const auto info = store().get_to_file(key("big.bin"), dir.path() / "copy.bin");
  EXPECT_EQ(info.size, data.size());
  EXPECT_EQ(info.content_type, "application/octet-stream");
  EXPECT_TRUE(read_file(dir.path() / "copy.bin") == data) << "downloaded bytes differ";
  // Replacing an existing destination file works too.
  store().put_buffer(key("big.bin"), "small", "text/plain");
  store().get_to_file(key("big.bin"), dir.path() / "copy.bin");
  EXPECT_EQ(read_file(dir.path() / "copy.bin"), "small");
}

TEST_P(ObjectStoreContract, HeadOfMissingObjectIsNullopt) {
  EXPECT_FALSE(store().head(key("missing")).has_value());
  EXPECT_FALSE(store().head(key("missing/deeper/still")).has_value());
}

TEST_P(ObjectStoreContract, GetOfMissingObjectIsNotFound) {
  ScratchDir dir;
  EXPECT_EQ(error_kind([&] { store().get_to_buffer(key("missing"), 100); }), StorageErrorKind::NotFound);
  EXPECT_EQ(error_kind([&] { store().get_to_file(key("missing"), dir.path() / "out"); }),
            StorageErrorKind::NotFound);
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
}

TEST_P(ObjectStoreContract, OverwriteReplacesBytesAndContentType) {
  store().put_buffer(key("obj"), "first version", "image/jpeg");
  store().put_buffer(key("obj"), "second", "image/webp");
  EXPECT_EQ(store().get_to_buffer(key("obj"), 100), "second");
  const auto info = store().head(key("obj"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->size, 6u);
  EXPECT_EQ(info->content_type, "image/webp");
}

TEST_P(ObjectStoreContract, RemoveIsIdempotent) {
  EXPECT_NO_THROW(store().remove(key("never-existed")));
  store().put_buffer(key("doomed"), "x", "text/plain");
  store().remove(key("doomed"));
  EXPECT_FALSE(store().head(key("doomed")).has_value());
  EXPECT_NO_THROW(store().remove(key("doomed")));
}

TEST_P(ObjectStoreContract, RemoveManyDeletesTheListedKeysOnly) {
  for (const auto* name : {"a", "b", "c"}) store().put_buffer(key(name), name, "text/plain");
  store().remove_many({key("a"), key("c"), key("not-there")});
  EXPECT_FALSE(store().head(key("a")).has_value());
  EXPECT_TRUE(store().head(key("b")).has_value());
  EXPECT_FALSE(store().head(key("c")).has_value());
  EXPECT_NO_THROW(store().remove_many({}));
}

TEST_P(ObjectStoreContract, ListPaginatesInLexicographicKeyOrder) {
  // Keys where whole-key order and a directory walk agree: s3rver (the test S3) walks folders, so it would list
  // "a/b" before "a-c" although S3 itself sorts by whole key ('-' < '/'). Nothing in the product depends on
  // that difference (deletion by prefix always lists from the start).
  for (const auto* name : {"e", "a/b", "c", "b", "d"}) store().put_buffer(key(name), name, "text/plain");
  std::vector<std::string> seen;
  std::optional<std::string> token;
  int pages = 0;
  do {
    const auto page = store().list(prefix_, token, 2);
    ASSERT_LE(page.objects.size(), 2u);
    for (const auto& o : page.objects) {
      seen.push_back(o.key);
      EXPECT_EQ(o.size, o.key.size() - prefix_.size()) << o.key;
    }
    token = page.next_token;
    ASSERT_LT(++pages, 10) << "pagination does not end";
  } while (token);
  EXPECT_EQ(seen, (std::vector<std::string>{key("a/b"), key("b"), key("c"), key("d"), key("e")}));
  EXPECT_EQ(pages, 3);
}

TEST_P(ObjectStoreContract, ListFiltersByPlainStringPrefix) {
  for (const auto* name : {"img/1", "img/2", "imgx/3", "other/4"})
    store().put_buffer(key(name), "x", "text/plain");
  EXPECT_EQ(keys_of(store().list(key("img/"), std::nullopt)),
            (std::vector<std::string>{key("img/1"), key("img/2")}));
  EXPECT_EQ(keys_of(store().list(key("img"), std::nullopt)),
            (std::vector<std::string>{key("img/1"), key("img/2"), key("imgx/3")}));
  EXPECT_TRUE(store().list(key("nothing/"), std::nullopt).objects.empty());
  const auto all = store().list(prefix_, std::nullopt);
  EXPECT_EQ(all.objects.size(), 4u);
  EXPECT_FALSE(all.next_token.has_value());
}

TEST_P(ObjectStoreContract, RemovePrefixDeletesEverythingUnderItAndNothingElse) {
  for (const auto* name : {"x/1", "x/2", "x/y/3", "xy/4", "z"})
    store().put_buffer(key(name), "x", "text/plain");
  EXPECT_EQ(store().remove_prefix(key("x/")), 3u);
  EXPECT_EQ(keys_of(store().list(prefix_, std::nullopt)), (std::vector<std::string>{key("xy/4"), key("z")}));
  EXPECT_EQ(store().remove_prefix(key("x/")), 0u);
}

TEST_P(ObjectStoreContract, InvalidKeysAreRefusedAsPermanent) {
  const std::vector<std::string> bad = {"../x", "/abs", "a//b", "a\\b", std::string("a\0b", 3),    "a/./b",
                                        "",     "a/",   "a/..", "a\nb", std::string("\xff\xfe", 2)};
  ScratchDir dir;
  const auto now = std::chrono::system_clock::now();
  for (const auto& k : bad) {
    SCOPED_TRACE(::testing::PrintToString(k));
    EXPECT_EQ(error_kind([&] { store().put_buffer(k, "x", "text/plain"); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().put_file(k, dir.path() / "none", "text/plain"); }),
              StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().get_to_buffer(k, 10); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().get_to_file(k, dir.path() / "out"); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().head(k); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().remove(k); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().remove_many({key("fine"), k}); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().presign_get(k, 600s, now); }), StorageErrorKind::Permanent);
    EXPECT_EQ(error_kind([&] { store().presign_put(k, "image/png", 100, 600s, now); }),
              StorageErrorKind::Permanent);
  }
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
}

TEST_P(ObjectStoreContract, PresignedGetServesTheBytes) {
  const std::string data = random_bytes(70000, 3);
  store().put_buffer(key("photo.jpg"), data, "image/jpeg");
  const auto signing_time = stable_signing_time(std::chrono::system_clock::now(), 600s);
  const auto url = store().presign_get(key("photo.jpg"), 600s, signing_time);
  EXPECT_EQ(url.expires_at, signing_time + 600s);
  EXPECT_TRUE(GetParam().fetch(url.url) == data) << "presigned download differs";
}

TEST_P(ObjectStoreContract, PresignedGetOfMissingObjectFails) {
  const auto url = store().presign_get(key("missing.jpg"), 600s, std::chrono::system_clock::now());
  EXPECT_THROW(GetParam().fetch(url.url), FetchError);
}

TEST_P(ObjectStoreContract, PresignedUrlsAreStableWithinAWindow) {
  store().put_buffer(key("stable"), "x", "text/plain");
  const auto ttl = 600s;
  const auto t0 = stable_signing_time(std::chrono::system_clock::now(), ttl);
  // Two instants inside one window (half the TTL) share the signing time, and so the URL.
  EXPECT_EQ(stable_signing_time(t0 + 1s, ttl), t0);
  EXPECT_EQ(stable_signing_time(t0 + 299s, ttl), t0);
  EXPECT_NE(stable_signing_time(t0 + 300s, ttl), t0);
  const auto a = store().presign_get(key("stable"), ttl, stable_signing_time(t0 + 1s, ttl));
  const auto b = store().presign_get(key("stable"), ttl, stable_signing_time(t0 + 299s, ttl));
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.expires_at, b.expires_at);
  const auto c = store().presign_get(key("stable"), ttl, stable_signing_time(t0 + 300s, ttl));
  EXPECT_NE(a.url, c.url);
}

TEST_P(ObjectStoreContract, KeysWithSpacesAndUnicodeRoundTrip) {
  const std::string k = key("dir with space/ünï cødé 日本 +&=?#%;.png");
  const std::string data = random_bytes(1000, 4);
  store().put_buffer(k, data, "image/png");
  EXPECT_EQ(store().get_to_buffer(k, 2000), data);
  EXPECT_EQ(keys_of(store().list(prefix_, std::nullopt)), std::vector<std::string>{k});
  const auto url = store().presign_get(k, 600s, std::chrono::system_clock::now());
  EXPECT_TRUE(GetParam().fetch(url.url) == data);
}

TEST_P(ObjectStoreContract, GetToBufferOverMaxBytesIsPermanent) {
  store().put_buffer(key("hundred"), std::string(100, 'x'), "text/plain");
  EXPECT_EQ(error_kind([&] { store().get_to_buffer(key("hundred"), 99); }), StorageErrorKind::Permanent);
  EXPECT_EQ(store().get_to_buffer(key("hundred"), 100).size(), 100u);
}

TEST_P(ObjectStoreContract, CheckReadySucceedsOnAUsableStore) {
  EXPECT_NO_THROW(store().check_ready());
}

}  // namespace
