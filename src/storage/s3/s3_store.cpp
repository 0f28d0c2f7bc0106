#include "storage/s3/s3_store.hpp"

#include "core/curl_support.hpp"
#include "core/text.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/crypto.hpp"
#include "core/logging.hpp"

namespace imageproc::storage {

// ---------------------------------------------------------------------------------------------------------------
// Request / response of one S3 call
// ---------------------------------------------------------------------------------------------------------------

struct S3ObjectStore::Request {
  std::string operation;  // "PutObject", ... (messages and logs)
  std::string key;        // object key or prefix (messages and logs), may be empty
  std::string method;     // GET, HEAD, PUT, POST, DELETE
  Target target;
  std::multimap<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;  // signed and sent
  std::string payload_hash = std::string(sigv4::kEmptyPayloadHash);

  // Body: a buffer (re-sent as is) or a file (reopened on every attempt).
  std::string_view body;
  std::optional<std::filesystem::path> body_file;
  std::uint64_t body_size = 0;

  // Successful (2xx) response body: into memory up to `max_body` bytes, or into a file.
  std::optional<std::filesystem::path> sink_file;
  std::size_t max_body = 16 * 1024 * 1024;
};

struct S3ObjectStore::Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string body;                            // 2xx body in memory, or the (capped) error body
  std::uint64_t body_bytes = 0;                // bytes of a 2xx body (also when written to a file)

  // Failures that are not an HTTP status.
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  bool body_too_large = false;  // 2xx body exceeded Request::max_body
  std::string local_error;      // reading the upload file or writing the download file failed

  std::optional<std::string> header(const std::string& name) const {
    const auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxErrorBody = 64 * 1024;  // S3 error documents are small; never buffer a huge one
constexpr std::size_t kDeleteBatch = 1000;        // DeleteObjects limit

[[noreturn]] void fail(StorageErrorKind kind, const std::string& message) {
  throw StorageError(kind, message);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return text;
}

// ----- XML (S3 responses are small, flat and machine-written: element search plus entity decoding suffices)
// -----

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string s3xml::decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] != '&') {
      out.push_back(text[i++]);
      continue;
    }
    const auto semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out.push_back(text[i++]);
      continue;
    }
    const auto entity = text.substr(i + 1, semi - i - 1);
    bool decoded = true;
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.size() > 1 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const auto digits = entity.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      decoded = !digits.empty();
      for (const char c : digits) {
        int v = -1;
        if (c >= '0' && c <= '9')
          v = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
          v = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
          v = c - 'A' + 10;
        if (v < 0 || cp > 0x10FFFF) {
          decoded = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
      }
      // Surrogates and out-of-range values are not characters: keep the text as it was.
      if (decoded && (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) decoded = false;
      if (decoded) text::append_utf8(out, static_cast<char32_t>(cp));
    } else {
      decoded = false;
    }
    if (decoded) {
      i = semi + 1;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

// Text cannot contain a raw '<' in well-formed XML, so searching for the tag cannot be fooled by content.
std::vector<std::string_view> s3xml::elements(std::string_view xml, std::string_view name) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(name);
  const std::string close = "</" + std::string(name) + ">";
  std::size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const auto after = pos + open.size();
    if (after >= xml.size()) break;
    const char next = xml[after];
    if (next != '>' && next != '/' && next != ' ' && next != '\t' && next != '\r' && next != '\n') {
      pos = after;
      continue;
    }
    const auto tag_end = xml.find('>', after);
    if (tag_end == std::string_view::npos) break;
    if (xml[tag_end - 1] == '/') {  // <name/>
      out.emplace_back();
      pos = tag_end + 1;
      continue;
    }
    const auto end = xml.find(close, tag_end + 1);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(tag_end + 1, end - tag_end - 1));
    pos = end + close.size();
  }
  return out;
}

namespace {

std::optional<std::string> xml_text(std::string_view xml, std::string_view name) {
  const auto found = s3xml::elements(xml, name);
  if (found.empty()) return std::nullopt;
  return s3xml::decode(found.front());
}

std::string strip_quotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') return etag.substr(1, etag.size() - 2);
  return etag;
}

