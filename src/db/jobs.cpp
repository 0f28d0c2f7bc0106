#include "db/jobs.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/ids.hpp"
#include "db/outbox.hpp"

namespace imageproc::db {
namespace {

// Column list of JobRecord, in the order read_job() expects.
constexpr const char* kColumns =
    R"(id, user_id, status, ai_status, original_key, original_filename, mime_type,
  file_size, sha256, width, height, created_at, started_at, completed_at, error_message, retry_count,
  outputs::text, metadata::text, ai_started_at, ai_completed_at, ai_error_message, ai_retry_count,
  ai_analysis::text, deleted_at)";

// The one SQL spelling of contracts::overall_status (kept in step with it; tested together).
constexpr const char* kOverallStatusSql = R"((CASE
  WHEN status = 'Error' OR ai_status = 'Error' THEN 'Error'
  WHEN status IN ('Pending', 'Processing') THEN 'Processing'
  WHEN ai_status IN ('Pending', 'Processing') THEN 'AiProcessing'
  ELSE 'Completed' END))";

// The same expression as the jobs_search_idx index, so `q` uses it.
constexpr const char* kSearchVectorSql = R"(to_tsvector('simple',
    coalesce(ai_analysis ->> 'summary', '') || ' ' ||
    coalesce(ai_analysis ->> 'ocrText', '') || ' ' ||
    coalesce(jsonb_path_query_array(ai_analysis, '$.tags[*].label')::text, '')))";

constexpr const char* kInsert = R"(
INSERT INTO jobs (id, user_id, original_key, original_filename, mime_type, file_size, sha256, width, height)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING )";

// One stage's statements. The AI stage runs only after the image stage Completed; failing the image stage
// skips the AI stage with the reason shown to the owner.
struct StageSql {
  const char* claim;      // $1 id, $2 redelivered, $3 lease seconds
  const char* status_of;  // → stage status, deleted
  const char* fail;       // $1 id, $2 public message
  const char* retry;      // $1 id, $2 reason
};

constexpr StageSql kImageSql{
    R"(
UPDATE jobs SET status = 'Processing', started_at = now(), completed_at = NULL
WHERE id = $1 AND deleted_at IS NULL
  AND (status = 'Pending'
       OR (status = 'Processing' AND ($2::boolean OR started_at < now() - make_interval(secs => $3::int))))
RETURNING )",
    "SELECT status, deleted_at IS NOT NULL FROM jobs WHERE id = $1",
    R"(
UPDATE jobs SET status = 'Error', completed_at = now(), error_message = $2, ai_status = 'Skipped',
  ai_error_message = 'Skipped because the image stage failed.'
WHERE id = $1 AND status = 'Processing' AND deleted_at IS NULL
RETURNING )",
    R"(
UPDATE jobs SET status = 'Pending', retry_count = retry_count + 1, error_message = $2
WHERE id = $1 AND status = 'Processing' AND deleted_at IS NULL
RETURNING )"};

constexpr StageSql kAiSql{
    R"(
UPDATE jobs SET ai_status = 'Processing', ai_started_at = now(), ai_completed_at = NULL
WHERE id = $1 AND deleted_at IS NULL AND status = 'Completed'
  AND (ai_status = 'Pending'
       OR (ai_status = 'Processing' AND ($2::boolean OR ai_started_at < now() - make_interval(secs => $3::int))))
RETURNING )",
    // An AI message for a job whose image stage is not Completed (re-running after a user retry) is stale:
    // the image stage's completion queues a fresh one. Reported as done so it is acknowledged.
    "SELECT CASE WHEN status = 'Completed' THEN ai_status ELSE 'Stale' END, deleted_at IS NOT NULL "
    "FROM jobs WHERE id = $1",
    R"(
UPDATE jobs SET ai_status = 'Error', ai_completed_at = now(), ai_error_message = $2
WHERE id = $1 AND ai_status = 'Processing' AND deleted_at IS NULL
RETURNING )",
    R"(
UPDATE jobs SET ai_status = 'Pending', ai_retry_count = ai_retry_count + 1, ai_error_message = $2
WHERE id = $1 AND ai_status = 'Processing' AND deleted_at IS NULL
RETURNING )"};

const StageSql& sql_of(Stage stage) {
  return stage == Stage::Image ? kImageSql : kAiSql;
}

