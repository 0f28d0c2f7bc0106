#pragma once
// A TCP proxy on 127.0.0.1 in front of one upstream port (s3rver), for the chaos suite: it relays bytes both
// ways until told to fail; while failing it cuts every open connection and answers each new one with
// `503 Service Unavailable`, as an overloaded or broken object store would. Bounded: at most kMaxConnections
// at once (more are closed at once). Thread-safe; one thread per connection, joined on destruction.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace imageproc::testing {

class FaultProxy {
 public:
  static constexpr std::size_t kMaxConnections = 128;

  explicit FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = loopback(0);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0) {
      throw std::runtime_error("fault proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~FaultProxy() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    cut_all();
    for (auto& t : workers_) t.join();
  }

  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }

  // While failing, open connections are cut and new ones get a 503.
  void fail(bool failing) {
    failing_ = failing;
    if (failing) cut_all();
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void accept_loop() {
    while (!stopping_) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard lock(mutex_);
      if (stopping_ || open_.size() >= kMaxConnections) {
        ::close(client);
        continue;
      }
      open_.insert(client);
      workers_.emplace_back([this, client] { serve(client); });
    }
  }

  void serve(int client) {
    if (failing_) {
      drain_request(client);
      static const std::string reply =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(client, reply.data(), reply.size());
      forget(client);
      return;
    }
    const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(upstream_port_);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(upstream);
      forget(client);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      open_.insert(upstream);
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[16384];
    while (!stopping_ && !failing_) {
      if (::poll(fds, 2, 200) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0 || !write_all(fds[1 - i].fd, buf, static_cast<std::size_t>(n))) closed = true;
      }
      if (closed) break;
    }
    forget(upstream);
    forget(client);
  }

  // Reads what the client sent so far (its request headers), briefly, so the 503 is read as an answer.
  static void drain_request(int fd) {
    pollfd p{fd, POLLIN, 0};
    char buf[4096];
    if (::poll(&p, 1, 500) > 0) (void)!::read(fd, buf, sizeof buf);
  }

  static bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd, data, size);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  void forget(int fd) {
    std::lock_guard lock(mutex_);
    if (open_.erase(fd) > 0) {
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
    }
  }

  void cut_all() {
    std::lock_guard lock(mutex_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);  // their threads close them
  }

  int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> failing_{false};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::set<int> open_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace imageproc::testing
