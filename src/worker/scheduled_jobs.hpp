#pragma once
// The scheduled jobs (DESIGN §8), each idempotent, batched and safe to interrupt: a run that stops halfway
// (shutdown, crash, a store outage) leaves only work that the next run finds and finishes.
//
//   cleanup-expired-jobs   jobs older than RETENTION_DAYS: hidden at once, then their objects (by prefix,
//                          paginated) and their row; a job whose objects cannot be removed keeps its row
//                          (marked deleted) for the next run
//   purge-deleted-jobs     finishes deletions requested through DELETE /api/images/{id} whose background
//                          purge did not happen (api stopped, store down)
//   recover-stuck-jobs     re-queues, through the outbox, stages Processing past the stage lease or Pending
//                          past RECOVER_PENDING_AFTER_MINUTES with nothing queued; drops heartbeat rows of
//                          workers gone for an hour
//   sweep-orphan-objects   deletes objects under originals/ and processed/ whose job does not exist and that
//                          are older than ORPHAN_GRACE_HOURS (an upload stores its original before its row)
//   prune-outbox           deletes outbox rows published more than OUTBOX_RETENTION_HOURS ago
//   purge-refresh-tokens   deletes refresh tokens expired for more than a day
//
// Thread-safe as far as their collaborators are; the scheduler runs one job at a time per worker.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/shutdown.hpp"
#include "db/heartbeats.hpp"
#include "db/jobs.hpp"
#include "db/outbox.hpp"
#include "db/refresh_tokens.hpp"
#include "storage/object_store.hpp"

namespace imageproc::worker {

// What a job sees of its run: counters for schedule_runs.stats, failures of single items (the run goes on
// and ends Failed), and proceed() between items, which keeps the run's lease alive and stops on shutdown.
class RunContext {
 public:
  using KeepAlive = std::function<void()>;
  RunContext(StopFlag& stop, KeepAlive keep_alive);

  // False once shutdown was requested: the job returns and the run is recorded as interrupted.
  bool proceed();
  void add(const std::string& counter, std::int64_t n = 1);
  // One item could not be handled now; the next run retries it. The first few messages are kept.
  void item_failed(const std::string& message);

  const nlohmann::json& stats() const { return stats_; }
  bool interrupted() const { return interrupted_; }
  int failures() const { return failures_; }
  // "3 items failed: …" or nullopt.
  std::optional<std::string> failure_summary() const;

 private:
  static constexpr std::size_t kKeptMessages = 3;
  StopFlag& stop_;
  KeepAlive keep_alive_;
  nlohmann::json stats_ = nlohmann::json::object();
  std::vector<std::string> messages_;
  int failures_ = 0;
  bool interrupted_ = false;
};

struct MaintenanceSettings {
  int retention_days = 30;
  int orphan_grace_hours = 24;
  int recover_pending_after_minutes = 15;
  int stage_lease_seconds = 600;  // WORKER_STAGE_LEASE_SECONDS: Processing longer than this is abandoned
  int outbox_retention_hours = 24;
  int batch_size = 100;
};

class ScheduledJobs {
 public:
  using Job = std::function<void(RunContext&)>;

  ScheduledJobs(db::JobRepository& jobs, db::OutboxRepository& outbox, db::RefreshTokenRepository& tokens,
                db::HeartbeatRepository& heartbeats, storage::ObjectStore& store,
                MaintenanceSettings settings);

  // Every job by its schedule name (the names of kScheduleSettings).
  const std::map<std::string, Job>& table() const { return table_; }
  std::vector<std::string> names() const;

  void cleanup_expired_jobs(RunContext& ctx);
  void purge_deleted_jobs(RunContext& ctx);
  void recover_stuck_jobs(RunContext& ctx);
  void sweep_orphan_objects(RunContext& ctx);
  void prune_outbox(RunContext& ctx);
  void purge_refresh_tokens(RunContext& ctx);

 private:
  // The next batch of jobs to purge after the job id given ("" for the first), in id order.
  using BatchSource = std::function<std::vector<db::JobRecord>(const std::string& after_id)>;
  // Purges batch after batch until a short one, counting into `counter`.
  void purge_all(RunContext& ctx, const BatchSource& next_batch, const char* counter);
  // Purges each job of a batch; returns false when the run should stop.
  bool purge_batch(RunContext& ctx, const std::vector<db::JobRecord>& batch, const char* counter);

  db::JobRepository& jobs_;
  db::OutboxRepository& outbox_;
  db::RefreshTokenRepository& tokens_;
  db::HeartbeatRepository& heartbeats_;
  storage::ObjectStore& store_;
  MaintenanceSettings settings_;
  std::map<std::string, Job> table_;
};

}  // namespace imageproc::worker