constexpr const char* kCompleteImage = R"(
UPDATE jobs SET status = 'Completed', completed_at = now(), width = $2, height = $3, outputs = $4::jsonb,
  metadata = $5::jsonb, error_message = NULL
WHERE id = $1 AND status = 'Processing' AND deleted_at IS NULL
RETURNING )";

constexpr const char* kCompleteAi = R"(
UPDATE jobs SET ai_status = 'Completed', ai_completed_at = now(), ai_analysis = $2::jsonb, ai_error_message = NULL
WHERE id = $1 AND ai_status = 'Processing' AND deleted_at IS NULL
RETURNING )";

constexpr const char* kSkipAi = R"(
UPDATE jobs SET ai_status = 'Skipped', ai_completed_at = now(), ai_error_message = $2
WHERE id = $1 AND ai_status = 'Processing' AND deleted_at IS NULL
RETURNING )";

constexpr const char* kAddSpend = R"(
INSERT INTO ai_spend (user_id, day, usd, analyses) VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2::numeric, 1)
ON CONFLICT (user_id, day) DO UPDATE SET usd = ai_spend.usd + EXCLUDED.usd, analyses = ai_spend.analyses + 1)";

constexpr const char* kSpentToday = R"(
SELECT coalesce(sum(usd), 0)::float8 FROM ai_spend WHERE user_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date)";

constexpr const char* kUserRetryImage = R"(
UPDATE jobs SET status = 'Pending', error_message = NULL, started_at = NULL, completed_at = NULL,
  ai_status = 'Pending', ai_error_message = NULL, ai_started_at = NULL, ai_completed_at = NULL
WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL AND status = 'Error'
RETURNING )";

constexpr const char* kUserRetryAi = R"(
UPDATE jobs SET ai_status = 'Pending', ai_error_message = NULL, ai_started_at = NULL, ai_completed_at = NULL
WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL AND status = 'Completed' AND ai_status = 'Error'
RETURNING )";

constexpr const char* kFindForUser = " FROM jobs WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL";
constexpr const char* kFind = " FROM jobs WHERE id = $1";

constexpr const char* kMarkDeleted = R"(
UPDATE jobs SET deleted_at = now() WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
RETURNING )";

constexpr const char* kPurge = "DELETE FROM jobs WHERE id = $1 AND deleted_at IS NOT NULL";

constexpr const char* kStats = R"(
SELECT
  count(*) FILTER (WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
  count(*) FILTER (WHERE status <> 'Error' AND ai_status <> 'Error'
                     AND (status IN ('Pending', 'Processing') OR ai_status IN ('Pending', 'Processing'))),
  count(*) FILTER (WHERE status = 'Completed'),
  count(*) FILTER (WHERE status = 'Error'),
  round(avg(extract(epoch FROM completed_at - started_at) * 1000)
        FILTER (WHERE status = 'Completed' AND started_at IS NOT NULL))::bigint,
  count(*)
FROM jobs WHERE user_id = $1 AND deleted_at IS NULL)";

// Keyset pages in id order (UUIDv7: roughly creation order, so old rows come first).
constexpr const char* kExpireSelect = R"(
SELECT id FROM jobs
WHERE created_at < now() - make_interval(days => $1::int) AND id > $2::uuid
ORDER BY id LIMIT $3
FOR UPDATE SKIP LOCKED)";

constexpr const char* kExpireMark = R"(
UPDATE jobs SET deleted_at = now() WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL
RETURNING )";

constexpr const char* kDeletedBatch = R"(
 FROM jobs
WHERE deleted_at IS NOT NULL AND deleted_at <= now() - make_interval(secs => $1::int) AND id > $2::uuid
ORDER BY id LIMIT $3)";

// The WHERE repeats jobs_unfinished_idx's predicate so the planner uses it. A stage whose message waits in
// the outbox (broker down) is not stuck: the relay will deliver it.
constexpr const char* kRequeueStuck = R"(
WITH stuck AS (
  SELECT id AS stuck_id,
         CASE WHEN status IN ('Pending', 'Processing') THEN 'image' ELSE 'ai' END AS stuck_stage,
         CASE WHEN status IN ('Pending', 'Processing') THEN status ELSE ai_status END AS stuck_status
  FROM jobs
  WHERE deleted_at IS NULL
    AND (status IN ('Pending', 'Processing') OR ai_status IN ('Pending', 'Processing'))
    AND (status IN ('Pending', 'Processing') OR status = 'Completed')
    AND updated_at < now() - make_interval(secs => CASE
          WHEN status = 'Processing' OR (status = 'Completed' AND ai_status = 'Processing') THEN $1::int
          ELSE $2::int END)
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.published_at IS NULL AND o.payload ->> 'jobId' = jobs.id::text)
  ORDER BY updated_at LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET updated_at = now() FROM stuck WHERE jobs.id = stuck.stuck_id
