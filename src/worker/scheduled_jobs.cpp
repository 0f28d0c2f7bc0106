#include "worker/scheduled_jobs.hpp"

#include <fmt/format.h>

#include <set>

#include "contracts/jobs.hpp"
#include "core/logging.hpp"
#include "worker/job_purger.hpp"

namespace imageproc::worker {

namespace {

// The API purges a deletion at once; the scheduled purge leaves it that long so the two rarely meet.
constexpr int kDeletedGraceSeconds = 30;
// Workers not seen for this long are gone (a clean stop removes the row; a kill leaves it).
constexpr int kStaleHeartbeatSeconds = 3600;
// Expired refresh tokens are kept a day, so a just-expired one still answers "expired" rather than "unknown".
constexpr int kRefreshTokenGraceDays = 1;
// Rows per DELETE of the row-only jobs: small enough to keep locks short.
constexpr int kDeleteBatch = 5000;
constexpr int kListPage = 1000;

}  // namespace

RunContext::RunContext(StopFlag& stop, KeepAlive keep_alive)
    : stop_(stop), keep_alive_(std::move(keep_alive)) {}

bool RunContext::proceed() {
  if (stop_.requested()) {
    interrupted_ = true;
    return false;
  }
  if (keep_alive_) keep_alive_();
  return true;
}

void RunContext::add(const std::string& counter, std::int64_t n) {
  stats_[counter] = stats_.value(counter, std::int64_t{0}) + n;
}

void RunContext::item_failed(const std::string& message) {
  ++failures_;
  if (messages_.size() < kKeptMessages) messages_.push_back(message);
}

std::optional<std::string> RunContext::failure_summary() const {
  if (failures_ == 0) return std::nullopt;
  std::string text = fmt::format("{} item{} failed and will be retried by the next run", failures_,
                                 failures_ == 1 ? "" : "s");
  for (std::size_t i = 0; i < messages_.size(); ++i) text += (i == 0 ? ": " : "; ") + messages_[i];
  if (static_cast<std::size_t>(failures_) > messages_.size()) text += "; …";
  return text;
}

ScheduledJobs::ScheduledJobs(db::JobRepository& jobs, db::OutboxRepository& outbox,
                             db::RefreshTokenRepository& tokens, db::HeartbeatRepository& heartbeats,
                             storage::ObjectStore& store, MaintenanceSettings settings)
    : jobs_(jobs),
      outbox_(outbox),
      tokens_(tokens),
      heartbeats_(heartbeats),
      store_(store),
      settings_(settings) {
  table_ = {
      {"cleanup-expired-jobs", [this](RunContext& c) { cleanup_expired_jobs(c); }},
      {"purge-deleted-jobs", [this](RunContext& c) { purge_deleted_jobs(c); }},
      {"recover-stuck-jobs", [this](RunContext& c) { recover_stuck_jobs(c); }},
      {"sweep-orphan-objects", [this](RunContext& c) { sweep_orphan_objects(c); }},
      {"prune-outbox", [this](RunContext& c) { prune_outbox(c); }},
      {"purge-refresh-tokens", [this](RunContext& c) { purge_refresh_tokens(c); }},
  };
}

std::vector<std::string> ScheduledJobs::names() const {
  std::vector<std::string> names;
  for (const auto& [name, job] : table_) names.push_back(name);
  return names;
}

bool ScheduledJobs::purge_batch(RunContext& ctx, const std::vector<db::JobRecord>& batch,
                                const char* counter) {
  for (const auto& job : batch) {
    if (!ctx.proceed()) return false;
    try {
      ctx.add("objectsDeleted", static_cast<std::int64_t>(purge_deleted_job(jobs_, store_, job)));
      ctx.add(counter);
    } catch (const std::exception& e) {
      // The row keeps deleted_at: hidden from its owner, and found again by the next run.
      log::warn("could not purge a job; the next run retries it", {{"jobId", job.id}, {"error", e.what()}});
      ctx.add("jobsFailed");
      ctx.item_failed(fmt::format("job {}: {}", job.id, e.what()));
    }
  }
  return true;
}

void ScheduledJobs::purge_all(RunContext& ctx, const BatchSource& next_batch, const char* counter) {
  ctx.add(counter, 0);
  ctx.add("objectsDeleted", 0);
  std::string after;
  while (ctx.proceed()) {
    const auto batch = next_batch(after);
    if (batch.empty()) return;
    after = batch.back().id;
    if (!purge_batch(ctx, batch, counter)) return;
    if (static_cast<int>(batch.size()) < settings_.batch_size) return;
  }
}

void ScheduledJobs::cleanup_expired_jobs(RunContext& ctx) {
  purge_all(
      ctx,
      [this](const std::string& after) {
        return jobs_.expire_batch(settings_.retention_days, after, settings_.batch_size);
      },
      "jobsDeleted");
}

void ScheduledJobs::purge_deleted_jobs(RunContext& ctx) {
  purge_all(
      ctx,
      [this](const std::string& after) {
        return jobs_.deleted_batch(kDeletedGraceSeconds, after, settings_.batch_size);
      },
      "jobsPurged");
}

void ScheduledJobs::recover_stuck_jobs(RunContext& ctx) {
  ctx.add("imageStagesRequeued", 0);
  ctx.add("aiStagesRequeued", 0);
  while (ctx.proceed()) {
    const auto requeued = jobs_.requeue_stuck(
        settings_.stage_lease_seconds, settings_.recover_pending_after_minutes * 60, settings_.batch_size);
    for (const auto& r : requeued) {
      log::warn("stuck stage queued again",
                {{"jobId", r.job.id}, {"stage", db::stage_name(r.stage)}, {"was", r.was}});
      ctx.add(r.stage == db::Stage::Image ? "imageStagesRequeued" : "aiStagesRequeued");
    }
    if (static_cast<int>(requeued.size()) < settings_.batch_size) break;
  }
  if (ctx.interrupted()) return;
  ctx.add("staleWorkersRemoved", heartbeats_.remove_stale(kStaleHeartbeatSeconds));
}

void ScheduledJobs::sweep_orphan_objects(RunContext& ctx) {
  ctx.add("objectsScanned", 0);
  ctx.add("orphansDeleted", 0);
  ctx.add("orphansTooYoung", 0);
  const auto cutoff = std::chrono::system_clock::now() - std::chrono::hours(settings_.orphan_grace_hours);
  for (const auto prefix : {contracts::kOriginalsPrefix, contracts::kProcessedPrefix}) {
    std::optional<std::string> token;
    do {
      if (!ctx.proceed()) return;
      const auto page = store_.list(std::string(prefix), token, kListPage);
      token = page.next_token;
      ctx.add("objectsScanned", static_cast<std::int64_t>(page.objects.size()));
      std::vector<std::string> job_ids;
      for (const auto& object : page.objects) {
        if (const auto owner = contracts::owner_of_key(object.key)) job_ids.push_back(owner->job_id);
      }
      const std::set<std::string> existing = jobs_.existing_ids(job_ids);
      std::vector<std::string> orphans;
      for (const auto& object : page.objects) {
        const auto owner = contracts::owner_of_key(object.key);
        if (owner && existing.contains(owner->job_id)) continue;
        if (object.last_modified > cutoff) {
          ctx.add("orphansTooYoung");  // maybe an upload whose row is about to be written
          continue;
        }
        orphans.push_back(object.key);
      }
      if (!orphans.empty()) {
        store_.remove_many(orphans);
        log::info("orphan objects deleted", {{"count", orphans.size()}, {"first", orphans.front()}});
        ctx.add("orphansDeleted", static_cast<std::int64_t>(orphans.size()));
      }
    } while (token);
  }
}

void ScheduledJobs::prune_outbox(RunContext& ctx) {
  ctx.add("rowsDeleted", 0);
  while (ctx.proceed()) {
    const int deleted = outbox_.prune_published(settings_.outbox_retention_hours, kDeleteBatch);
    ctx.add("rowsDeleted", deleted);
    if (deleted < kDeleteBatch) return;
  }
}

void ScheduledJobs::purge_refresh_tokens(RunContext& ctx) {
  ctx.add("tokensDeleted", 0);
  while (ctx.proceed()) {
    const int deleted = tokens_.purge(kRefreshTokenGraceDays, kDeleteBatch);
    ctx.add("tokensDeleted", deleted);
    if (deleted < kDeleteBatch) return;
  }
}

}  // namespace imageproc::worker
