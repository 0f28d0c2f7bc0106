#pragma once
// jobs table (DESIGN §5) and the state machine of its two stages. Every state change is one transaction that
// also writes, through the outbox, the messages it implies: the next stage's work message and a
// `job.{userId}` event carrying the new JobSummary (DESIGN §6: publishing only through the outbox). So a job
// can never be Pending with nothing queued, and every SSE client sees every change.
//
// Stage transitions (the AI stage mirrors the image stage in its ai_* columns):
//   Pending ──claim──► Processing ──complete──► Completed (image: AI message queued)
//                          │ ├──fail──► Error (image: AI Skipped)
//                          │ ├──skip──► Skipped (AI only: provider `none`, budget reached)
//                          │ └──schedule_retry──► Pending (message on a TTL'd retry queue)
//   Error ──user retry──► Pending
// The AI stage is claimed only once the image stage is Completed.
// Claims are conditional UPDATEs, so a duplicate delivery of a finished stage changes nothing. Reads for
// users always filter by user_id and deleted_at: another user's job is indistinguishable from a missing one.
// Thread-safe (each call leases its own connection).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "contracts/jobs.hpp"
#include "db/pool.hpp"

namespace imageproc::db {

struct JobRecord {
  std::string id;
  std::string user_id;
  std::string status;
  std::string ai_status;
  std::string original_key;
  std::string original_filename;
  std::string mime_type;
  std::int64_t file_size = 0;
  std::string sha256;
  std::optional<int> width;
  std::optional<int> height;
  std::string created_at;  // RFC 3339, like every timestamp here
  std::optional<std::string> started_at;
  std::optional<std::string> completed_at;
  std::optional<std::string> error_message;
  int retry_count = 0;
  nlohmann::json outputs;   // [{name, format, width, height, bytes, key}] or null
  nlohmann::json metadata;  // DESIGN §4 metadata or null
  std::optional<std::string> ai_started_at;
  std::optional<std::string> ai_completed_at;
  std::optional<std::string> ai_error_message;
  int ai_retry_count = 0;
  nlohmann::json ai_analysis;  // or null
  std::optional<std::string> deleted_at;

  contracts::JobSummaryData summary() const;
};

struct NewJob {
  std::string id;
  std::string user_id;
  std::string original_key;
  std::string original_filename;  // sanitised for display
  std::string mime_type;
  std::int64_t file_size = 0;
  std::string sha256;
  int width = 0;  // oriented, from the header
  int height = 0;
};

// Where stage messages and events go (names from queue::Topology; plain strings keep db free of queue code).
struct JobRoutes {
  std::string exchange;  // main direct exchange
  std::string image_routing_key;
  std::string ai_routing_key;
  std::string events_exchange;  // topic exchange for job.{userId}
};

struct JobListQuery {
  int page = 1;                               // ≥ 1
  int page_size = 20;                         // 1–100
  std::optional<std::string> overall_status;  // one of contracts::overall_statuses()
  std::optional<std::string> search;          // full-text over tags, OCR text and summary
};

struct JobListPage {
  std::vector<contracts::JobSummaryData> items;
  std::int64_t total = 0;
};

struct JobStats {
  std::int64_t jobs_today = 0;  // created since 00:00 UTC
  std::int64_t in_progress = 0;
  std::optional<double> success_rate;  // image stage Completed / (Completed + Error); none finished → nullopt
  std::optional<std::int64_t> avg_processing_ms;  // image stage, Completed jobs
  std::int64_t total = 0;
};

enum class ClaimOutcome {
  Claimed,      // the caller owns the stage now
  AlreadyDone,  // Completed or Error: a duplicate delivery; ack and skip
  InProgress,   // another consumer holds it (not stale, not a redelivery); ack and skip
  Gone,         // no such job, or deleted: ack and drop
};

struct Claim {
  ClaimOutcome outcome = ClaimOutcome::Gone;
  std::optional<JobRecord> job;  // set when Claimed
};

enum class Stage { Image, Ai };
const char* stage_name(Stage stage);  // "image" | "ai"

// Rows per (status, aiStatus) pair, for the admin overview and /metrics.
struct JobStatusCount {
  std::string status;
  std::string ai_status;
  std::int64_t count = 0;
};

struct JobCounts {
  std::vector<JobStatusCount> live;  // not deleted
  std::int64_t deleted_pending = 0;  // marked deleted, objects and row not yet purged
};

// A stage that recover-stuck-jobs queued again.
struct RequeuedStage {
  JobRecord job;
  Stage stage = Stage::Image;
  std::string was;  // the stage's status: Pending or Processing
};

enum class RetryRequest { Requeued, NotFailed, NotFound };

struct RetryResult {
  RetryRequest outcome = RetryRequest::NotFound;
  std::optional<JobRecord> job;  // the job as re-queued, when Requeued
};

class JobRepository {
 public:
  JobRepository(Pool& pool, JobRoutes routes) : pool_(pool), routes_(std::move(routes)) {}

