// `imageproc up` as a newcomer runs it: a local PostgreSQL and a local RabbitMQ node under the data dir, the
// API, the URL printed, Ctrl-C stops everything (no broker process left behind), and a second `up` finds the
// same data (accounts, durable queues) on the same ports.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "harness.hpp"
#include "queue/amqp.hpp"

namespace fs = std::filesystem;
using imageproc::testing::http;
using imageproc::testing::ImageprocProcess;
using namespace imageproc::queue;
using namespace std::chrono_literals;

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct UpRun {
  explicit UpRun(const fs::path& data_dir, int port)
      : process({"up"}, {{"IMAGEPROC_DATA_DIR", data_dir.string()},
                         {"IMAGEPROC_HTTP_ADDR", "127.0.0.1:" + std::to_string(port)},
                         {"AUTH_COOKIE_SECURE", "false"},
                         {"DATABASE_URL", ""},
                         {"AMQP_URL", ""},
                         {"JWT_SECRET", ""}}) {}
  ImageprocProcess process;
};

std::string dump(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The broker URL that `up` logged (password masked), e.g. amqp://guest:***@127.0.0.1:5672/%2f.
std::string logged_amqp_url(ImageprocProcess& up) {
  const auto line = up.wait_for_line("using AMQP broker", 1s);
  if (!line) return "";
  const auto start = line->find("amqp://");
  if (start == std::string::npos) return "";
  return line->substr(start, line->find(' ', start) - start);
}

// "pid: command line" of every running process for which `keep(proc_dir, command_line)` holds. Zombies
// (their command line is empty) do not count.
std::vector<std::string> processes_where(
    const std::function<bool(const fs::path& proc_dir, const std::string& cmdline)>& keep) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (!std::all_of(pid.begin(), pid.end(), [](unsigned char c) { return std::isdigit(c); })) continue;
    std::string cmdline = read_file(entry.path() / "cmdline");
    if (cmdline.empty()) continue;
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (keep(entry.path(), cmdline)) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

// The data dir's RabbitMQ node and its epmd: the node's command line names its HOME under the data dir, its
// epmd's names the epmd port kept there.
std::vector<std::string> broker_processes(const fs::path& data_dir) {
  std::string epmd_port = read_file(data_dir / "rabbitmq" / "epmd-port");
  epmd_port.erase(std::remove(epmd_port.begin(), epmd_port.end(), '\n'), epmd_port.end());
  const std::string epmd_args = epmd_port.empty() ? std::string() : "-port " + epmd_port + " ";
  return processes_where([&](const fs::path&, const std::string& cmdline) {
    if (cmdline.find("beam.smp") == std::string::npos && cmdline.find("epmd") == std::string::npos) return false;
    return cmdline.find(data_dir.string()) != std::string::npos ||
           (!epmd_args.empty() && cmdline.find(epmd_args) != std::string::npos);
  });
}

// Processes started by an `up` of this data dir (api, worker): their environment names it.
std::vector<std::string> stack_children(const fs::path& data_dir) {
  const std::string marker = "IMAGEPROC_DATA_DIR=" + data_dir.string() + "\n";
  return processes_where([&](const fs::path& proc_dir, const std::string& cmdline) {
    if (cmdline.find(" up") != std::string::npos) return false;  // the supervisor itself
    std::string environ = read_file(proc_dir / "environ");
    std::replace(environ.begin(), environ.end(), '\0', '\n');
    return (environ + "\n").find(marker) != std::string::npos;
  });
}

TEST(Up, StartsTheStackStopsOnCtrlCAndKeepsItsData) {
  char tmpl[] = "/tmp/imageproc-up-test.XXXXXX";
  const fs::path data_dir = ::mkdtemp(tmpl);
  const int port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const nlohmann::json credentials = {{"email", "newcomer@example.com"}, {"password", "first steps 123"}};
  // A prefix of its own: the worker may consume the production queues.
  const Topology topology = Topology::make("up-test.");
  std::string amqp_url;
  {
    UpRun up(data_dir, port);
    auto url_line = up.process.wait_for_line("ImageProcessor is running at", std::chrono::seconds(120));
    ASSERT_TRUE(url_line.has_value()) << dump(up.process.lines());
    EXPECT_NE(url_line->find(base), std::string::npos) << *url_line;
    ASSERT_TRUE(up.process.wait_for_line("api listening", std::chrono::seconds(60))) << dump(up.process.lines());
    ASSERT_TRUE(up.process.wait_for_line("worker started", std::chrono::seconds(60))) << dump(up.process.lines());

    // The local RabbitMQ node speaks AMQP on the port kept in the data dir; the log shows no password.
    amqp_url = logged_amqp_url(up.process);
    ASSERT_FALSE(amqp_url.empty()) << dump(up.process.lines());
    EXPECT_NE(amqp_url.find(":***@"), std::string::npos) << amqp_url;
    AmqpUrl broker = parse_amqp_url(amqp_url);
    EXPECT_EQ(std::to_string(broker.port) + "\n", read_file(data_dir / "rabbitmq-port"));
    EXPECT_GE(broker_processes(data_dir).size(), 2u) << "expected the node and its epmd";
    broker.password = "guest";  // the local node's built-in account, admitted from loopback only
    {
      AmqpConnection amqp(broker, "up-test");
      amqp.declare(topology);
      ASSERT_EQ(amqp.publish(topology.exchange, topology.image_jobs.name, "kept across restarts"),
                PublishOutcome::Confirmed);
    }

    auto body = credentials;
    body["name"] = "New Comer";
    auto reg = http(base, {"POST", "/api/auth/register", body.dump(), {{"Content-Type", "application/json"}}});
    ASSERT_EQ(reg.status, 201) << reg.body;
    EXPECT_EQ(http(base, {"GET", "/readyz", "", {}}).status, 200);

    up.process.process().signal(SIGINT);
    ASSERT_TRUE(up.process.process().wait(std::chrono::seconds(60))) << dump(up.process.lines());
    EXPECT_EQ(up.process.process().exit_code(), 0) << dump(up.process.lines());
    EXPECT_TRUE(up.process.wait_for_line("stack stopped", std::chrono::seconds(1)).has_value());
  }
  // PostgreSQL shut down cleanly: no postmaster.pid left behind. The RabbitMQ node and its epmd are gone.
  EXPECT_FALSE(fs::exists(data_dir / "postgres" / "postmaster.pid"));
  EXPECT_TRUE(fs::exists(data_dir / "jwt-secret"));
  EXPECT_EQ(broker_processes(data_dir), std::vector<std::string>{});

  {
    UpRun again(data_dir, port);
    ASSERT_TRUE(again.process.wait_for_line("api listening", std::chrono::seconds(120)))
        << dump(again.process.lines());
    auto login = http(base, {"POST", "/api/auth/login", credentials.dump(), {{"Content-Type", "application/json"}}});
    EXPECT_EQ(login.status, 200) << login.body;

    // Same broker port, same node data: the durable queue still holds the persistent message.
    EXPECT_EQ(logged_amqp_url(again.process), amqp_url);
    AmqpUrl broker = parse_amqp_url(amqp_url);
    broker.password = "guest";
    std::uint32_t depth = 0;
    {
      AmqpConnection amqp(broker, "up-test");
      for (const auto deadline = std::chrono::steady_clock::now() + 10s;
           depth == 0 && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200ms)) {
        depth = amqp.queue_depth(topology.image_jobs.name);
      }
    }
    EXPECT_EQ(depth, 1u);

    // Killed outright, the supervisor cannot stop its children in order: they stop themselves (parent-death
    // signal) instead of running on unsupervised.
    EXPECT_FALSE(stack_children(data_dir).empty());
    again.process.process().signal(SIGKILL);
    ASSERT_TRUE(again.process.process().wait(std::chrono::seconds(10)));
  }
  for (const auto deadline = std::chrono::steady_clock::now() + 60s;
       (!broker_processes(data_dir).empty() || !stack_children(data_dir).empty()) &&
       std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(broker_processes(data_dir), std::vector<std::string>{});
  EXPECT_EQ(stack_children(data_dir), std::vector<std::string>{});
  std::error_code ec;
  fs::remove_all(data_dir, ec);
}

TEST(Up, ExitsWithAnErrorAndNoUrlWhenTheApiCannotListen) {
  char tmpl[] = "/tmp/imageproc-up-test.XXXXXX";
  const fs::path data_dir = ::mkdtemp(tmpl);
  // Occupy a port so the API cannot bind it (bound, not listening: nothing answers there either).
  const int blocker = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len);
  {
    UpRun up(data_dir, ntohs(addr.sin_port));
    ASSERT_TRUE(up.process.process().wait(std::chrono::seconds(120))) << dump(up.process.lines());
    EXPECT_EQ(up.process.process().exit_code(), 1) << dump(up.process.lines());
    const auto out = dump(up.process.lines());
    EXPECT_EQ(out.find("ImageProcessor is running at"), std::string::npos) << out;
    EXPECT_NE(out.find("cannot listen on"), std::string::npos) << out;
  }
  ::close(blocker);
  EXPECT_FALSE(fs::exists(data_dir / "postgres" / "postmaster.pid"));
  EXPECT_EQ(broker_processes(data_dir), std::vector<std::string>{});
  std::error_code ec;
  fs::remove_all(data_dir, ec);
}

}  // namespace
