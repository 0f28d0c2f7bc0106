#include "harness.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "core/ids.hpp"
#include "db/pool.hpp"

namespace imageproc::testing {

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string(name) +
                             " is not set: run the integration tier through `make test` (scripts/services "
                             "starts PostgreSQL and exports it)");
  }
  return v;
}

TestDatabase::TestDatabase() : admin_url_(required_env("IMAGEPROC_TEST_DATABASE_URL")) {
  name_ = "it_" + ids::new_request_id();
  db::Connection admin(admin_url_, std::chrono::seconds(60), "imageproc-tests");
  admin.exec("CREATE DATABASE " + name_);
  const auto slash = admin_url_.rfind('/');
  url_ = admin_url_.substr(0, slash + 1) + name_;
}

TestDatabase::~TestDatabase() {
  try {
    db::Connection admin(admin_url_, std::chrono::seconds(60), "imageproc-tests");
    admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

std::string TestDatabase::scalar(const std::string& sql) const {
  db::Connection conn(url_, std::chrono::seconds(30), "imageproc-tests");
  auto r = conn.exec(sql);
  return r.rows() > 0 && !r.is_null(0, 0) ? r.get(0, 0) : "";
}

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> HttpResponse::headers_named(const std::string& name) const {
  std::vector<std::string> out;
  auto [a, b] = headers.equal_range(name);
  for (auto it = a; it != b; ++it) out.push_back(it->second);
  return out;
}

nlohmann::json HttpResponse::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) ADD_FAILURE() << "response body is not JSON: " << body;
  return j;
}

std::optional<std::string> HttpResponse::cookie(const std::string& name) const {
  for (const auto& value : headers_named("set-cookie")) {
    if (value.rfind(name + "=", 0) != 0) continue;
    const auto end = value.find(';');
    return value.substr(name.size() + 1,
                        end == std::string::npos ? std::string::npos : end - name.size() - 1);
  }
  return std::nullopt;
}

namespace {
size_t on_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
size_t on_header(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    static_cast<std::multimap<std::string, std::string>*>(out)->emplace(name, value);
  }
  return size * n;
}
}  // namespace

HttpResponse http(const std::string& base_url, const HttpRequest& request) {
  HttpResponse response;
  CURL* curl = curl_easy_init();
  const std::string url = base_url + request.path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  struct curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");
  for (const auto& [k, v] : request.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    response.transport_error = curl_easy_strerror(rc);
    if (!request.may_fail) ADD_FAILURE() << request.method << " " << url << ": " << response.transport_error;
  }
  return response;
}

ImageprocProcess::ImageprocProcess(std::vector<std::string> args, std::map<std::string, std::string> env) {
  args.insert(args.begin(), IMAGEPROC_BINARY);
  child_ = std::make_unique<app::ChildProcess>("imageproc", std::move(args), std::move(env), std::nullopt,
                                               [this](const std::string& line) {
                                                 std::lock_guard lock(mutex_);
                                                 lines_.push_back(line);
                                                 changed_.notify_all();
                                               });
}

ImageprocProcess::~ImageprocProcess() {
  child_->stop(SIGTERM, std::chrono::seconds(30));
  child_.reset();
}

std::optional<std::string> ImageprocProcess::wait_for_line(const std::string& needle,
                                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t seen = 0;
  for (;;) {
    for (; seen < lines_.size(); ++seen) {
      if (lines_[seen].find(needle) != std::string::npos) return lines_[seen];
    }
    lock.unlock();
    const bool alive = child_->running();
    lock.lock();
    if (!alive && seen == lines_.size()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

std::vector<std::string> ImageprocProcess::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

std::string objects_dir_for(const TestDatabase& db) {
  return "/tmp/imageproc-it-objects-" + db.name();
}

std::map<std::string, std::string> stack_env(const TestDatabase& db) {
  return {
      {"DATABASE_URL", db.url()},
      {"AMQP_URL", required_env("IMAGEPROC_TEST_AMQP_URL")},
      {"QUEUE_PREFIX", db.name() + "."},  // tests share one broker: each gets its own exchanges and queues
      {"QUEUE_RETRY_DELAYS_MS", "200,400"},
      {"JWT_SECRET", ApiServer::kJwtSecret},
      {"STORAGE_SIGNING_SECRET", "integration-test-storage-secret-0123456789"},
      {"STORAGE_LOCAL_DIR", objects_dir_for(db)},
      {"LOG_FORMAT", "json"},
      {"AI_PROVIDER", "none"},  // the AI tests choose their provider; the others need no analysis
  };
}

WorkerProcess::WorkerProcess(const TestDatabase& db, std::map<std::string, std::string> extra_env) {
  auto env = stack_env(db);
  env["WORKER_INSTANCE"] = "it-worker-" + ids::new_request_id();
  env["WORKER_HEARTBEAT_SECONDS"] = "1";
  for (auto& [k, v] : extra_env) env[k] = v;
  process_ = std::make_unique<ImageprocProcess>(std::vector<std::string>{"worker"}, env);
  if (!process_->wait_for_line("\"worker started\"", std::chrono::seconds(60))) {
    std::string out;
    for (const auto& l : process_->lines()) out += l + "\n";
    throw std::runtime_error("imageproc worker did not start:\n" + out);
  }
}

ApiServer::ApiServer(const TestDatabase& db, std::map<std::string, std::string> extra_env)
    : objects_dir_(objects_dir_for(db)) {
  auto env = stack_env(db);
  env.insert({{"IMAGEPROC_HTTP_ADDR", "127.0.0.1:0"},
              {"AUTH_COOKIE_SECURE", "false"},
              {"HTTP_HANDLER_THREADS", "4"},
              {"DB_POOL_SIZE", "8"}});
  for (auto& [k, v] : extra_env) env[k] = v;
  process_ = std::make_unique<ImageprocProcess>(std::vector<std::string>{"api"}, env);
  auto line = process_->wait_for_line("\"api listening\"", std::chrono::seconds(60));
  if (!line) {
    std::string out;
    for (const auto& l : process_->lines()) out += l + "\n";
    throw std::runtime_error("imageproc api did not start:\n" + out);
  }
  const auto port = nlohmann::json::parse(*line).at("port").get<int>();
  base_url_ = "http://127.0.0.1:" + std::to_string(port);
}

ApiServer::~ApiServer() {
  process_.reset();  // stop the server before removing its files
  std::error_code ec;
  std::filesystem::remove_all(objects_dir_, ec);
}

HttpResponse ApiServer::get(const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& headers) const {
  return http(base_url_, {"GET", path, "", headers});
}

HttpResponse ApiServer::post_json(const std::string& path, const nlohmann::json& body,
                                  std::vector<std::pair<std::string, std::string>> headers) const {
  headers.emplace_back("Content-Type", "application/json");
  return http(base_url_, {"POST", path, body.dump(), headers});
}

}  // namespace imageproc::testing