  // Inserts the job (Pending/Pending) and queues its image-stage message and event, in one transaction.
  JobRecord create(const NewJob& job, const std::string& trace_id);

  std::optional<JobRecord> find_for_user(const std::string& id, const std::string& user_id);
  std::optional<JobRecord> find(const std::string& id);  // any owner, deleted too (worker, scheduler)
  JobListPage list(const std::string& user_id, const JobListQuery& query);
  JobStats stats(const std::string& user_id);

  // Hides the job from reads at once (deleted_at) and announces it; objects and the row go later (purge()).
  // Returns the record as it was, or nullopt when it is not the user's or already deleted.
  std::optional<JobRecord> mark_deleted(const std::string& id, const std::string& user_id);
  // Removes the row of a job marked deleted. Returns false when there is no such row.
  bool purge(const std::string& id);

  // Re-queues the failed stage: the image stage when it is in Error, else the AI stage when that is in Error.
  RetryResult retry_failed_stage(const std::string& id, const std::string& user_id,
                                 const std::string& trace_id);

  // --- both stages (worker) ---
  // Takes the stage: Pending, or Processing when this is a redelivery or the holder's lease has expired (its
  // worker died). The AI stage only once the image stage is Completed.
  Claim claim_stage(Stage stage, const std::string& id, bool redelivered, int lease_seconds);
  // Error with a public message (image stage: the AI stage becomes Skipped). nullopt when the stage is no
  // longer Processing or the job was deleted.
  std::optional<JobRecord> fail_stage(Stage stage, const std::string& id, const std::string& public_message);
  // Back to Pending with the message for the next attempt published to `retry_exchange`/`retry_routing_key`
  // (a TTL'd queue that returns it to the work queue). `reason` is kept in the stage's error message
  // meanwhile.
  std::optional<JobRecord> schedule_retry(Stage stage, const std::string& id,
                                          const contracts::StageMessage& next,
                                          const std::string& retry_exchange,
                                          const std::string& retry_routing_key, const std::string& reason);

  // --- image stage ---
  // Records the results and queues the AI stage. nullopt when the job is no longer this stage's (deleted).
  std::optional<JobRecord> complete_image_stage(const std::string& id, int width, int height,
                                                const nlohmann::json& outputs, const nlohmann::json& metadata,
                                                const std::string& trace_id);

  // --- AI stage ---
  // Records the analysis (DESIGN §4 aiAnalysis) and adds `cost_usd` to the owner's spending of the UTC day.
  std::optional<JobRecord> complete_ai_stage(const std::string& id, const nlohmann::json& analysis,
                                             double cost_usd);
  // Skipped with the reason shown to the owner (provider `none`, daily budget reached).
  std::optional<JobRecord> skip_ai_stage(const std::string& id, const std::string& reason);
  // What the user's analyses have cost since 00:00 UTC (kept after jobs are deleted).
  double ai_spent_today(const std::string& user_id);

  // --- maintenance (scheduled jobs, admin) ---
  // Up to `limit` jobs created more than `retention_days` ago, in id order after `after_id` (keyset paging,
  // so a job that cannot be purged now is not fetched again in the same run). Those not yet marked deleted
  // are marked and announced (galleries drop them at once); the caller then purges each (purge_deleted_job).
  std::vector<JobRecord> expire_batch(int retention_days, const std::string& after_id, int limit);
  // Jobs marked deleted at least `min_age_seconds` ago, in id order after `after_id`.
  std::vector<JobRecord> deleted_batch(int min_age_seconds, const std::string& after_id, int limit);
  // Queues again, through the outbox, up to `limit` stages that are stuck: Processing with no change for
  // `lease_seconds` (their worker died and the message is gone), or Pending with no change for
  // `pending_seconds` and no unpublished outbox row (their message was lost). Each re-queued row is touched,
  // so the same stage is not queued again before it has been quiet that long once more.
  std::vector<RequeuedStage> requeue_stuck(int lease_seconds, int pending_seconds, int limit);
  // Which of `ids` (canonical UUIDs) have a row, deleted or not.
  std::set<std::string> existing_ids(const std::vector<std::string>& ids);
  JobCounts counts();

 private:
  void enqueue_event(Connection& conn, const JobRecord& job, bool deleted = false);
  // Runs a RETURNING update and, when it changed the job, queues the event, in one transaction.
  std::optional<JobRecord> update_and_announce(const std::string& statement,
                                               const std::vector<Param>& values);
  void enqueue_stage(Connection& conn, const std::string& routing_key, const JobRecord& job,
                     const std::string& trace_id);

  Pool& pool_;
  JobRoutes routes_;
};

}  // namespace imageproc::db
