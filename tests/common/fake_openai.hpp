#pragma once
// A local stand-in for an OpenAI-compatible server (the real API cannot be reached from the test machines):
// HTTP/1.1 on 127.0.0.1 with an ephemeral port, answering each request with the next scripted reply (the last
// one repeats) and recording what it received. Replies are shaped exactly like OpenAI's Chat Completions
// answers and error bodies (see chat_completion() and error_body()). One connection per request
// (`Connection: close`), so a "hang" reply simply holds its connection open without answering until it is
// released or the server stops. Bounded: the accept loop ends in the destructor.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace imageproc::testing {

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool hang = false;  // accept the request, never answer (until the server stops)
};

struct RecordedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// {"id", "object": "chat.completion", "created", "model", "choices": [{index, message: {role, content,
// refusal}, logprobs, finish_reason}], "usage": {prompt_tokens, completion_tokens, total_tokens}}
inline std::string chat_completion(const nlohmann::json& content, int prompt_tokens, int completion_tokens,
                                   const std::string& model = "gpt-4.1-mini-2025-04-14",
                                   const std::string& finish_reason = "stop") {
  nlohmann::json message = {{"role", "assistant"}, {"refusal", nullptr}, {"annotations", nlohmann::json::array()}};
  message["content"] = content.is_string() ? content : nlohmann::json(content.dump());
  return nlohmann::json{{"id", "chatcmpl-test"},
                        {"object", "chat.completion"},
                        {"created", 1763800000},
                        {"model", model},
                        {"choices",
                         {{{"index", 0}, {"message", message}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}}},
                        {"usage",
                         {{"prompt_tokens", prompt_tokens},
                          {"completion_tokens", completion_tokens},
                          {"total_tokens", prompt_tokens + completion_tokens}}},
                        {"service_tier", "default"},
                        {"system_fingerprint", "fp_test"}}
      .dump();
}

inline std::string refusal_completion(const std::string& refusal, int prompt_tokens = 300) {
  nlohmann::json body = nlohmann::json::parse(chat_completion("", prompt_tokens, 12));
  body["choices"][0]["message"]["content"] = nullptr;
  body["choices"][0]["message"]["refusal"] = refusal;
  return body.dump();
}

// {"error": {"message", "type", "param", "code"}}
inline std::string error_body(const std::string& message, const std::string& type, const std::string& code) {
  return nlohmann::json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}.dump();
}

// A schema-conforming analysis as the model would write it.
inline nlohmann::json sample_analysis() {
  return {{"summary", "  A red bicycle leaning against a brick wall.  "},
          {"ocrText", "  "},
          {"tags",
           {{{"label", "bicycle"}, {"confidence", 0.97}},
            {{"label", "wall"}, {"confidence", 1.4}},
            {{"label", "street"}, {"confidence", -0.2}}}},
          {"safety", {{"adult", false}, {"violence", false}, {"selfHarm", false}}}};
}

class FakeOpenAi {
 public:
  explicit FakeOpenAi(std::vector<FakeReply> script) : script_(script.begin(), script.end()) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 16) != 0) {
      throw std::runtime_error("fake OpenAI server: cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeOpenAi() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  FakeOpenAi(const FakeOpenAi&) = delete;
  FakeOpenAi& operator=(const FakeOpenAi&) = delete;

  // The base URL to configure (OPENAI_BASE_URL): http://127.0.0.1:PORT/v1
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  void set_script(std::vector<FakeReply> script) {
    std::lock_guard lock(mutex_);
    script_.assign(script.begin(), script.end());
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits (bounded) until `count` requests have arrived.
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
  }

 private:
  void serve() {
    std::vector<int> held;  // connections of "hang" replies, closed at the end
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      RecordedRequest request;
      if (!read_request(fd, request)) {
        ::close(fd);
        continue;
      }
      FakeReply reply;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (!script_.empty()) {
          reply = script_.front();
          if (script_.size() > 1) script_.pop_front();
        }
      }
      arrived_.notify_all();
      if (reply.hang) {
        held.push_back(fd);
        continue;
      }
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " Fake\r\nContent-Type: application/json\r\n";
      for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
      out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n" + reply.body;
      write_all(fd, out);
      ::close(fd);
    }
    for (int fd : held) ::close(fd);
  }

  // Reads one request (headers, then Content-Length bytes of body), bounded by a 10 s deadline.
  bool read_request(int fd, RecordedRequest& request) {
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    char buffer[65536];
    while (std::chrono::steady_clock::now() < deadline && !stop_) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        parse_head(data.substr(0, header_end), request);
        const auto length = request.header("content-length");
        content_length = length.empty() ? 0 : std::stoul(length);
      }
    }
    if (header_end == std::string::npos || data.size() < header_end + 4 + content_length) return false;
    request.body = data.substr(header_end + 4, content_length);
    return true;
  }

  static void parse_head(const std::string& head, RecordedRequest& request) {
    std::size_t pos = head.find("\r\n");
    const std::string line = head.substr(0, pos);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 + 1);
    request.method = line.substr(0, sp1);
    request.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos && pos < head.size()) {
      const auto next = head.find("\r\n", pos + 2);
      const std::string h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      const auto colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers.emplace_back(name, value);
      }
      pos = next;
    }
  }

  static void write_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<FakeReply> script_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

}  // namespace imageproc::testing
