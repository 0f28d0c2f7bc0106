#include "api/handlers/health.hpp"

#include "core/logging.hpp"

namespace imageproc::api {

HealthHandlers::HealthHandlers(std::vector<ReadinessCheck> checks, Metrics& metrics, MetricsSource operations)
    : checks_(std::move(checks)), metrics_(metrics), operations_(std::move(operations)) {}

void HealthHandlers::register_routes(Router& router) {
  router.add("GET", "/healthz", [this](Request& r) { return healthz(r); });
  router.add("GET", "/readyz", [this](Request& r) { return readyz(r); });
  router.add("GET", "/metrics", [this](Request& r) { return metrics(r); });
}

Response HealthHandlers::healthz(Request&) {
  return Response::json(200, {{"status", "ok"}});
}

Response HealthHandlers::readyz(Request& request) {
  nlohmann::json checks = nlohmann::json::object();
  bool ready = true;
  for (const auto& check : checks_) {
    try {
      check.probe();
      checks[check.name] = "ok";
    } catch (const std::exception& e) {
      ready = false;
      checks[check.name] = "unavailable";
      log::warn("readiness check failed",
                {{"requestId", request.request_id}, {"check", check.name}, {"error", e.what()}});
    }
  }
  return Response::json(ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}, {"checks", checks}});
}

Response HealthHandlers::metrics(Request& request) {
  std::string text = metrics_.render();
  if (operations_) {
    bool up = true;
    std::string operations;
    try {
      operations = operations_();
    } catch (const std::exception& e) {
      up = false;
      log::warn("operations metrics unavailable", {{"requestId", request.request_id}, {"error", e.what()}});
    }
    text +=
        "# HELP imageproc_operations_up 1 when the deployment-wide gauges could be read.\n"
        "# TYPE imageproc_operations_up gauge\n";
    text += up ? "imageproc_operations_up 1\n" : "imageproc_operations_up 0\n";
    text += operations;
  }
  return Response::text(200, text, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace imageproc::api