RETURNING stuck.stuck_stage, stuck.stuck_status, )";

constexpr const char* kExistingIds = "SELECT id::text FROM jobs WHERE id = ANY($1::uuid[])";

constexpr const char* kCounts = R"(
SELECT status, ai_status, count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
FROM jobs GROUP BY status, ai_status ORDER BY status, ai_status)";

constexpr const char* kFirstId = "00000000-0000-0000-0000-000000000000";

std::optional<int> opt_int(const Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return static_cast<int>(r.get_int(row, col));
}

std::optional<std::string> opt_time(const Result& r, int row, int col) {
  if (auto v = r.get_opt(row, col)) return iso_timestamp(*v);
  return std::nullopt;
}

nlohmann::json opt_json(const Result& r, int row, int col) {
  if (r.is_null(row, col)) return nullptr;
  return nlohmann::json::parse(r.get(row, col));
}

// Reads kColumns starting at column `at` (0 unless the statement returns columns of its own first).
JobRecord read_job(const Result& r, int row, int at = 0) {
  JobRecord j;
  j.id = r.get(row, at + 0);
  j.user_id = r.get(row, at + 1);
  j.status = r.get(row, at + 2);
  j.ai_status = r.get(row, at + 3);
  j.original_key = r.get(row, at + 4);
  j.original_filename = r.get(row, at + 5);
  j.mime_type = r.get(row, at + 6);
  j.file_size = r.get_int(row, at + 7);
  j.sha256 = r.get(row, at + 8);
  j.width = opt_int(r, row, at + 9);
  j.height = opt_int(r, row, at + 10);
  j.created_at = iso_timestamp(r.get(row, at + 11));
  j.started_at = opt_time(r, row, at + 12);
  j.completed_at = opt_time(r, row, at + 13);
  j.error_message = r.get_opt(row, at + 14);
  j.retry_count = static_cast<int>(r.get_int(row, at + 15));
  j.outputs = opt_json(r, row, at + 16);
  j.metadata = opt_json(r, row, at + 17);
  j.ai_started_at = opt_time(r, row, at + 18);
  j.ai_completed_at = opt_time(r, row, at + 19);
  j.ai_error_message = r.get_opt(row, at + 20);
  j.ai_retry_count = static_cast<int>(r.get_int(row, at + 21));
  j.ai_analysis = opt_json(r, row, at + 22);
  j.deleted_at = opt_time(r, row, at + 23);
  return j;
}

std::vector<JobRecord> read_jobs(const Result& r) {
  std::vector<JobRecord> jobs;
  for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_job(r, i));
  return jobs;
}

std::optional<JobRecord> first_job(const Result& r) {
  if (r.rows() == 0) return std::nullopt;
  return read_job(r, 0);
}

std::string returning(const char* statement) {
  return std::string(statement) + kColumns;
}

}  // namespace

contracts::JobSummaryData JobRecord::summary() const {
  contracts::JobSummaryData s;
  s.id = id;
  s.user_id = user_id;
  s.original_filename = original_filename;
  s.file_size = file_size;
  s.status = status;
  s.ai_status = ai_status;
  s.created_at = created_at;
  s.completed_at = completed_at;
  s.width = width;
  s.height = height;
  if (outputs.is_array()) {
    for (const auto& o : outputs) {
      if (o.value("name", "") == contracts::kGalleryThumbnail && o.contains("key"))
        s.thumbnail_key = o["key"];
    }
  }
  if (metadata.is_object() && metadata.contains("blurhash") && metadata["blurhash"].is_string()) {
    s.blurhash = metadata["blurhash"].get<std::string>();
  }
  if (ai_analysis.is_object() && ai_analysis.contains("tags") && ai_analysis["tags"].is_array()) {
    for (const auto& t : ai_analysis["tags"]) {
      if (t.is_object() && t.contains("label") && t["label"].is_string()) s.tags.push_back(t["label"]);
    }
  }
  return s;
}

