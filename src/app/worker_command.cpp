// Composition root of `imageproc worker`. Today the worker registers itself in worker_heartbeats (so operators
// and the admin overview see live workers) and stops cleanly on SIGTERM; queue consumers and the scheduler
// attach here.

#include <unistd.h>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "core/logging.hpp"
#include "core/shutdown.hpp"
#include "db/heartbeats.hpp"
#include "db/pool.hpp"

namespace imageproc::app {

void migrate_with_retry(db::Pool& pool, std::chrono::seconds patience);

namespace {
std::string default_instance_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return fmt::format("{}-{}", host, ::getpid());
}
}  // namespace

int run_worker(const Config& config) {
  ShutdownSignal shutdown;
  db::Pool pool(config.database, "imageproc-worker");
  if (config.database.migrate_on_start) migrate_with_retry(pool, std::chrono::seconds(30));
  db::HeartbeatRepository heartbeats(pool);
  const std::string instance = config.worker.instance.empty() ? default_instance_name() : config.worker.instance;
  log::info("worker started", {{"instance", instance}, {"heartbeatSeconds", config.worker.heartbeat_seconds}});
  do {
    try {
      heartbeats.beat(instance, "worker", 0);
    } catch (const std::exception& e) {
      // The database may be restarting; the next beat retries. Consumers keep working meanwhile.
      log::warn("heartbeat failed", {{"instance", instance}, {"error", e.what()}});
    }
  } while (!shutdown.wait_for(std::chrono::seconds(config.worker.heartbeat_seconds)));
  try {
    heartbeats.remove(instance);
  } catch (const std::exception& e) {
    log::warn("could not remove heartbeat", {{"instance", instance}, {"error", e.what()}});
  }
  log::info("worker stopped", {{"instance", instance}});
  return 0;
}

}  // namespace imageproc::app
