#include "app/wiring.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <thread>

#include "ai/local_analyzer.hpp"
#include "ai/openai_analyzer.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"
#include "db/migrations.hpp"
#include "storage/s3/s3_store.hpp"

namespace imageproc::app {

void migrate_with_retry(db::Pool& pool, std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (int attempt = 1;; ++attempt) {
    try {
      auto conn = pool.acquire();
      const auto report = db::run_migrations(*conn, db::embedded_migrations());
      log::info("database schema ready",
                {{"version", report.current_version}, {"applied", report.applied.size()}});
      return;
    } catch (const AppError& e) {
      if (e.status() != 503 || std::chrono::steady_clock::now() >= deadline) throw;
      log::warn("database not reachable yet; retrying", {{"attempt", attempt}, {"error", e.internal()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(2000, 200 * attempt)));
    }
  }
}

Storage make_storage(const StorageConfig& config) {
  Storage s;
  if (config.backend == "s3") {
    s.store = std::make_unique<storage::S3ObjectStore>(config);
  } else {
    // Only the API hands out signed URLs (and validate() makes it have a secret); the worker and the operator
    // commands never sign, so without a configured secret they get a throwaway one.
    const std::string secret =
        config.signing_secret.empty() ? crypto::random_token(32) : config.signing_secret;
    auto local = std::make_unique<storage::LocalObjectStore>(
        config.local_root, storage::UrlSigner(secret, config.public_base_url));
    s.local = local.get();
    s.store = std::move(local);
  }
  return s;
}

queue::Topology make_topology(const QueueConfig& config) {
  return queue::Topology::make(config.prefix, config.retry_delays, config.delivery_limit);
}

db::JobRoutes job_routes(const queue::Topology& topology) {
  return {topology.exchange, topology.image_jobs.name, topology.ai_jobs.name, topology.events_exchange};
}

std::unique_ptr<ai::Analyzer> make_analyzer(const AiConfig& config, int instances) {
  if (config.provider == "none") return nullptr;
  if (config.provider == "openai") {
    ai::OpenAiSettings settings;
    settings.base_url = config.openai_base_url;
    settings.api_key = config.openai_api_key;
    settings.model = config.openai_model;
    settings.input_usd_per_1k = config.input_usd_per_1k;
    settings.output_usd_per_1k = config.output_usd_per_1k;
    settings.connect_timeout = config.connect_timeout;
    settings.request_timeout = config.request_timeout;
    settings.max_image_dimension = config.max_image_dimension;
    return std::make_unique<ai::OpenAiAnalyzer>(settings);
  }
  ai::LocalAnalyzerSettings settings;
  settings.ocr_language = config.ocr_language;
  settings.ocr_instances = instances;
  return std::make_unique<ai::LocalAnalyzer>(settings);
}

std::string default_instance_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return fmt::format("{}-{}", host, ::getpid());
}

worker::MaintenanceSettings maintenance_settings(const Config& config) {
  worker::MaintenanceSettings s;
  s.retention_days = config.scheduler.retention_days;
  s.orphan_grace_hours = config.scheduler.orphan_grace_hours;
  s.recover_pending_after_minutes = config.scheduler.recover_pending_after_minutes;
  s.stage_lease_seconds = config.worker.stage_lease_seconds;
  s.outbox_retention_hours = config.scheduler.outbox_retention_hours;
  s.batch_size = config.scheduler.batch_size;
  return s;
}

worker::SchedulerSettings scheduler_settings(const Config& config, std::string instance) {
  worker::SchedulerSettings s;
  s.instance = std::move(instance);
  s.poll = std::chrono::seconds(config.scheduler.poll_seconds);
  s.lease_seconds = config.scheduler.run_lease_seconds;
  s.history_days = config.scheduler.history_days;
  s.definitions = worker::schedule_definitions(config.scheduler);
  return s;
}

}  // namespace imageproc::app