// "2009-10-12T17:50:30.000Z"
std::chrono::system_clock::time_point parse_iso8601(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &year, &month, &day, &hour, &minute, &second) != 6)
    return {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// "Wed, 12 Oct 2009 17:50:00 GMT"
std::chrono::system_clock::time_point parse_http_date(const std::optional<std::string>& text) {
  if (!text) return {};
  const auto t = curl_getdate(text->c_str(), nullptr);
  if (t < 0) return {};
  return std::chrono::system_clock::from_time_t(t);
}

std::uint64_t parse_u64(const std::optional<std::string>& text) {
  if (!text || text->empty()) return 0;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return 0;
  }
}

// ----- hashing (streaming, so files are never loaded whole) -----

std::string digest_file(const std::filesystem::path& file, const EVP_MD* md) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(StorageErrorKind::Permanent, "cannot open " + file.string() + " for upload");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit failed");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = in.gcount();
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n)) != 1) {
      throw std::runtime_error("EVP_DigestUpdate failed");
    }
  }
  if (in.bad()) fail(StorageErrorKind::Permanent, "cannot read " + file.string() + " for upload");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) throw std::runtime_error("EVP_DigestFinal failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string md5(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr) != 1) {
    throw std::runtime_error("MD5 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// ----- retry policy -----

bool is_retryable_status(long status) {
  return status >= 500 || status == 429;
}

bool is_retryable_code(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable" || code == "Throttling" || code == "ThrottlingException";
}


std::chrono::milliseconds backoff_delay(const S3Tuning& tuning, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto exp = std::min(tuning.backoff_cap.count(),
                            tuning.backoff_base.count() * (std::int64_t{1} << std::min(attempt - 1, 20)));
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(0, exp));
  return std::chrono::milliseconds(pick(rng));
}


}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Handle pool: CURL easy handles keep their connection cache, so reusing them reuses TCP/TLS connections.
// ---------------------------------------------------------------------------------------------------------------

class S3ObjectStore::HandlePool {
 public:
  explicit HandlePool(std::size_t max_idle) : max_idle_(max_idle) {}
  ~HandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  struct Release {
    HandlePool* pool;
    void operator()(CURL* h) const { pool->release(h); }
  };
  using Handle = std::unique_ptr<CURL, Release>;

  Handle acquire() {
    CURL* h = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        h = idle_.back();
        idle_.pop_back();
      }
    }
    if (h) {
      curl_easy_reset(h);  // clears options, keeps live connections and the DNS cache
    } else {
      h = curl_easy_init();
      if (!h) throw std::runtime_error("curl_easy_init failed");
    }
    return Handle(h, Release{this});
  }

 private:
  void release(CURL* h) {
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < max_idle_) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  std::mutex mutex_;
  std::vector<CURL*> idle_;
  std::size_t max_idle_;
};

// ---------------------------------------------------------------------------------------------------------------
// Circuit breaker (closed → open after N consecutive transient failures → half-open single probe →
// closed/open)
// ---------------------------------------------------------------------------------------------------------------

class S3ObjectStore::CircuitBreaker {
 public:
  CircuitBreaker(int threshold, std::chrono::milliseconds cooldown)
      : threshold_(threshold), cooldown_(cooldown) {}

  // Throws Transient while open. Returns true when this call is the half-open probe.
  bool admit() {
    std::lock_guard lock(mutex_);
    if (!open_) return false;
    if (Clock::now() < open_until_ || probe_in_flight_) {
      fail(StorageErrorKind::Transient, "storage circuit open: S3 failed repeatedly, not trying again yet");
    }
    probe_in_flight_ = true;
    return true;
  }

  // The store answered (any status that is not a transient failure): it is reachable and healthy.
  void on_success() {
    std::lock_guard lock(mutex_);
    if (open_) log::info("s3 circuit closed", {{"after_failures", consecutive_failures_}});
    consecutive_failures_ = 0;
    open_ = false;
    probe_in_flight_ = false;
  }

  void on_transient_failure() {
    std::lock_guard lock(mutex_);
    probe_in_flight_ = false;
    ++consecutive_failures_;
    if (open_ || consecutive_failures_ >= threshold_) {
      if (!open_) {
        log::warn("s3 circuit opened", {{"consecutive_failures", consecutive_failures_},
                                        {"cooldown_ms", static_cast<std::int64_t>(cooldown_.count())}});
      }
      open_ = true;
      open_until_ = Clock::now() + cooldown_;
    }
  }

  // A probe that ended for a local reason (bad key, unreadable file) proved nothing: let another one through.
  void abandon_probe() {
    std::lock_guard lock(mutex_);
    probe_in_flight_ = false;
  }