void JobRepository::enqueue_event(Connection& conn, const JobRecord& job, bool deleted) {
  auto event = contracts::to_event(job.summary());
  if (deleted) event["deleted"] = true;
  OutboxRepository::enqueue(conn, routes_.events_exchange, contracts::events_routing_key(job.user_id),
                            event.dump());
}

void JobRepository::enqueue_stage(Connection& conn, const std::string& routing_key, const JobRecord& job,
                                  const std::string& trace_id) {
  const contracts::StageMessage message{job.id, job.user_id, 1, trace_id};
  OutboxRepository::enqueue(conn, routes_.exchange, routing_key, contracts::encode(message));
}

JobRecord JobRepository::create(const NewJob& job, const std::string& trace_id) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto r =
      conn->exec(returning(kInsert), params(job.id, job.user_id, job.original_key, job.original_filename,
                                            job.mime_type, job.file_size, job.sha256, job.width, job.height));
  JobRecord created = read_job(r, 0);
  enqueue_stage(*conn, routes_.image_routing_key, created, trace_id);
  enqueue_event(*conn, created);
  tx.commit();
  return created;
}

std::optional<JobRecord> JobRepository::find_for_user(const std::string& id, const std::string& user_id) {
  auto conn = pool_.acquire();
  return first_job(conn->exec(std::string("SELECT ") + kColumns + kFindForUser, params(id, user_id)));
}

std::optional<JobRecord> JobRepository::find(const std::string& id) {
  auto conn = pool_.acquire();
  return first_job(conn->exec(std::string("SELECT ") + kColumns + kFind, params(id)));
}

JobListPage JobRepository::list(const std::string& user_id, const JobListQuery& query) {
  // Summary columns only: EXIF and the AI text stay in the database for list reads.
  static const std::string sql = std::string(R"(
SELECT id, user_id, original_filename, file_size, status, ai_status, created_at, completed_at, width, height,
  (SELECT o ->> 'key' FROM jsonb_array_elements(coalesce(outputs, '[]'::jsonb)) o
    WHERE o ->> 'name' = $6 LIMIT 1),
  metadata ->> 'blurhash',
  coalesce(jsonb_path_query_array(ai_analysis, '$.tags[*].label'), '[]'::jsonb)::text,
  count(*) OVER ()
FROM jobs
WHERE user_id = $1 AND deleted_at IS NULL
  AND ($2::text IS NULL OR )") + kOverallStatusSql +
                                 R"( = $2)
  AND ($3::text IS NULL OR )" + kSearchVectorSql +
                                 R"( @@ plainto_tsquery('simple', $3))
ORDER BY created_at DESC, id DESC
LIMIT $4 OFFSET $5)";
  static const std::string count_sql = std::string(R"(
SELECT count(*) FROM jobs
WHERE user_id = $1 AND deleted_at IS NULL
  AND ($2::text IS NULL OR )") + kOverallStatusSql +
                                       R"( = $2)
  AND ($3::text IS NULL OR )" + kSearchVectorSql +
                                       R"( @@ plainto_tsquery('simple', $3)))";

  auto conn = pool_.acquire();
  const std::int64_t offset = static_cast<std::int64_t>(query.page - 1) * query.page_size;
  const auto r = conn->exec(sql, params(user_id, query.overall_status, query.search, query.page_size, offset,
                                        std::string(contracts::kGalleryThumbnail)));
  JobListPage page;
  for (int i = 0; i < r.rows(); ++i) {
    contracts::JobSummaryData s;
    s.id = r.get(i, 0);
    s.user_id = r.get(i, 1);
    s.original_filename = r.get(i, 2);
    s.file_size = r.get_int(i, 3);
    s.status = r.get(i, 4);
    s.ai_status = r.get(i, 5);
    s.created_at = iso_timestamp(r.get(i, 6));
    s.completed_at = opt_time(r, i, 7);
    s.width = opt_int(r, i, 8);
    s.height = opt_int(r, i, 9);
    s.thumbnail_key = r.get_opt(i, 10);
    s.blurhash = r.get_opt(i, 11);
    s.tags = nlohmann::json::parse(r.get(i, 12)).get<std::vector<std::string>>();
    page.total = r.get_int(i, 13);
    page.items.push_back(std::move(s));
  }
  // Past the last page the window count has no row to ride on.
  if (r.rows() == 0 && query.page > 1) {
    page.total = conn->exec(count_sql, params(user_id, query.overall_status, query.search)).get_int(0, 0);
  }
  return page;
}

JobStats JobRepository::stats(const std::string& user_id) {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kStats, params(user_id));
  JobStats s;
  s.jobs_today = r.get_int(0, 0);
  s.in_progress = r.get_int(0, 1);
  const auto completed = r.get_int(0, 2);
  const auto failed = r.get_int(0, 3);
  if (completed + failed > 0)
    s.success_rate = static_cast<double>(completed) / static_cast<double>(completed + failed);
  if (!r.is_null(0, 4)) s.avg_processing_ms = r.get_int(0, 4);
  s.total = r.get_int(0, 5);
  return s;
}

