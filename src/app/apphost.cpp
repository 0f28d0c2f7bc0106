// Composition root of `imageproc up`: the whole stack on one machine (the .NET Aspire AppHost equivalent).
// For each dependency not given by the environment it starts a local one under the data directory, then
// migrates, starts the API (and later the worker), prints the URL, relays prefixed logs, and on Ctrl-C stops
// everything in order. A second `up` reuses the same data (database cluster, generated secrets).

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "app/process.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"

namespace fs = std::filesystem;

namespace imageproc::app {

void migrate_with_retry(db::Pool& pool, std::chrono::seconds patience);

namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_is_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool free = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) ::close(fd);
  return free;
}

// The local PostgreSQL keeps its port across runs (so operator commands can reuse one DATABASE_URL), unless
// something else took it meanwhile.
std::uint16_t stable_port(const fs::path& file) {
  if (std::ifstream in(file); in) {
    int port = 0;
    if (in >> port && port > 0 && port < 65536 && port_is_free(static_cast<std::uint16_t>(port))) {
      return static_cast<std::uint16_t>(port);
    }
  }
  const auto port = free_loopback_port();
  std::ofstream(file, std::ios::trunc) << port << '\n';
  return port;
}

bool accepts_connections(const std::string& host, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  // Host names and IPv6 listeners are probed through IPv4 loopback.
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

// Newest PostgreSQL server installed by Debian's packages.
fs::path postgres_bindir() {
  fs::path best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "postgres") && entry.path().filename() > best.filename()) {
      best = entry.path();
    }
  }
  if (best.empty()) {
    throw std::runtime_error("PostgreSQL server not found under /usr/lib/postgresql (run scripts/setup)");
  }
  return best / "bin";
}

// Reads a secret kept in the data dir, generating it on first use. The file is created with mode 0600 from the
// start (no window in which it is readable by others).
std::string persistent_secret(const fs::path& file) {
  std::ifstream in(file);
  std::string existing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!existing.empty() && (existing.back() == '\n' || existing.back() == '\r')) existing.pop_back();
  if (existing.size() >= 32) return existing;
  std::string secret = crypto::random_token(48);
  secret.push_back('\n');
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0 ||
      ::write(fd, secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot write " + file.string());
  }
  ::close(fd);
  return secret.substr(0, secret.size() - 1);
}

// When we run as root, PostgreSQL runs as the `postgres` user, which must be able to reach its data dir. A
// checkout under a private home (e.g. /root, mode 0700) is not reachable; fall back to a directory under
// /var/lib/imageproc named after the data dir.
fs::path postgres_data_dir(const fs::path& data_dir, bool as_root) {
  const fs::path preferred = data_dir / "postgres";
  if (!as_root) return preferred;
  for (fs::path p = fs::absolute(data_dir); p.has_relative_path(); p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      const auto tag = crypto::sha256_hex(fs::absolute(data_dir).string()).substr(0, 12);
      return fs::path("/var/lib/imageproc") / tag / "postgres";
    }
  }
  return preferred;
}

class LocalPostgres {
 public:
  LocalPostgres(const fs::path& data_dir) {
    const bool as_root = ::geteuid() == 0;
    if (as_root) {
      run_as_ = lookup_user("postgres");
      if (!run_as_) throw std::runtime_error("user 'postgres' not found (install the postgresql package)");
    }
    dir_ = postgres_data_dir(data_dir, as_root);
    socket_dir_ = dir_.parent_path() / "postgres-socket";
    fs::create_directories(dir_.parent_path());
    fs::create_directories(socket_dir_);
    const fs::path bin = postgres_bindir();
    if (!fs::exists(dir_ / "PG_VERSION")) {
      fs::create_directories(dir_);
      chown_for_postgres(dir_);
      log::info("initialising PostgreSQL cluster", {{"dir", dir_.string()}});
      const int rc = run_to_completion(
          "initdb", {(bin / "initdb").string(), "-D", dir_.string(), "-U", "postgres", "--auth=trust", "-E",
                     "UTF8", "--locale=C.UTF-8"},
          {}, run_as_);
      if (rc != 0) throw std::runtime_error(fmt::format("initdb failed with status {}", rc));
    }
    chown_for_postgres(socket_dir_);
    port_ = stable_port(data_dir / "postgres-port");
    // A previous run killed with SIGKILL leaves postmaster.pid; postgres itself detects a stale one.
    server_ = std::make_unique<ChildProcess>(
        "postgres",
        std::vector<std::string>{(bin / "postgres").string(), "-D", dir_.string(), "-p", std::to_string(port_),
                                 "-k", socket_dir_.string(), "-c", "listen_addresses=127.0.0.1"},
        std::map<std::string, std::string>{}, run_as_);
    wait_ready();
    ensure_database("imageproc");
  }