 private:
  std::mutex mutex_;
  const int threshold_;
  const std::chrono::milliseconds cooldown_;
  int consecutive_failures_ = 0;
  bool open_ = false;
  bool probe_in_flight_ = false;
  Clock::time_point open_until_{};
};

// ---------------------------------------------------------------------------------------------------------------
// Construction and addressing
// ---------------------------------------------------------------------------------------------------------------

S3ObjectStore::S3ObjectStore(StorageConfig config, S3Tuning tuning)
    : config_(std::move(config)), tuning_(tuning) {
  ensure_curl_initialised();
  if (config_.s3_bucket.empty()) fail(StorageErrorKind::Permanent, "S3_BUCKET is required");
  if (config_.s3_region.empty()) fail(StorageErrorKind::Permanent, "S3_REGION is required");
  if (config_.s3_access_key_id.empty() || config_.s3_secret_access_key.empty()) {
    fail(StorageErrorKind::Permanent, "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required");
  }
  std::string endpoint = config_.s3_endpoint;
  if (endpoint.empty()) {
    if (config_.s3_region == "auto") {
      fail(StorageErrorKind::Permanent, "S3_REGION=auto (Cloudflare R2) needs S3_ENDPOINT");
    }
    endpoint = "https://s3." + config_.s3_region + ".amazonaws.com";
  }
  const auto sep = endpoint.find("://");
  if (sep == std::string::npos)
    fail(StorageErrorKind::Permanent, "S3_ENDPOINT must start with http:// or https://");
  scheme_ = lower(endpoint.substr(0, sep));
  if (scheme_ != "http" && scheme_ != "https") {
    fail(StorageErrorKind::Permanent, "S3_ENDPOINT must start with http:// or https://");
  }
  auto authority = endpoint.substr(sep + 3);
  const auto slash = authority.find('/');
  if (slash != std::string::npos) {
    if (authority.find_first_not_of('/', slash) != std::string::npos) {
      fail(StorageErrorKind::Permanent, "S3_ENDPOINT must not contain a path (the bucket goes in S3_BUCKET)");
    }
    authority.resize(slash);
  }
  if (authority.empty() || authority.find('@') != std::string::npos) {
    fail(StorageErrorKind::Permanent, "S3_ENDPOINT must be scheme://host[:port]");
  }
  // The Host header omits the scheme's default port; signing what is sent needs the same form.
  const std::string default_port = scheme_ == "https" ? ":443" : ":80";
  if (authority.size() > default_port.size() &&
      authority.compare(authority.size() - default_port.size(), default_port.size(), default_port) == 0) {
    authority.resize(authority.size() - default_port.size());
  }
  endpoint_host_ = lower(authority);
  credentials_ = {config_.s3_access_key_id, config_.s3_secret_access_key};
  scope_ = {config_.s3_region, "s3"};
  handles_ = std::make_unique<HandlePool>(tuning_.max_idle_handles);
  breaker_ =
      std::make_unique<CircuitBreaker>(std::max(1, tuning_.breaker_threshold), tuning_.breaker_cooldown);
}

S3ObjectStore::~S3ObjectStore() = default;

S3ObjectStore::Target S3ObjectStore::object_target(const std::string& key) const {
  if (config_.s3_force_path_style) return {endpoint_host_, "/" + config_.s3_bucket + "/" + key};
  return {config_.s3_bucket + "." + endpoint_host_, "/" + key};
}

S3ObjectStore::Request S3ObjectStore::object_request(const char* operation, const char* method,
                                                     const std::string& key) const {
  Request request;
  request.operation = operation;
  request.key = key;
  request.method = method;
  request.target = object_target(key);
  return request;
}

S3ObjectStore::Target S3ObjectStore::bucket_target() const {
  if (config_.s3_force_path_style) return {endpoint_host_, "/" + config_.s3_bucket};
  return {config_.s3_bucket + "." + endpoint_host_, "/"};
}

// ---------------------------------------------------------------------------------------------------------------
// One HTTP exchange
// ---------------------------------------------------------------------------------------------------------------

namespace {

struct Transfer {
  CURL* handle = nullptr;
  const S3ObjectStore::Request* request = nullptr;
  S3ObjectStore::Response* response = nullptr;

