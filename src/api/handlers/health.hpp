#pragma once
// /healthz (the process is alive), /readyz (every dependency answers) and /metrics (Prometheus text).

#include <functional>
#include <string>
#include <vector>

#include "api/metrics.hpp"
#include "api/router.hpp"

namespace imageproc::api {

// A named readiness probe; throws (anything) when the dependency is not usable.
struct ReadinessCheck {
  std::string name;
  std::function<void()> probe;
};

class HealthHandlers {
 public:
  // Appended to /metrics at each scrape (deployment-wide gauges read from the database and broker); when it
  // throws, /metrics still answers, with imageproc_operations_up 0.
  using MetricsSource = std::function<std::string()>;

  HealthHandlers(std::vector<ReadinessCheck> checks, Metrics& metrics, MetricsSource operations = {});
  void register_routes(Router& router);

  Response healthz(Request& request);
  Response readyz(Request& request);
  Response metrics(Request& request);

 private:
  std::vector<ReadinessCheck> checks_;
  Metrics& metrics_;
  MetricsSource operations_;
};

}  // namespace imageproc::api
