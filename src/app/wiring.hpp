#pragma once
// Builders shared by the composition roots of `api` and `worker`: the same config must give both processes
// the same store, queue names and schema.

#include <chrono>
#include <memory>

#include "ai/analyzer.hpp"
#include "core/config.hpp"
#include "db/jobs.hpp"
#include "db/pool.hpp"
#include "queue/amqp.hpp"
#include "queue/topology.hpp"
#include "storage/local/local_store.hpp"
#include "storage/object_store.hpp"
#include "worker/scheduled_jobs.hpp"
#include "worker/scheduler.hpp"

namespace imageproc::app {

// Applies migrations, retrying while the database is still starting (orchestrators start everything at once).
void migrate_with_retry(db::Pool& pool, std::chrono::seconds patience);

// The configured object store. `local` is set when it is the local-disk backend, whose signed URLs the API
// serves itself at /files/.
struct Storage {
  std::unique_ptr<storage::ObjectStore> store;
  storage::LocalObjectStore* local = nullptr;
};
Storage make_storage(const StorageConfig& config);

queue::Topology make_topology(const QueueConfig& config);

// The configured AI provider: nullptr for `none`. Refuses to start (throws std::runtime_error naming the
// setting) when the provider cannot work: no key for `openai`, missing OCR data for `local`. `instances` is
// how many analyses may run at once (the local provider keeps that many OCR engines).
std::unique_ptr<ai::Analyzer> make_analyzer(const AiConfig& config, int instances);
db::JobRoutes job_routes(const queue::Topology& topology);

// `<host>-<pid>`: the default name of a worker (WORKER_INSTANCE) and of a CLI run in schedule_runs.
std::string default_instance_name();

// What the scheduled jobs and the scheduler take from the configuration (worker and `schedule run` alike).
worker::MaintenanceSettings maintenance_settings(const Config& config);
worker::SchedulerSettings scheduler_settings(const Config& config, std::string instance);

}  // namespace imageproc::app