  // upload
  std::size_t body_offset = 0;
  std::FILE* body_file = nullptr;
  // download
  std::FILE* sink_file = nullptr;

  bool ok_status() const { return response->status >= 200 && response->status < 300; }
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (e.g. after an interim 1xx): forget the previous block.
    t.response->headers.clear();
    const auto space = line.find(' ');
    if (space != std::string_view::npos)
      t.response->status = std::atol(std::string(line.substr(space + 1, 3)).c_str());
    return line.size();
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t.response->headers[lower(std::string(line.substr(0, colon)))] = text::trim(line.substr(colon + 1));
  }
  return line.size();
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  auto& r = *t.response;
  if (!t.ok_status()) {
    if (r.body.size() < kMaxErrorBody) r.body.append(data, std::min(n, kMaxErrorBody - r.body.size()));
    return n;
  }
  if (t.sink_file) {
    if (std::fwrite(data, 1, n, t.sink_file) != n) {
      r.local_error = std::string("writing the download failed: ") + std::strerror(errno);
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
  } else {
    if (r.body.size() + n > t.request->max_body) {
      r.body_too_large = true;
      return 0;
    }
    r.body.append(data, n);
  }
  r.body_bytes += n;
  return n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t room = size * count;
  if (t.body_file) {
    const auto n = std::fread(buffer, 1, room, t.body_file);
    if (n < room && std::ferror(t.body_file)) {
      t.response->local_error = std::string("reading the upload file failed: ") + std::strerror(errno);
      return CURL_READFUNC_ABORT;
    }
    return n;
  }
  const auto& body = t.request->body;
  const auto n = std::min(room, body.size() - t.body_offset);
  std::memcpy(buffer, body.data() + t.body_offset, n);
  t.body_offset += n;
  return n;
}

// libcurl rewinds the upload when it re-sends on a reused connection that turned out to be dead.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto& t = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  if (t.body_file) return fseeko(t.body_file, offset, SEEK_SET) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
  if (static_cast<std::uint64_t>(offset) > t.request->body.size()) return CURL_SEEKFUNC_FAIL;
  t.body_offset = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

S3ObjectStore::Response S3ObjectStore::perform_once(const Request& request) {
  Response response;
  auto handle = handles_->acquire();
  CURL* h = handle.get();

  std::unique_ptr<std::FILE, FileCloser> body_file;
  if (request.body_file) {
    body_file.reset(std::fopen(request.body_file->c_str(), "rb"));
    if (!body_file) {
      response.local_error = "cannot open " + request.body_file->string() + ": " + std::strerror(errno);
      return response;
    }
  }
  std::unique_ptr<std::FILE, FileCloser> sink_file;
  if (request.sink_file) {
    sink_file.reset(std::fopen(request.sink_file->c_str(), "wb"));  // truncates what a failed attempt left
    if (!sink_file) {
      response.local_error = "cannot create " + request.sink_file->string() + ": " + std::strerror(errno);
      return response;
    }
  }

  sigv4::SigV4Request to_sign;
  to_sign.method = request.method;
  to_sign.host = request.target.host;
  to_sign.path = request.target.path;
  to_sign.query = request.query;
  to_sign.headers = request.headers;
  to_sign.payload_hash = request.payload_hash;
  // Signed per attempt: a retry after a long backoff still carries a fresh date.
  const auto signed_request =
      sigv4::sign_headers(to_sign, credentials_, scope_, std::chrono::system_clock::now());

  curl_slist* raw_headers = nullptr;
  auto add_header = [&](const std::string& line) {
    auto* next = curl_slist_append(raw_headers, line.c_str());
    if (!next) {
      curl_slist_free_all(raw_headers);
      throw std::runtime_error("curl_slist_append failed");
    }
    raw_headers = next;
  };
  add_header("Host: " + request.target.host);
  for (const auto& [name, value] : request.headers) add_header(name + ": " + value);
  for (const auto& [name, value] : signed_request.headers) add_header(name + ": " + value);
  add_header("Expect:");  // no 100-continue round trip (and nothing to re-negotiate on a retry)
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  std::string url = scheme_ + "://" + request.target.host + sigv4::canonical_uri(request.target.path);
  if (!request.query.empty()) url += "?" + sigv4::canonical_query_string(request.query);

  Transfer transfer;
  transfer.handle = h;
  transfer.request = &request;
  transfer.response = &response;
  transfer.body_file = body_file.get();
  transfer.sink_file = sink_file.get();

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.s3_connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.s3_request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);

