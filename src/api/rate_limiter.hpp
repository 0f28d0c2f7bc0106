#pragma once
// Token-bucket rate limiting (DESIGN §4). Each key (client IP or user id) has a bucket of `per_minute` tokens
// refilled continuously. Thread-safe. Memory is bounded: past `max_keys` buckets, full (idle) ones are dropped
// first, then the least recently used.
//
// Buckets live in this process: with N API instances behind a balancer a client can reach N× the limit unless
// the balancer pins clients to instances. That is the documented trade-off (docs/operations.md): a shared
// counter would add a database round trip to every request.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace imageproc::api {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(int per_minute, std::size_t max_keys = 100'000);

  // Takes one token for `key`. Returns nullopt when allowed, else the whole seconds until a token is free (≥ 1).
  std::optional<int> acquire(std::string_view key, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void evict(Clock::time_point now);

  const double capacity_;
  const double refill_per_second_;
  const std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace imageproc::api