std::optional<JobRecord> JobRepository::mark_deleted(const std::string& id, const std::string& user_id) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  auto job = first_job(conn->exec(returning(kMarkDeleted), params(id, user_id)));
  if (job) enqueue_event(*conn, *job, /*deleted=*/true);
  tx.commit();
  return job;
}

bool JobRepository::purge(const std::string& id) {
  auto conn = pool_.acquire();
  return conn->exec(kPurge, params(id)).affected() > 0;
}

RetryResult JobRepository::retry_failed_stage(const std::string& id, const std::string& user_id,
                                              const std::string& trace_id) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  if (auto job = first_job(conn->exec(returning(kUserRetryImage), params(id, user_id)))) {
    enqueue_stage(*conn, routes_.image_routing_key, *job, trace_id);
    enqueue_event(*conn, *job);
    tx.commit();
    return {RetryRequest::Requeued, std::move(job)};
  }
  if (auto job = first_job(conn->exec(returning(kUserRetryAi), params(id, user_id)))) {
    enqueue_stage(*conn, routes_.ai_routing_key, *job, trace_id);
    enqueue_event(*conn, *job);
    tx.commit();
    return {RetryRequest::Requeued, std::move(job)};
  }
  const auto exists = conn->exec(std::string("SELECT 1") + kFindForUser, params(id, user_id));
  return {exists.rows() > 0 ? RetryRequest::NotFailed : RetryRequest::NotFound, std::nullopt};
}

const char* stage_name(Stage stage) {
  return stage == Stage::Image ? "image" : "ai";
}

Claim JobRepository::claim_stage(Stage stage, const std::string& id, bool redelivered, int lease_seconds) {
  const StageSql& sql = sql_of(stage);
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  if (auto job = first_job(conn->exec(returning(sql.claim), params(id, redelivered, lease_seconds)))) {
    enqueue_event(*conn, *job);
    tx.commit();
    return {ClaimOutcome::Claimed, std::move(job)};
  }
  const auto r = conn->exec(sql.status_of, params(id));
  tx.commit();
  if (r.rows() == 0 || r.get_bool(0, 1)) return {ClaimOutcome::Gone, std::nullopt};
  const auto status = r.get(0, 0);
  if (status == "Processing") return {ClaimOutcome::InProgress, std::nullopt};
  return {ClaimOutcome::AlreadyDone, std::nullopt};
}

std::optional<JobRecord> JobRepository::update_and_announce(const std::string& statement,
                                                            const std::vector<Param>& values) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  auto job = first_job(conn->exec(statement, values));
  if (job) enqueue_event(*conn, *job);
  tx.commit();
  return job;
}

std::optional<JobRecord> JobRepository::fail_stage(Stage stage, const std::string& id,
                                                   const std::string& public_message) {
  return update_and_announce(returning(sql_of(stage).fail), params(id, public_message));
}

std::optional<JobRecord> JobRepository::skip_ai_stage(const std::string& id, const std::string& reason) {
  return update_and_announce(returning(kSkipAi), params(id, reason));
}

std::optional<JobRecord> JobRepository::schedule_retry(Stage stage, const std::string& id,
                                                       const contracts::StageMessage& next,
                                                       const std::string& retry_exchange,
                                                       const std::string& retry_routing_key,
                                                       const std::string& reason) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  auto job = first_job(conn->exec(returning(sql_of(stage).retry), params(id, reason)));
  if (job) {
    OutboxRepository::enqueue(*conn, retry_exchange, retry_routing_key, contracts::encode(next));
    enqueue_event(*conn, *job);
  }
  tx.commit();
  return job;
}