  const bool has_body = request.body_file.has_value() || request.method == "PUT" || request.method == "POST";
  if (has_body) {
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &transfer);
  }
  const auto size = static_cast<curl_off_t>(request.body_size);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  response.curl_code = curl_easy_perform(h);
  if (response.curl_code != CURLE_OK) {
    response.curl_error = error_buffer[0] ? error_buffer : curl_easy_strerror(response.curl_code);
  } else {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
  }
  if (sink_file && response.curl_code == CURLE_OK) {
    if (std::fflush(sink_file.get()) != 0)
      response.local_error = std::string("writing the download failed: ") + std::strerror(errno);
  }
  return response;
}

S3ObjectStore::Response S3ObjectStore::execute(const Request& request) {
  const bool probe = breaker_->admit();
  const int attempts = std::max(1, config_.s3_max_attempts);
  std::string last_failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    Response response;
    try {
      response = perform_once(request);
    } catch (...) {
      if (probe) breaker_->abandon_probe();
      throw;
    }

    if (!response.local_error.empty() || response.body_too_large) {
      // Our side failed (local file, size limit): S3 proved nothing either way.
      if (probe) breaker_->abandon_probe();
      return response;
    }
    if (response.curl_code != CURLE_OK) {
      if (is_permanent_curl_error(response.curl_code)) {
        if (probe) breaker_->abandon_probe();
        fail(StorageErrorKind::Permanent, "S3 " + request.operation + " failed: " + response.curl_error);
      }
      last_failure = response.curl_error;
    } else if (response.status >= 200 && response.status < 300) {
      breaker_->on_success();
      return response;
    } else {
      const auto code = xml_text(response.body, "Code").value_or("");
      if (!is_retryable_status(response.status) && !is_retryable_code(code)) {
        breaker_->on_success();  // a definitive answer: the service works
        return response;
      }
      last_failure = "HTTP " + std::to_string(response.status) + (code.empty() ? "" : " " + code);
    }

    if (attempt < attempts) {
      const auto delay = backoff_delay(tuning_, attempt);
      log::warn("s3 request failed, retrying", {{"operation", request.operation},
                                                {"key", request.key},
                                                {"attempt", attempt},
                                                {"max_attempts", attempts},
                                                {"error", last_failure},
                                                {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
      std::this_thread::sleep_for(delay);
    }
  }
  breaker_->on_transient_failure();
  fail(StorageErrorKind::Transient,
       "S3 " + request.operation + (request.key.empty() ? "" : " '" + request.key + "'") + " failed after " +
           std::to_string(attempts) + " attempt(s): " + last_failure);
}

void S3ObjectStore::throw_error(const Request& request, const Response& response) const {
  const std::string what = "S3 " + request.operation + (request.key.empty() ? "" : " '" + request.key + "'");
  if (!response.local_error.empty()) fail(StorageErrorKind::Permanent, what + ": " + response.local_error);
  const auto code = xml_text(response.body, "Code").value_or("");
  const auto message = xml_text(response.body, "Message").value_or("");
  std::string detail = "HTTP " + std::to_string(response.status);
  if (!code.empty()) detail += " " + code;
  if (!message.empty()) detail += ": " + message;
  const auto text = what + " failed: " + detail;
  if (response.status == 404 && code != "NoSuchBucket") fail(StorageErrorKind::NotFound, text);
  if (response.status == 403) fail(StorageErrorKind::AccessDenied, text);
  if (is_retryable_status(response.status) || is_retryable_code(code))
    fail(StorageErrorKind::Transient, text);
  fail(StorageErrorKind::Permanent, text);
}

// ---------------------------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------------------------

void S3ObjectStore::put_file(const std::string& key, const std::filesystem::path& file,
                             const std::string& content_type) {
  validate_key(key);
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) fail(StorageErrorKind::Permanent, "cannot upload " + file.string() + ": " + ec.message());
  Request request = object_request("PutObject", "PUT", key);
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  // The real digest, computed before sending: S3 then rejects a body that changed underway.
  request.payload_hash = crypto::hex_encode(digest_file(file, EVP_sha256()));
  request.body_file = file;
  request.body_size = size;
  const auto response = execute(request);
  if (response.status < 200 || response.status >= 300 || !response.local_error.empty())
    throw_error(request, response);
}

void S3ObjectStore::put_buffer(const std::string& key, std::string_view data,
                               const std::string& content_type) {
  validate_key(key);
  Request request = object_request("PutObject", "PUT", key);
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  request.payload_hash = crypto::sha256_hex(data);
  request.body = data;
  request.body_size = data.size();
  const auto response = execute(request);
  if (response.status < 200 || response.status >= 300) throw_error(request, response);
}

namespace {

ObjectInfo info_from_headers(const std::string& key, const S3ObjectStore::Response& response) {
  ObjectInfo info;
  info.key = key;
  info.size = parse_u64(response.header("content-length"));
  info.content_type = response.header("content-type").value_or("");
  info.etag = strip_quotes(response.header("etag").value_or(""));
  info.last_modified = parse_http_date(response.header("last-modified"));
  return info;
}

}  // namespace

ObjectInfo S3ObjectStore::get_to_file(const std::string& key, const std::filesystem::path& destination) {
  validate_key(key);
  // Downloaded next to the destination (same file system, so the rename is atomic) under a unique name.
  const auto dir = destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");
  const auto temp =
      dir / ("." + destination.filename().string() + ".part-" + crypto::hex_encode(crypto::random_bytes(6)));
  Request request = object_request("GetObject", "GET", key);
  request.sink_file = temp;
  try {
    const auto response = execute(request);
    if (response.status < 200 || response.status >= 300 || !response.local_error.empty()) {
      throw_error(request, response);
    }
    std::error_code ec;
    std::filesystem::rename(temp, destination, ec);
    if (ec)
      fail(StorageErrorKind::Permanent,
           "cannot move the download to " + destination.string() + ": " + ec.message());
    auto info = info_from_headers(key, response);
    info.size = response.body_bytes;
    return info;
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
}

std::string S3ObjectStore::get_to_buffer(const std::string& key, std::size_t max_bytes) {
  validate_key(key);
  Request request = object_request("GetObject", "GET", key);
  request.max_body = max_bytes;
  auto response = execute(request);
  if (response.body_too_large) {
    fail(StorageErrorKind::Permanent, "S3 GetObject '" + key + "': object is larger than the limit of " +
                                          std::to_string(max_bytes) + " bytes");
  }
  if (response.status < 200 || response.status >= 300) throw_error(request, response);
  return std::move(response.body);
}

std::optional<ObjectInfo> S3ObjectStore::head(const std::string& key) {
  validate_key(key);
  Request request = object_request("HeadObject", "HEAD", key);
  const auto response = execute(request);
  if (response.status == 404)
    return std::nullopt;  // HEAD has no body: no Code to tell a missing bucket apart
  if (response.status < 200 || response.status >= 300) throw_error(request, response);
  return info_from_headers(key, response);
}

void S3ObjectStore::remove(const std::string& key) {
  validate_key(key);
  Request request = object_request("DeleteObject", "DELETE", key);
  const auto response = execute(request);
  if (response.status >= 200 && response.status < 300) return;
  // Deletes are idempotent (S3 itself answers 204 for a missing key; some compatible stores answer 404).
  if (response.status == 404 && xml_text(response.body, "Code").value_or("NoSuchKey") == "NoSuchKey") return;
  throw_error(request, response);
}

void S3ObjectStore::remove_many(const std::vector<std::string>& keys) {
  for (const auto& key : keys) validate_key(key);
  for (std::size_t start = 0; start < keys.size(); start += kDeleteBatch) {
    const auto end = std::min(keys.size(), start + kDeleteBatch);
    std::string body =
        R"(<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>)";
    for (std::size_t i = start; i < end; ++i)
      body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    body += "</Delete>";

    Request request;
    request.operation = "DeleteObjects";
    request.key = keys[start] + (end - start > 1 ? " (+" + std::to_string(end - start - 1) + " more)" : "");
    request.method = "POST";
    request.target = bucket_target();
    request.query = {{"delete", ""}};
    request.headers = {
        {"Content-Type", "application/xml"},
        {"Content-MD5", crypto::base64_encode(md5(body))}};  // S3 requires it for DeleteObjects
    request.payload_hash = crypto::sha256_hex(body);
    request.body = body;
    request.body_size = body.size();
    const auto response = execute(request);
    if (response.status < 200 || response.status >= 300) throw_error(request, response);

    // A 200 can still report per-key failures; a missing key is not one.
    for (const auto error : s3xml::elements(response.body, "Error")) {
      const auto code = xml_text(error, "Code").value_or("");
      if (code == "NoSuchKey") continue;
      const auto text = "S3 DeleteObjects failed for '" + xml_text(error, "Key").value_or("?") +
                        "': " + code + ": " + xml_text(error, "Message").value_or("");
      if (code == "AccessDenied") fail(StorageErrorKind::AccessDenied, text);
      if (is_retryable_code(code)) fail(StorageErrorKind::Transient, text);
      fail(StorageErrorKind::Permanent, text);
    }
  }
}

ListPage S3ObjectStore::list(const std::string& prefix, const std::optional<std::string>& continuation,
                             int max_keys) {
  if (max_keys < 1 || max_keys > 1000) fail(StorageErrorKind::Permanent, "list: max_keys must be 1-1000");
  if (!prefix.empty()) {
    // A prefix is a key, or a key with a trailing '/', or a partial segment.
    validate_key(prefix.back() == '/' ? std::string_view(prefix).substr(0, prefix.size() - 1) : prefix);
  }
  Request request;
  request.operation = "ListObjectsV2";
  request.key = prefix;
  request.method = "GET";
  request.target = bucket_target();
  request.query = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}};
  if (!prefix.empty()) request.query.emplace("prefix", prefix);
  if (continuation) request.query.emplace("continuation-token", *continuation);
  const auto response = execute(request);
  if (response.status < 200 || response.status >= 300) throw_error(request, response);

  ListPage page;
  for (const auto contents : s3xml::elements(response.body, "Contents")) {
    ObjectInfo info;
    info.key = xml_text(contents, "Key").value_or("");
    info.size = parse_u64(xml_text(contents, "Size"));
    info.etag = strip_quotes(xml_text(contents, "ETag").value_or(""));
    info.last_modified = parse_iso8601(xml_text(contents, "LastModified").value_or(""));
    if (!info.key.empty()) page.objects.push_back(std::move(info));
  }
  if (xml_text(response.body, "IsTruncated").value_or("false") == "true") {
    auto token = xml_text(response.body, "NextContinuationToken");
    if (!token || token->empty()) {
      fail(StorageErrorKind::Permanent, "S3 ListObjectsV2: truncated listing without NextContinuationToken");
    }
    page.next_token = std::move(token);
  }
  return page;
}

