#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace imageproc::api {

RateLimiter::RateLimiter(int per_minute, std::size_t max_keys)
    : capacity_(per_minute), refill_per_second_(per_minute / 60.0), max_keys_(max_keys) {}

std::optional<int> RateLimiter::acquire(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) evict(now);
    it = buckets_.emplace(std::string(key), Bucket{capacity_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(capacity_, b.tokens + elapsed * refill_per_second_);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait = (1.0 - b.tokens) / refill_per_second_;
  return std::max(1, static_cast<int>(std::ceil(wait)));
}

void RateLimiter::evict(Clock::time_point now) {
  // Buckets that would be full again carry no information: drop them.
  std::erase_if(buckets_, [&](const auto& kv) {
    const double elapsed = std::chrono::duration<double>(now - kv.second.updated).count();
    return kv.second.tokens + elapsed * refill_per_second_ >= capacity_;
  });
  if (buckets_.size() < max_keys_) return;
  // Still full of active clients: drop the least recently used one.
  auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
    return a.second.updated < b.second.updated;
  });
  buckets_.erase(oldest);
}

}  // namespace imageproc::api
