#pragma once
// Request metrics in Prometheus text format: a counter and a latency histogram by route, method and status.
// Thread-safe; recording takes one short lock.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace imageproc::api {

// A Prometheus label value: backslash, double quote and newline escaped.
std::string escape_label(const std::string& value);

class Metrics {
 public:
  void observe_request(const std::string& route, const std::string& method, int status, double seconds);
  void set_gauge(const std::string& name, const std::string& help, double value);
  std::string render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,   1.0,  2.5,   5.0,  10.0};
  struct Series {
    std::uint64_t count = 0;
    double sum = 0;
    std::array<std::uint64_t, kBuckets.size()> buckets{};
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, Series> requests_;
  std::map<std::string, std::pair<std::string, double>> gauges_;
};

}  // namespace imageproc::api