PresignedUrl S3ObjectStore::presign_get(const std::string& key, std::chrono::seconds ttl,
                                        std::chrono::system_clock::time_point signing_time) {
  validate_key(key);
  const auto target = object_target(key);
  sigv4::SigV4Request request;
  request.method = "GET";
  request.host = target.host;
  request.path = target.path;
  try {
    return {sigv4::presign_url(request, credentials_, scope_, signing_time, ttl, scheme_),
            signing_time + ttl};
  } catch (const std::invalid_argument& e) {
    fail(StorageErrorKind::Permanent, e.what());
  }
}

PresignedUpload S3ObjectStore::presign_put(const std::string& key, const std::string& content_type,
                                           std::uint64_t /*max_bytes: not enforceable, see the header*/,
                                           std::chrono::seconds ttl,
                                           std::chrono::system_clock::time_point signing_time) {
  validate_key(key);
  const auto target = object_target(key);
  sigv4::SigV4Request request;
  request.method = "PUT";
  request.host = target.host;
  request.path = target.path;
  PresignedUpload upload;
  upload.method = "PUT";
  if (!content_type.empty()) {
    request.headers.emplace_back("content-type", content_type);
    upload.headers["Content-Type"] = content_type;
  }
  try {
    upload.url = sigv4::presign_url(request, credentials_, scope_, signing_time, ttl, scheme_);
  } catch (const std::invalid_argument& e) {
    fail(StorageErrorKind::Permanent, e.what());
  }
  upload.expires_at = signing_time + ttl;
  return upload;
}

void S3ObjectStore::check_ready() {
  Request request;
  request.operation = "HeadBucket";
  request.method = "HEAD";
  request.target = bucket_target();
  const auto response = execute(request);
  if (response.status >= 200 && response.status < 300) return;
  if (response.status == 404) {
    fail(StorageErrorKind::Permanent, "S3 bucket '" + config_.s3_bucket + "' does not exist (HTTP 404)");
  }
  throw_error(request, response);
}

}  // namespace imageproc::storage