  ~LocalPostgres() { stop(); }

  void stop() {
    // SIGINT = fast shutdown: disconnect clients, checkpoint, exit.
    if (server_) server_->stop(SIGINT, std::chrono::seconds(30));
  }
  bool running() { return server_ && server_->running(); }

  std::string url(const std::string& db) const {
    return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
  }

 private:
  void chown_for_postgres(const fs::path& p) {
    if (run_as_ && ::chown(p.c_str(), run_as_->uid, run_as_->gid) != 0) {
      throw std::runtime_error("cannot chown " + p.string() + " to postgres");
    }
  }
  void wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!server_->running()) throw std::runtime_error("PostgreSQL exited during start-up (see [postgres] log)");
      try {
        db::Connection probe(url("postgres"), std::chrono::seconds(5), "imageproc-up");
        return;
      } catch (const AppError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    throw std::runtime_error("PostgreSQL did not become ready within 60 s");
  }
  void ensure_database(const std::string& name) {
    db::Connection conn(url("postgres"), std::chrono::seconds(30), "imageproc-up");
    if (conn.exec("SELECT 1 FROM pg_database WHERE datname = $1", db::params(name)).rows() == 0) {
      conn.exec("CREATE DATABASE " + name);  // name is a constant of ours, not input
    }
  }

  std::optional<RunAs> run_as_;
  fs::path dir_;
  fs::path socket_dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

}  // namespace

int run_up(Config config, const std::string& self_path) {
  const fs::path data_dir = fs::absolute(config.data_dir);
  fs::create_directories(data_dir);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  std::unique_ptr<LocalPostgres> postgres;
  if (config.database.url.empty()) {
    postgres = std::make_unique<LocalPostgres>(data_dir);
    config.database.url = postgres->url("imageproc");
  }
  if (config.auth.jwt_secret.empty()) config.auth.jwt_secret = persistent_secret(data_dir / "jwt-secret");
  // Local disk unless the environment points at an S3-compatible store.
  const bool s3_given = !config.storage.s3_bucket.empty() && !std::getenv("STORAGE_BACKEND");
  if (s3_given) config.storage.backend = "s3";
  if (config.storage.signing_secret.empty()) {
    config.storage.signing_secret = persistent_secret(data_dir / "storage-secret");
  }

  {
    db::Pool pool(config.database, "imageproc-up");
    migrate_with_retry(pool, std::chrono::seconds(60));
  }

  const std::map<std::string, std::string> env = {
      {"DATABASE_URL", config.database.url},
      {"JWT_SECRET", config.auth.jwt_secret},
      {"STORAGE_SIGNING_SECRET", config.storage.signing_secret},
      {"STORAGE_BACKEND", config.storage.backend},
      {"STORAGE_LOCAL_DIR", fs::absolute(config.storage.local_root).string()},
      {"IMAGEPROC_HTTP_ADDR", fmt::format("{}:{}", config.http.host, config.http.port)},
      {"IMAGEPROC_DATA_DIR", data_dir.string()},
      {"MIGRATE_ON_START", "false"},
      {"LOG_FORMAT", config.log.format},
  };
  ChildProcess api("api", {self_path, "api"}, env);
  ChildProcess worker("worker", {self_path, "worker"}, env);

  const std::string host = config.http.host == "0.0.0.0" ? "127.0.0.1" : config.http.host;
  // Print the URL only once it answers, so the first click works.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (api.running() && !accepts_connections(host, config.http.port) && g_stop_signal.load() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (api.running()) {
    std::cout << fmt::format("\n  ImageProcessor is running at http://{}:{}\n  Press Ctrl-C to stop.\n\n", host,
                             config.http.port)
              << std::flush;
  }

  int exit_code = 0;
  while (g_stop_signal.load() == 0) {
    if (!api.running()) {
      log::error("api exited; stopping the stack", {{"status", api.exit_code().value_or(-1)}});
      exit_code = 1;
      break;
    }
    if (!worker.running()) {
      log::error("worker exited; stopping the stack", {{"status", worker.exit_code().value_or(-1)}});
      exit_code = 1;
      break;
    }
    if (postgres && !postgres->running()) {
      log::error("PostgreSQL exited; stopping the stack");
      exit_code = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::info("stopping the stack");
  api.stop(SIGTERM, config.http.shutdown_grace + std::chrono::seconds(5));
  worker.stop(SIGTERM, std::chrono::seconds(30));
  if (postgres) postgres->stop();
  log::info("stack stopped");
  return exit_code;
}

}  // namespace imageproc::app
