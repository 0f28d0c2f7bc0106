// Composition root of `imageproc up`: the whole stack on one machine (the .NET Aspire AppHost equivalent).
// For each dependency not given by the environment it starts a local one under the data directory
// (PostgreSQL, a RabbitMQ node with its own epmd), then migrates, starts the API and the worker, prints the
// URL, relays prefixed logs, and on Ctrl-C stops everything in order: api and worker, the RabbitMQ node, its
// epmd, PostgreSQL. A second `up` reuses the same data (database cluster, broker data, generated secrets).
// One `up` per data directory at a time (a lock file enforces it).

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "app/commands.hpp"
#include "app/process.hpp"
#include "app/wiring.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"

namespace fs = std::filesystem;

namespace imageproc::app {

namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) {
  g_stop_signal.store(sig);
}

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
  // As the servers themselves bind (SO_REUSEADDR): connections of the previous run lingering in TIME_WAIT do
  // not make the port look taken.
  const int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool free = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) ::close(fd);
  return free;
}

// Local services keep their ports across runs (so operator commands can reuse one DATABASE_URL or AMQP_URL),
// unless something else took one meanwhile. `taken` holds the ports already chosen in this run: they are not
// listening yet, so port_is_free() cannot see them.
std::uint16_t stable_port(const fs::path& file, std::set<std::uint16_t>& taken) {
  if (std::ifstream in(file); in) {
    int port = 0;
    if (in >> port && port > 0 && port < 65536 && !taken.contains(static_cast<std::uint16_t>(port)) &&
        port_is_free(static_cast<std::uint16_t>(port))) {
      taken.insert(static_cast<std::uint16_t>(port));
      return static_cast<std::uint16_t>(port);
    }
  }
  std::uint16_t port = free_loopback_port();
  while (taken.contains(port)) port = free_loopback_port();
  taken.insert(port);
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

// Reads a secret kept in the data dir, generating it on first use. The file is created with mode 0600 from
// the start (no window in which it is readable by others).
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
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      const auto tag = crypto::sha256_hex(fs::absolute(data_dir).string()).substr(0, 12);
      return fs::path("/var/lib/imageproc") / tag / "postgres";
    }
  }
  return preferred;
}

class LocalPostgres {
 public:
  LocalPostgres(const fs::path& data_dir, std::set<std::uint16_t>& ports) {
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
      const int rc = run_to_completion("initdb",
                                       {(bin / "initdb").string(), "-D", dir_.string(), "-U", "postgres",
                                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"},
                                       {}, run_as_);
      if (rc != 0) throw std::runtime_error(fmt::format("initdb failed with status {}", rc));
    }
    chown_for_postgres(socket_dir_);
    port_ = stable_port(data_dir / "postgres-port", ports);
    // A previous run killed with SIGKILL leaves postmaster.pid; postgres itself detects a stale one.
    server_ = std::make_unique<ChildProcess>(
        "postgres",
        std::vector<std::string>{(bin / "postgres").string(), "-D", dir_.string(), "-p",
                                 std::to_string(port_), "-k", socket_dir_.string(), "-c",
                                 "listen_addresses=127.0.0.1"},
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
      if (!server_->running())
        throw std::runtime_error("PostgreSQL exited during start-up (see [postgres] log)");
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

// ---- Process groups --------------------------------------------------------------------------------------
// Every child leads a process group of its own (ChildProcess). The RabbitMQ node is a shell script waiting
// for the Erlang VM (beam.smp) in its group: stopping the node means waiting for the whole group.

struct ProcStat {
  char state = '?';
  pid_t pgrp = 0;
  unsigned long long start_time = 0;  // clock ticks after boot: tells a process from a later one with its pid
};

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto comm_end = stat.rfind(')');  // the command name may itself contain ')' or spaces
  if (comm_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(comm_end + 1));
  ProcStat out;
  pid_t ppid = 0;
  fields >> out.state >> ppid >> out.pgrp;
  std::string skipped;
  for (int field = 6; field <= 21 && fields; ++field) fields >> skipped;
  fields >> out.start_time;  // field 22
  if (!fields) return std::nullopt;
  return out;
}

// Zombies count as gone: this machine's init may not reap orphans.
bool is_alive(const std::optional<ProcStat>& stat) {
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool group_alive(pid_t pgid) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) {
      continue;
    }
    const auto stat = read_proc_stat(static_cast<pid_t>(std::stol(name)));
    if (stat && stat->pgrp == pgid && is_alive(stat)) return true;
  }
  return false;
}

