#include "api/metrics.hpp"

#include <fmt/format.h>

namespace imageproc::api {
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Metrics::observe_request(const std::string& route, const std::string& method, int status,
                              double seconds) {
  std::lock_guard lock(mutex_);
  auto& s = requests_[{route.empty() ? "unmatched" : route, method, status}];
  ++s.count;
  s.sum += seconds;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++s.buckets[i];
  }
}

void Metrics::set_gauge(const std::string& name, const std::string& help, double value) {
  std::lock_guard lock(mutex_);
  gauges_[name] = {help, value};
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP imageproc_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE imageproc_http_requests_total counter\n";
  for (const auto& [key, s] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format("imageproc_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       escape_label(route), method, status, s.count);
  }
  out += "# HELP imageproc_http_request_duration_seconds HTTP request latency.\n";
  out += "# TYPE imageproc_http_request_duration_seconds histogram\n";
  for (const auto& [key, s] : requests_) {
    const auto& [route, method, status] = key;
    const auto labels =
        fmt::format("route=\"{}\",method=\"{}\",status=\"{}\"", escape_label(route), method, status);
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("imageproc_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         kBuckets[i], s.buckets[i]);
    }
    out +=
        fmt::format("imageproc_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, s.count);
    out += fmt::format("imageproc_http_request_duration_seconds_sum{{{}}} {}\n", labels, s.sum);
    out += fmt::format("imageproc_http_request_duration_seconds_count{{{}}} {}\n", labels, s.count);
  }
  for (const auto& [name, hv] : gauges_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, hv.first, name, name, hv.second);
  }
  return out;
}

}  // namespace imageproc::api
