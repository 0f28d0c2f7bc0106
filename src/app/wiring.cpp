#include "app/wiring.hpp"

#include "ai/local_analyzer.hpp"
#include "ai/openai_analyzer.hpp"

#include <thread>

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
    auto local = std::make_unique<storage::LocalObjectStore>(
        config.local_root, storage::UrlSigner(config.signing_secret, config.public_base_url));
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

}  // namespace imageproc::app
