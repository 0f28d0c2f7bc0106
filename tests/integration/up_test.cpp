// `imageproc up` as a newcomer runs it: a local PostgreSQL under the data dir, the API, the URL printed,
// Ctrl-C stops everything, and a second `up` finds the same data.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "harness.hpp"

namespace fs = std::filesystem;
using imageproc::testing::http;
using imageproc::testing::ImageprocProcess;

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
                         {"JWT_SECRET", ""}}) {}
  ImageprocProcess process;
};

std::string dump(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(Up, StartsTheStackStopsOnCtrlCAndKeepsItsData) {
  char tmpl[] = "/tmp/imageproc-up-test.XXXXXX";
  const fs::path data_dir = ::mkdtemp(tmpl);
  const int port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const nlohmann::json credentials = {{"email", "newcomer@example.com"}, {"password", "first steps 123"}};
  {
    UpRun up(data_dir, port);
    auto url_line = up.process.wait_for_line("ImageProcessor is running at", std::chrono::seconds(120));
    ASSERT_TRUE(url_line.has_value()) << dump(up.process.lines());
    EXPECT_NE(url_line->find(base), std::string::npos) << *url_line;
    ASSERT_TRUE(up.process.wait_for_line("api listening", std::chrono::seconds(60))) << dump(up.process.lines());
    ASSERT_TRUE(up.process.wait_for_line("worker started", std::chrono::seconds(60))) << dump(up.process.lines());

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
  // PostgreSQL shut down cleanly: no postmaster.pid left behind.
  EXPECT_FALSE(fs::exists(data_dir / "postgres" / "postmaster.pid"));
  EXPECT_TRUE(fs::exists(data_dir / "jwt-secret"));

  {
    UpRun again(data_dir, port);
    ASSERT_TRUE(again.process.wait_for_line("api listening", std::chrono::seconds(120)))
        << dump(again.process.lines());
    auto login = http(base, {"POST", "/api/auth/login", credentials.dump(), {{"Content-Type", "application/json"}}});
    EXPECT_EQ(login.status, 200) << login.body;
    again.process.process().signal(SIGTERM);
    ASSERT_TRUE(again.process.process().wait(std::chrono::seconds(60)));
    EXPECT_EQ(again.process.process().exit_code(), 0);
  }
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
  std::error_code ec;
  fs::remove_all(data_dir, ec);
}

}  // namespace
