// Composition root of `imageproc worker`: the image-stage consumers (WORKER_IMAGE_CONCURRENCY of them, each
// with prefetch 1), the AI-stage consumers (WORKER_AI_CONCURRENCY, separate because they mostly wait on a
// provider), an outbox relay, the scheduler (unless SCHEDULER_ENABLED=false), and the heartbeat in
// worker_heartbeats that operators and the admin overview read. SIGTERM: consumers finish the message in hand
// (unstarted prefetched ones return to the broker), the heartbeat row is removed. Unpublished outbox rows
// wait for the next relay (any process).

#include <fmt/format.h>

#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "app/wiring.hpp"
#include "core/logging.hpp"
#include "core/shutdown.hpp"
#include "db/heartbeats.hpp"
#include "db/refresh_tokens.hpp"
#include "db/schedules.hpp"
#include "imaging/vips_runtime.hpp"
#include "queue/consumer.hpp"
#include "queue/outbox_relay.hpp"
#include "worker/ai_stage.hpp"
#include "worker/image_stage.hpp"

namespace imageproc::app {

int run_worker(const Config& config) {
  ShutdownSignal shutdown;
  const int concurrency = config.worker.image_concurrency;
  const int ai_concurrency = config.worker.ai_concurrency;
  DatabaseConfig database = config.database;
  // Each consumer holds a connection for its claim/complete transactions; the relay, heartbeat and scheduler
  // need theirs.
  database.pool_size = std::max(database.pool_size, concurrency + ai_concurrency + 4);
  db::Pool pool(database, "imageproc-worker");
  if (config.database.migrate_on_start) migrate_with_retry(pool, std::chrono::seconds(30));

  imaging::VipsConfig vips_config;
  const imaging::VipsRuntime vips(vips_config);
  const Storage storage = make_storage(config.storage);
  const queue::Topology topology = make_topology(config.queue);
  const queue::AmqpUrl broker = queue::parse_amqp_url(config.queue.amqp_url);
  db::JobRepository jobs(pool, job_routes(topology));
  db::HeartbeatRepository heartbeats(pool);

  worker::ImageStageSettings stage_settings;
  stage_settings.imaging.limits.max_pixels = config.images.max_pixels;
  stage_settings.imaging.limits.max_frames = config.images.max_frames;
  stage_settings.imaging.avif = config.images.output_avif;
  stage_settings.temp_dir = config.images.temp_dir;
  stage_settings.lease_seconds = config.worker.stage_lease_seconds;
  worker::ImageStage image_stage(jobs, *storage.store, topology, stage_settings);

  const auto analyzer = make_analyzer(config.ai, ai_concurrency);  // throws when the provider cannot work
  worker::AiStageSettings ai_settings;
  ai_settings.daily_budget_usd = config.ai.daily_budget_usd;
  ai_settings.temp_dir = config.images.temp_dir;
  ai_settings.lease_seconds = config.worker.stage_lease_seconds;
  worker::AiStage ai_stage(jobs, *storage.store, topology, analyzer.get(), ai_settings);

  const std::string instance =
      config.worker.instance.empty() ? default_instance_name() : config.worker.instance;
  std::atomic<int> in_flight{0};
  std::vector<std::unique_ptr<queue::QueueConsumer>> consumers;
  for (int i = 0; i < concurrency; ++i) {
    consumers.push_back(std::make_unique<queue::QueueConsumer>(
        broker, topology, topology.image_jobs.name, fmt::format("imageproc-worker-{}-image-{}", instance, i),
        [&image_stage](const queue::Delivery& d) { return image_stage.handle(d); }, &in_flight));
  }
  for (int i = 0; i < ai_concurrency; ++i) {
    consumers.push_back(std::make_unique<queue::QueueConsumer>(
        broker, topology, topology.ai_jobs.name, fmt::format("imageproc-worker-{}-ai-{}", instance, i),
        [&ai_stage](const queue::Delivery& d) { return ai_stage.handle(d); }, &in_flight));
  }
  queue::OutboxRelay relay(pool, database, broker, topology);

  db::ScheduleRepository schedules(pool);
  db::OutboxRepository outbox(pool);
  db::RefreshTokenRepository refresh_tokens(pool);
  worker::ScheduledJobs scheduled_jobs(jobs, outbox, refresh_tokens, heartbeats, *storage.store,
                                       maintenance_settings(config));
  worker::Scheduler scheduler(database, schedules, scheduled_jobs, scheduler_settings(config, instance));
  {
    std::vector<std::jthread> threads;
    threads.emplace_back([&] { relay.run(shutdown); });
    if (config.scheduler.enabled) threads.emplace_back([&] { scheduler.run(shutdown); });
    for (auto& consumer : consumers)
      threads.emplace_back([&shutdown, &consumer] { consumer->run(shutdown); });

    log::info("worker started",
              {{"instance", instance},
               {"imageConcurrency", concurrency},
               {"aiConcurrency", ai_concurrency},
               {"aiProvider", config.ai.provider},
               {"scheduler", config.scheduler.enabled},
               {"queues", nlohmann::json::array({topology.image_jobs.name, topology.ai_jobs.name})},
               {"heartbeatSeconds", config.worker.heartbeat_seconds}});
    do {
      try {
        heartbeats.beat(instance, "worker", in_flight.load());
      } catch (const std::exception& e) {
        // The database may be restarting; the next beat retries. Consumers keep working meanwhile.
        log::warn("heartbeat failed", {{"instance", instance}, {"error", e.what()}});
      }
    } while (!shutdown.wait_for(std::chrono::seconds(config.worker.heartbeat_seconds)));
    log::info("worker stopping: finishing messages in hand", {{"inFlight", in_flight.load()}});
  }  // joins the consumers and the relay
  try {
    heartbeats.remove(instance);
  } catch (const std::exception& e) {
    log::warn("could not remove heartbeat", {{"instance", instance}, {"error", e.what()}});
  }
  log::info("worker stopped", {{"instance", instance}});
  return 0;
}

}  // namespace imageproc::app
