#pragma once
// /api/admin/* (role admin; the pipeline answers 401 without a token and 403 for other roles) and the
// operations part of /metrics. Both read one OperationsSnapshot: jobs by status, queue depths and dead
// letters, worker heartbeats, schedules and their recent runs — the state of the whole deployment, read from
// PostgreSQL and RabbitMQ, so every API instance reports the same numbers.
//
//   GET  /api/admin/overview              the snapshot as JSON
//   POST /api/admin/schedules/{name}/run  asks the workers to run a schedule once, now (202; 404 unknown)
//
// Thread-safe as far as its collaborators are.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http.hpp"
#include "api/router.hpp"
#include "db/heartbeats.hpp"
#include "db/jobs.hpp"
#include "db/schedules.hpp"
#include "queue/queue_inspector.hpp"

namespace imageproc::api {

struct OperationsSnapshot {
  db::JobCounts jobs;
  std::optional<std::vector<queue::QueueReport>> queues;  // nullopt when the broker could not be asked
  std::optional<std::string> queues_error;
  std::vector<db::WorkerHeartbeat> workers;
  std::vector<db::ScheduleRecord> schedules;
  std::vector<db::ScheduleRunRecord> recent_runs;
};

// Pure mappings of a snapshot (unit-tested); schedule_json is also what `schedule list --json` prints.
nlohmann::json schedule_json(const db::ScheduleRecord& schedule);
nlohmann::json overview_json(const OperationsSnapshot& snapshot, const std::string& generated_at);
std::string operations_metrics_text(const OperationsSnapshot& snapshot, const db::ScheduleMetrics& schedules);

class AdminHandlers {
 public:
  using QueueProbe = std::function<std::vector<queue::QueueReport>()>;  // throws when the broker is away
  static constexpr int kRecentRuns = 20;

  AdminHandlers(db::JobRepository& jobs, db::HeartbeatRepository& heartbeats,
                db::ScheduleRepository& schedules, QueueProbe queues, int worker_stale_seconds);
  void register_routes(Router& router);

  Response overview(Request& request);
  Response run_schedule(Request& request);
  // The operations metrics for /metrics (throws when the database is away).
  std::string metrics_text();

 private:
  OperationsSnapshot snapshot(int recent_runs);

  db::JobRepository& jobs_;
  db::HeartbeatRepository& heartbeats_;
  db::ScheduleRepository& schedules_;
  QueueProbe queues_;
  int worker_stale_seconds_;
};

}  // namespace imageproc::api