// Sends `sig` to the group's leader (which passes it on as it sees fit), waits up to `grace` for every
// process of the group to exit, then SIGKILLs the group. `leader_running` also reaps the leader when it is
// our child. The leader's pid stays reserved while its group has members: signalling it late is safe.
bool stop_process_group(const std::string& name, pid_t leader, int sig, std::chrono::milliseconds grace,
                        const std::function<bool()>& leader_running) {
  const auto gone = [&] { return !leader_running() && !group_alive(leader); };
  if (leader <= 0 || gone()) return true;
  ::kill(leader, sig);
  bool passed_on = false;
  bool killed = false;
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!gone()) {
    // A leader that exits without passing the signal on (the RabbitMQ script, when the signal comes before it
    // has noted the VM's pid) leaves its group running: signal the group itself.
    if (!passed_on && !leader_running()) {
      ::kill(-leader, sig);
      passed_on = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (killed) {
        log::error("process survived SIGKILL", {{"process", name}, {"pid", leader}});
        return false;
      }
      log::warn("process did not stop in time; killing it",
                {{"process", name}, {"pid", leader}, {"graceSeconds", grace.count() / 1000}});
      ::kill(-leader, SIGKILL);
      ::kill(leader, SIGKILL);
      killed = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// Pid files hold "pid start-time": a later run can tell the process it recorded from one reusing the pid.
void record_process(const fs::path& pid_file, pid_t pid) {
  const auto stat = read_proc_stat(pid);
  std::error_code ec;
  fs::remove(pid_file, ec);  // it may belong to another user (an earlier run as root)
  std::ofstream(pid_file, std::ios::trunc) << pid << ' ' << (stat ? stat->start_time : 0) << '\n';
}

// Stops a process group recorded by an earlier `up` that was killed before it could stop its children.
void stop_leftover(const std::string& name, const fs::path& pid_file) {
  pid_t pid = 0;
  unsigned long long start_time = 0;
  if (std::ifstream in(pid_file); in >> pid >> start_time && pid > 0) {
    const auto stat = read_proc_stat(pid);
    if (is_alive(stat) && stat->start_time == start_time) {
      log::warn("stopping a process left over by an earlier run", {{"process", name}, {"pid", pid}});
      stop_process_group(name, pid, SIGTERM, std::chrono::seconds(30),
                         [pid] { return is_alive(read_proc_stat(pid)); });
    }
  }
  std::error_code ec;
  fs::remove(pid_file, ec);
}

// One `up` per data directory: a second one would start a second broker on the same files (PostgreSQL
// protects itself with postmaster.pid; RabbitMQ does not) and would take the first one's processes for
// leftovers. The kernel releases the lock when the process ends, however it ends.
class DataDirLock {
 public:
  explicit DataDirLock(const fs::path& data_dir) {
    const fs::path file = data_dir / "up.lock";
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + file.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error("another `imageproc up` is already running on " + data_dir.string());
    }
  }
  ~DataDirLock() { ::close(fd_); }
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

// ---- Small file helpers ----------------------------------------------------------------------------------

void write_file(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

// The last `max_lines` lines of a text file (from its last 16 KiB), each indented; "" when there is none.
std::string file_tail(const fs::path& file, std::size_t max_lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - 16 * 1024));
  std::istringstream text(
      std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  std::deque<std::string> last;
  for (std::string line; std::getline(text, line);) {
    last.push_back(std::move(line));
    if (last.size() > max_lines) last.pop_front();
  }
  std::string out;
  for (const auto& line : last) out += "  " + line + "\n";
  return out;
}

std::string shell_quote(const std::string& value) {
  std::string out = "'";
  for (const char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path find_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir) / name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(name + " not found in PATH (run scripts/setup)");
}

void chown_tree(const fs::path& root, const RunAs& owner) {
  const auto chown_one = [&](const fs::path& p) {
    if (::lchown(p.c_str(), owner.uid, owner.gid) != 0)
      throw std::runtime_error("cannot chown " + p.string());
  };
  chown_one(root);
  for (const auto& entry : fs::recursive_directory_iterator(root)) chown_one(entry.path());
}

// ---- RabbitMQ --------------------------------------------------------------------------------------------

// epmd answers a NAMES_REQ (two-byte length 1, then 'n') with its port and the registered names. A real
// request rather than a bare connect, which epmd would report as a "partial packet".
bool epmd_answers(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const unsigned char request[] = {0, 1, 'n'};
  unsigned char reply[4];
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::send(fd, request, sizeof request, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof request) &&
                  ::recv(fd, reply, sizeof reply, MSG_WAITALL) == static_cast<ssize_t>(sizeof reply);
  ::close(fd);
  return ok;
}

// The real script, not /usr/sbin's su wrapper.
constexpr const char* kRabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

// The Erlang cookie, shared by the node and the CLI tools (rabbitmqctl) through HOME; Erlang wants mode 0400.
void ensure_erlang_cookie(const fs::path& file) {
  std::error_code ec;
  if (fs::file_size(file, ec) > 0 && !ec) {
    ::chmod(file.c_str(), 0400);
    return;
  }
  fs::remove(file, ec);
  std::string cookie = crypto::hex_encode(crypto::random_bytes(20));
  std::transform(cookie.begin(), cookie.end(), cookie.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  const bool written =
      fd >= 0 && ::write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
  if (fd >= 0) ::close(fd);
  if (!written) throw std::runtime_error("cannot write " + file.string());
}

// As root, the node runs as the owner of the data directory, so that its files stay usable by that user's own
// `up` later; otherwise as whoever runs `up`. (Unlike PostgreSQL, RabbitMQ does not refuse to run as root.)
std::optional<RunAs> data_dir_owner(const fs::path& data_dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(data_dir.c_str(), &st) != 0 || st.st_uid == 0) return std::nullopt;
  if (const passwd* pw = ::getpwuid(st.st_uid)) return RunAs{pw->pw_uid, pw->pw_gid};
  return RunAs{st.st_uid, st.st_gid};
}

// The last lines a child printed, kept for an error message while they are relayed as "[name] line".
class RecentOutput {
 public:
  explicit RecentOutput(std::string name) : prefix_("[" + std::move(name) + "] ") {}
  void add(const std::string& line) {
    const std::string out = prefix_ + line + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    const std::lock_guard lock(mutex_);
    lines_.push_back(line);
    if (lines_.size() > kKept) lines_.pop_front();
  }
  std::string text() const {
    const std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : lines_) out += "  " + line + "\n";
    return out;
  }

 private:
  static constexpr std::size_t kKept = 20;
  std::string prefix_;
  mutable std::mutex mutex_;
  std::deque<std::string> lines_;
};

// A RabbitMQ node of its own under <data>/rabbitmq, the C++ form of launch_rabbitmq/wait_rabbitmq/stop in
// scripts/services: own HOME and Erlang cookie, node name, mnesia and log directories, config, epmd port and
// distribution port, no plugins, AMQP and Erlang distribution on 127.0.0.1 only, so it never meets a system
// RabbitMQ. The constructor launches epmd and the node and returns at once (the node needs ~5–10 s);
// wait_ready() waits for the AMQP port. The node name is kept in the data directory, so a second `up` finds
// its queues again.
class LocalRabbitMq {
 public:
  LocalRabbitMq(const fs::path& data_dir, std::set<std::uint16_t>& ports) : dir_(data_dir / "rabbitmq") {
    if (::access(kRabbitmqServer, X_OK) != 0) {
      throw std::runtime_error(fmt::format("RabbitMQ not found at {} (run scripts/setup)", kRabbitmqServer));
    }
    const fs::path epmd = find_executable("epmd");
    fs::create_directories(dir_ / "home");
    fs::create_directories(dir_ / "mnesia");
    fs::create_directories(dir_ / "log");
    fs::permissions(dir_ / "home", fs::perms::owner_all, fs::perm_options::replace);
    // A run killed with SIGKILL could not stop its node; the data-dir lock says no live `up` owns it.
    stop_leftover("rabbitmq", dir_ / "rabbitmq.pid");
    stop_leftover("epmd", dir_ / "epmd.pid");

    node_name_ = node_name(data_dir);
    amqp_port_ = stable_port(data_dir / "rabbitmq-port", ports);
    const std::uint16_t epmd_port = stable_port(dir_ / "epmd-port", ports);
    const std::uint16_t dist_port = stable_port(dir_ / "dist-port", ports);
    ensure_erlang_cookie(dir_ / "home" / ".erlang.cookie");
    write_file(dir_ / "enabled_plugins", "[].\n");
    write_file(dir_ / "rabbitmq-env.conf", "");  // so /etc/rabbitmq/rabbitmq-env.conf is not read
    write_file(dir_ / "rabbitmq.conf",
               fmt::format("listeners.tcp.1 = 127.0.0.1:{}\nlog.file.level = info\n", amqp_port_));
    const std::map<std::string, std::string> env = {
        {"HOME", (dir_ / "home").string()},
        {"RABBITMQ_NODENAME", node_name_},
        {"RABBITMQ_CONF_ENV_FILE", (dir_ / "rabbitmq-env.conf").string()},
        {"RABBITMQ_CONFIG_FILE", (dir_ / "rabbitmq.conf").string()},
        {"RABBITMQ_ADVANCED_CONFIG_FILE", (dir_ / "advanced.config").string()},  // absent on purpose
        {"RABBITMQ_ENABLED_PLUGINS_FILE", (dir_ / "enabled_plugins").string()},
        {"RABBITMQ_MNESIA_BASE", (dir_ / "mnesia").string()},
        {"RABBITMQ_LOG_BASE", (dir_ / "log").string()},
        {"ERL_EPMD_PORT", std::to_string(epmd_port)},
        {"ERL_EPMD_ADDRESS", "127.0.0.1"},
        {"RABBITMQ_DIST_PORT", std::to_string(dist_port)},
        {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"},
        {"ERL_CRASH_DUMP", (dir_ / "erl_crash.dump").string()},
    };
    // For a person: `. <data dir>/rabbitmq/rabbitmq.env; rabbitmqctl -n "$RABBITMQ_NODENAME" list_queues`
    std::string exports;
    for (const auto& [name, value] : env) exports += fmt::format("export {}={}\n", name, shell_quote(value));
    write_file(dir_ / "rabbitmq.env", exports);
    run_as_ = data_dir_owner(data_dir);
    if (run_as_) chown_tree(dir_, *run_as_);

    // Our own epmd, on its own port, started first so that the node does not spawn (and leave behind) a
    // daemon we have no handle on.
    epmd_ = std::make_unique<ChildProcess>(
        "epmd",
        std::vector<std::string>{epmd.string(), "-port", std::to_string(epmd_port), "-address", "127.0.0.1"},
        std::map<std::string, std::string>{}, run_as_);
    record_process(dir_ / "epmd.pid", epmd_->pid());
    const auto epmd_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!epmd_answers(epmd_port)) {
      if (!epmd_->running() || std::chrono::steady_clock::now() >= epmd_deadline) {
        throw std::runtime_error(
            fmt::format("epmd did not start on 127.0.0.1:{} (see [epmd] lines)", epmd_port));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }

    log::info("starting RabbitMQ", {{"node", node_name_}, {"amqpPort", amqp_port_}, {"dir", dir_.string()}});
    node_ =
        std::make_unique<ChildProcess>("rabbitmq", std::vector<std::string>{kRabbitmqServer}, env, run_as_,
                                       [output = output_](const std::string& line) { output->add(line); });
    record_process(dir_ / "rabbitmq.pid", node_->pid());
  }

  ~LocalRabbitMq() { stop(); }
  LocalRabbitMq(const LocalRabbitMq&) = delete;
  LocalRabbitMq& operator=(const LocalRabbitMq&) = delete;

  // Waits until the AMQP port accepts connections: true then, false if a stop signal came first. Throws,
  // quoting the end of the node's log, when the node exits or `patience` runs out.
  bool wait_ready(std::chrono::seconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!accepts_connections("127.0.0.1", amqp_port_)) {
      if (g_stop_signal.load() != 0) return false;
      if (!node_->running()) {
        throw std::runtime_error(failure(
            fmt::format("RabbitMQ exited during start-up (status {})", node_->exit_code().value_or(-1))));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error(failure(
            fmt::format("RabbitMQ did not open 127.0.0.1:{} within {} s", amqp_port_, patience.count())));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    log::info("RabbitMQ ready", {{"node", node_name_}, {"amqpPort", amqp_port_}});
    return true;
  }

  // The node first (SIGTERM: the script passes it on and RabbitMQ shuts down cleanly), then its epmd.
  // Idempotent.
  void stop() {
    if (node_ && node_->running()) log::info("stopping RabbitMQ", {{"node", node_name_}});
    if (node_ && stop_process_group("rabbitmq", node_->pid(), SIGTERM, std::chrono::seconds(30),
                                    [this] { return node_->running(); })) {
      std::error_code ec;
      fs::remove(dir_ / "rabbitmq.pid", ec);
    }
    if (epmd_ && stop_process_group("epmd", epmd_->pid(), SIGTERM, std::chrono::seconds(10),
                                    [this] { return epmd_->running(); })) {
      std::error_code ec;
      fs::remove(dir_ / "epmd.pid", ec);
    }
  }

  bool running() { return node_ && node_->running(); }

  // RabbitMQ's built-in account, which it admits from loopback only.
  std::string url() const { return fmt::format("amqp://guest:guest@127.0.0.1:{}/%2f", amqp_port_); }

 private:
  // Unique to the data directory (a hash of its path) and kept in it, so that the node finds its mnesia
  // directory (named after the node) again even if the data directory moves.
  std::string node_name(const fs::path& data_dir) const {
    const fs::path file = dir_ / "nodename";
    std::string name;
    if (std::ifstream in(file); in) std::getline(in, name);
    if (name.empty()) {
      name = fmt::format("imageproc-{}@localhost", crypto::sha256_hex(data_dir.string()).substr(0, 12));
      write_file(file, name + "\n");
    }
    return name;
  }

  std::string failure(const std::string& what) const {
    const fs::path log_file = dir_ / "log" / (node_name_ + ".log");
    if (std::string tail = file_tail(log_file, 30); !tail.empty()) {
      return fmt::format("{}; last lines of {}:\n{}", what, log_file.string(), tail);
    }
    return fmt::format("{}; last lines of its output:\n{}", what, output_->text());
  }

  fs::path dir_;
  std::string node_name_;
  std::uint16_t amqp_port_ = 0;
  std::optional<RunAs> run_as_;
  std::shared_ptr<RecentOutput> output_ = std::make_shared<RecentOutput>("rabbitmq");
  std::unique_ptr<ChildProcess> epmd_;
  std::unique_ptr<ChildProcess> node_;
};

// The built web app of the source tree `up` runs from (`make run` builds it into web/dist/client): looked for
// under the working directory, then beside the binary (build/<preset>/imageproc); "" when neither has one.
std::string default_web_dist_dir(const std::string& self_path) {
  std::error_code ec;
  const fs::path candidates[] = {fs::current_path(ec) / "web" / "dist" / "client",
                                 fs::path(self_path).parent_path() / ".." / ".." / "web" / "dist" / "client"};
  for (const auto& dir : candidates) {
    if (!fs::is_regular_file(dir / "index.html", ec)) continue;
    const fs::path real = fs::weakly_canonical(dir, ec);
    return ec ? dir.string() : real.string();
  }
  return "";
}

}  // namespace

std::optional<std::string> local_stack_database_url(const std::string& data_dir) {
  std::ifstream in(fs::path(data_dir) / "postgres-port");
  int port = 0;
  if (!(in >> port) || port <= 0 || port > 65535) return std::nullopt;
  return fmt::format("postgresql://postgres@127.0.0.1:{}/imageproc", port);
}

int run_up(Config config, const std::string& self_path) {
  const fs::path data_dir = fs::absolute(config.data_dir);
  fs::create_directories(data_dir);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  const DataDirLock lock(data_dir);

  // Declared in reverse stop order: when start-up fails half-way, the broker goes down before the database.
  std::unique_ptr<LocalPostgres> postgres;
  std::unique_ptr<LocalRabbitMq> rabbitmq;
  std::set<std::uint16_t> ports;  // chosen in this run, not listening yet
  // RabbitMQ is the slow starter (~5-10 s): launch it first, bring PostgreSQL up meanwhile, then wait for it.
  if (config.queue.amqp_url.empty()) rabbitmq = std::make_unique<LocalRabbitMq>(data_dir, ports);
  if (config.database.url.empty()) {
    postgres = std::make_unique<LocalPostgres>(data_dir, ports);
    config.database.url = postgres->url("imageproc");
  }
  if (rabbitmq) {
    if (!rabbitmq->wait_ready(std::chrono::seconds(90))) {
      log::info("stopped during start-up");
      return 0;
    }
    config.queue.amqp_url = rabbitmq->url();
  }
  log::info("using AMQP broker",
            {{"url", redact_url(config.queue.amqp_url)}, {"local", rabbitmq != nullptr}});
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

  if (config.http.web_dist_dir.empty()) config.http.web_dist_dir = default_web_dist_dir(self_path);
  if (config.http.web_dist_dir.empty()) {
    log::warn(
        "the web app is not built; only the API is served (run `npm run build` in web/, or `make run`)");
  }

  const std::map<std::string, std::string> env = {
      {"DATABASE_URL", config.database.url},
      {"AMQP_URL", config.queue.amqp_url},
      {"JWT_SECRET", config.auth.jwt_secret},
      {"STORAGE_SIGNING_SECRET", config.storage.signing_secret},
      {"STORAGE_BACKEND", config.storage.backend},
      {"STORAGE_LOCAL_DIR", fs::absolute(config.storage.local_root).string()},
      {"IMAGEPROC_HTTP_ADDR", fmt::format("{}:{}", config.http.host, config.http.port)},
      {"IMAGEPROC_DATA_DIR", data_dir.string()},
      {"MIGRATE_ON_START", "false"},
      {"LOG_FORMAT", config.log.format},
      {"WEB_DIST_DIR", config.http.web_dist_dir},
  };
  ChildProcess api("api", {self_path, "api"}, env);
  // libgomp (under Tesseract) reads OMP_THREAD_LIMIT once, when it loads: one core per OCR call, so that
  // WORKER_AI_CONCURRENCY really bounds the local provider's CPU use.
  auto worker_env = env;
  if (std::getenv("OMP_THREAD_LIMIT") == nullptr) worker_env["OMP_THREAD_LIMIT"] = "1";
  ChildProcess worker("worker", {self_path, "worker"}, worker_env);

  const std::string host = config.http.host == "0.0.0.0" ? "127.0.0.1" : config.http.host;
  // Print the URL only once it answers, so the first click works.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (api.running() && !accepts_connections(host, config.http.port) && g_stop_signal.load() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (api.running()) {
    std::cout << fmt::format("\n  ImageProcessor is running at http://{}:{}\n  Press Ctrl-C to stop.\n\n",
                             host, config.http.port)
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
    if (rabbitmq && !rabbitmq->running()) {
      log::error("RabbitMQ exited; stopping the stack");
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
  if (rabbitmq) rabbitmq->stop();  // the node, then its epmd
  if (postgres) postgres->stop();
  log::info("stack stopped");
  return exit_code;
}

}  // namespace imageproc::app