std::optional<JobRecord> JobRepository::complete_image_stage(const std::string& id, int width, int height,
                                                             const nlohmann::json& outputs,
                                                             const nlohmann::json& metadata,
                                                             const std::string& trace_id) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  auto job = first_job(
      conn->exec(returning(kCompleteImage), params(id, width, height, outputs.dump(), metadata.dump())));
  if (job) {
    enqueue_stage(*conn, routes_.ai_routing_key, *job, trace_id);
    enqueue_event(*conn, *job);
  }
  tx.commit();
  return job;
}

std::optional<JobRecord> JobRepository::complete_ai_stage(const std::string& id,
                                                          const nlohmann::json& analysis, double cost_usd) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  auto job = first_job(conn->exec(returning(kCompleteAi), params(id, analysis.dump())));
  if (job) {
    conn->exec(kAddSpend, params(job->user_id, fmt::format("{:.8f}", std::max(cost_usd, 0.0))));
    enqueue_event(*conn, *job);
  }
  tx.commit();
  return job;
}

double JobRepository::ai_spent_today(const std::string& user_id) {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kSpentToday, params(user_id));
  return std::stod(r.get(0, 0));
}

std::vector<JobRecord> JobRepository::expire_batch(int retention_days, const std::string& after_id,
                                                   int limit) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto batch =
      conn->exec(kExpireSelect, params(retention_days, after_id.empty() ? kFirstId : after_id, limit));
  std::vector<std::string> ids;
  for (int i = 0; i < batch.rows(); ++i) ids.push_back(batch.get(i, 0));
  if (ids.empty()) return {};
  for (const auto& job : read_jobs(conn->exec(returning(kExpireMark), params(array_literal(ids))))) {
    enqueue_event(*conn, job, /*deleted=*/true);
  }
  auto jobs = read_jobs(
      conn->exec(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id",
                 params(array_literal(ids))));
  tx.commit();
  return jobs;
}

std::vector<JobRecord> JobRepository::deleted_batch(int min_age_seconds, const std::string& after_id,
                                                    int limit) {
  auto conn = pool_.acquire();
  return read_jobs(conn->exec(std::string("SELECT ") + kColumns + kDeletedBatch,
                              params(min_age_seconds, after_id.empty() ? kFirstId : after_id, limit)));
}

std::vector<RequeuedStage> JobRepository::requeue_stuck(int lease_seconds, int pending_seconds, int limit) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto r = conn->exec(returning(kRequeueStuck), params(lease_seconds, pending_seconds, limit));
  std::vector<RequeuedStage> requeued;
  for (int i = 0; i < r.rows(); ++i) {
    RequeuedStage s{read_job(r, i, 2), r.get(i, 0) == "ai" ? Stage::Ai : Stage::Image, r.get(i, 1)};
    const int attempt = 1 + (s.stage == Stage::Image ? s.job.retry_count : s.job.ai_retry_count);
    const contracts::StageMessage message{s.job.id, s.job.user_id, attempt, ids::new_request_id()};
    OutboxRepository::enqueue(*conn, routes_.exchange,
                              s.stage == Stage::Image ? routes_.image_routing_key : routes_.ai_routing_key,
                              contracts::encode(message));
    requeued.push_back(std::move(s));
  }
  tx.commit();
  return requeued;
}

std::set<std::string> JobRepository::existing_ids(const std::vector<std::string>& ids) {
  std::set<std::string> found;
  if (ids.empty()) return found;
  auto conn = pool_.acquire();
  const auto r = conn->exec(kExistingIds, params(array_literal(ids)));
  for (int i = 0; i < r.rows(); ++i) found.insert(r.get(i, 0));
  return found;
}

JobCounts JobRepository::counts() {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kCounts);
  JobCounts counts;
  for (int i = 0; i < r.rows(); ++i) {
    if (const auto live = r.get_int(i, 2); live > 0) counts.live.push_back({r.get(i, 0), r.get(i, 1), live});
    counts.deleted_pending += r.get_int(i, 3);
  }
  return counts;
}

}  // namespace imageproc::db
