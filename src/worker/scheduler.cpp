#include "worker/scheduler.hpp"

#include <stdexcept>
#include <thread>

#include "core/logging.hpp"

namespace imageproc::worker {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr auto kPruneEvery = std::chrono::hours(1);
constexpr auto kMaxBackoff = seconds(10);
constexpr int kFinishAttempts = 3;
constexpr const char* kInterrupted =
    "Interrupted by shutdown before it finished; the next run continues where it stopped.";

}  // namespace

std::vector<db::ScheduleDefinition> schedule_definitions(const SchedulerConfig& config) {
  std::vector<db::ScheduleDefinition> out;
  for (const auto& setting : kScheduleSettings) {
    const auto it = config.crons.find(setting.name);
    out.push_back({setting.name, it == config.crons.end() ? setting.default_cron : it->second});
  }
  return out;
}

Scheduler::Scheduler(DatabaseConfig database, db::ScheduleRepository& schedules, const ScheduledJobs& jobs,
                     SchedulerSettings settings)
    : database_(std::move(database)), schedules_(schedules), jobs_(jobs), settings_(std::move(settings)) {
  for (const auto& d : settings_.definitions) {
    if (!jobs_.table().contains(d.name)) throw std::logic_error("no scheduled job named " + d.name);
  }
}

Scheduler::~Scheduler() = default;

std::vector<std::string> Scheduler::names() const {
  std::vector<std::string> names;
  for (const auto& d : settings_.definitions) names.push_back(d.name);
  return names;
}

RunResult Scheduler::execute(const db::ClaimedRun& claim, StopFlag& stop) {
  const auto started = steady_clock::now();
  log::debug("schedule run started",
            {{"schedule", claim.name}, {"runId", claim.id}, {"trigger", claim.trigger}});
  auto last_renewal = started;
  bool lease_lost = false;
  RunContext ctx(stop, [&] {
    const auto now = steady_clock::now();
    if (now - last_renewal < seconds(settings_.lease_seconds) / 3) return;
    last_renewal = now;
    try {
      if (!schedules_.renew(claim.id, settings_.lease_seconds) && !lease_lost) {
        lease_lost = true;  // idempotent jobs make finishing harmless; say so once
        log::warn("schedule run was declared abandoned while still working", {{"runId", claim.id}});
      }
    } catch (const std::exception& e) {
      log::warn("could not renew a schedule run's lease", {{"runId", claim.id}, {"error", e.what()}});
    }
  });

  RunResult result{claim.id,     claim.name,     "Succeeded", nlohmann::json::object(),
                   std::nullopt, milliseconds(0)};
  try {
    jobs_.table().at(claim.name)(ctx);
  } catch (const std::exception& e) {
    result.status = "Failed";
    result.error = e.what();
  }
  if (ctx.failures() > 0) {
    result.status = "Failed";
    const auto summary = *ctx.failure_summary();
    result.error = result.error ? *result.error + "; " + summary : summary;
  }
  if (ctx.interrupted()) {
    result.status = "Failed";
    result.error = kInterrupted;
  }
  result.stats = ctx.stats();
  result.duration = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);

  for (int attempt = 1;; ++attempt) {
    try {
      schedules_.finish(claim.id, result.status, result.stats, result.error);
      break;
    } catch (const std::exception& e) {
      if (attempt == kFinishAttempts) {
        // The run stays Running until its lease expires; the next scheduler then records it as abandoned.
        log::error("could not record a schedule run's outcome", {{"runId", claim.id}, {"error", e.what()}});
        break;
      }
      std::this_thread::sleep_for(seconds(attempt));
    }
  }
  nlohmann::json fields = {{"schedule", claim.name},
                           {"runId", claim.id},
                           {"status", result.status},
                           {"durationMs", result.duration.count()},
                           {"stats", result.stats}};
  if (result.error) fields["error"] = *result.error;
  if (result.status == "Succeeded") {
    log::info("schedule run finished", fields);
  } else {
    log::warn("schedule run failed", fields);
  }
  return result;
}

std::vector<RunResult> Scheduler::run_due(StopFlag& stop) {
  for (const auto& run : schedules_.expire_abandoned()) {
    log::warn("schedule run abandoned by its worker; marked failed",
              {{"schedule", run.name}, {"runId", run.id}, {"instance", run.instance}});
  }
  std::vector<RunResult> results;
  while (!stop.requested()) {
    const auto claim = schedules_.claim_due(names(), settings_.instance, settings_.lease_seconds);
    if (!claim) break;
    results.push_back(execute(*claim, stop));
  }
  return results;
}

Scheduler::Now Scheduler::run_now(const std::string& name, StopFlag& stop) {
  schedules_.expire_abandoned();
  auto claim = schedules_.claim_now(name, settings_.instance, settings_.lease_seconds);
  switch (claim.outcome) {
    case db::ManualClaimOutcome::Unknown:
      return {NowOutcome::Unknown, std::nullopt, std::nullopt};
    case db::ManualClaimOutcome::AlreadyRunning:
      return {NowOutcome::AlreadyRunning, std::nullopt, std::move(claim.running)};
    case db::ManualClaimOutcome::Claimed:
      break;
  }
  return {NowOutcome::Ran, execute(*claim.run, stop), std::nullopt};
}

void Scheduler::run(StopFlag& stop) {
  auto backoff = milliseconds(500);
  bool synced = false;
  bool healthy = true;
  auto last_prune = steady_clock::now() - kPruneEvery;
  while (!stop.requested()) {
    try {
      if (!listener_ || !listener_->ok()) {
        listener_.reset();
        auto conn = std::make_unique<db::Connection>(database_.url, database_.statement_timeout,
                                                     "imageproc-scheduler");
        conn->listen(db::ScheduleRepository::kNotifyChannel);
        listener_ = std::move(conn);
      }
      if (!synced) {
        schedules_.sync(settings_.definitions, /*overwrite=*/true);
        synced = true;
        log::info("scheduler started", {{"instance", settings_.instance}, {"schedules", names()}});
      }
      if (steady_clock::now() - last_prune >= kPruneEvery) {
        if (const int pruned = schedules_.prune_history(settings_.history_days); pruned > 0) {
          log::info("old schedule runs deleted", {{"count", pruned}});
        }
        last_prune = steady_clock::now();
      }
      run_due(stop);
      if (!healthy) log::info("scheduler resumed");
      healthy = true;
      backoff = milliseconds(500);
      // Sleep until the next occurrence (at least a second, at most the poll interval) or a requested run.
      const auto until = schedules_.time_until_due(names()).value_or(settings_.poll);
      const auto wait = std::clamp<milliseconds>(until, seconds(1), settings_.poll);
      const auto deadline = steady_clock::now() + wait;
      while (!stop.requested() && steady_clock::now() < deadline) {
        if (listener_->wait_for_notification(milliseconds(250))) break;
      }
    } catch (const std::exception& e) {
      if (healthy) log::warn("scheduler paused; retrying with backoff", {{"error", e.what()}});
      healthy = false;
      if (listener_ && !listener_->ok()) listener_.reset();
      stop.wait_for(backoff);
      backoff = std::min<milliseconds>(backoff * 2, kMaxBackoff);
    }
  }
}

}  // namespace imageproc::worker
