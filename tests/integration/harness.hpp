#pragma once
// Test harness for the integration tier: a fresh database per test on the PostgreSQL that `scripts/services`
// started, the real `imageproc` binary as a child process, and a small libcurl HTTP client. Nothing here
// touches the network beyond 127.0.0.1.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/process.hpp"

namespace imageproc::testing {

// Reads a required IMAGEPROC_TEST_* variable; fails the test run with a hint when it is missing.
std::string required_env(const char* name);

// A database created for one test and dropped (with FORCE) afterwards.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // Runs one statement and returns the first column of the first row ("" when none).
  std::string scalar(const std::string& sql) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

struct HttpResponse {
  long status = 0;                                  // 0 when no answer arrived (see transport_error)
  std::string transport_error;                      // what libcurl said when the request got no answer
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::optional<std::string> header(const std::string& name) const;
  std::vector<std::string> headers_named(const std::string& name) const;
  nlohmann::json json() const;
  // The value of a cookie set by this response (Set-Cookie), if any.
  std::optional<std::string> cookie(const std::string& name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool may_fail =
      false;  // no answer (server killed, refused) is an outcome, not a test failure (chaos tests)
};

HttpResponse http(const std::string& base_url, const HttpRequest& request);

// `imageproc <args>` with the given environment; lines of its output are kept for assertions.
class ImageprocProcess {
 public:
  ImageprocProcess(std::vector<std::string> args, std::map<std::string, std::string> env);
  ~ImageprocProcess();
  // Waits until an output line contains `needle`; returns that line (or nullopt on timeout/exit).
  std::optional<std::string> wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  std::vector<std::string> lines() const;
  app::ChildProcess& process() { return *child_; }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  std::unique_ptr<app::ChildProcess> child_;
};

// The environment the api and worker of one test share: its database, its own queue prefix on the shared
// broker, short retry delays, one local object directory.
std::map<std::string, std::string> stack_env(const TestDatabase& db);
std::string objects_dir_for(const TestDatabase& db);

// A running `imageproc worker` for `db` (stack_env plus `extra_env`); SIGTERM on destruction.
class WorkerProcess {
 public:
  explicit WorkerProcess(const TestDatabase& db, std::map<std::string, std::string> extra_env = {});
  ImageprocProcess& process() { return *process_; }

 private:
  std::unique_ptr<ImageprocProcess> process_;
};

// A running `imageproc api` on a free port, against `db`.
class ApiServer {
 public:
  static constexpr const char* kJwtSecret = "integration-test-secret-0123456789abcdef";

  explicit ApiServer(const TestDatabase& db, std::map<std::string, std::string> extra_env = {});
  ~ApiServer();
  const std::string& base_url() const { return base_url_; }
  HttpResponse request(const HttpRequest& r) const { return http(base_url_, r); }
  HttpResponse get(const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  HttpResponse post_json(const std::string& path, const nlohmann::json& body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) const;
  ImageprocProcess& process() { return *process_; }

 private:
  std::string objects_dir_;  // the local object store's root, removed afterwards
  std::unique_ptr<ImageprocProcess> process_;
  std::string base_url_;
};

}  // namespace imageproc::testing
