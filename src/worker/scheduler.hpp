#pragma once
// The scheduler inside every `imageproc worker` (the Hangfire equivalent, DESIGN §8). It writes the
// configured schedules to the database, then loops: mark runs abandoned by dead workers Failed, claim a due
// schedule (db::ScheduleRepository: once per occurrence across all workers), run its job on this thread with
// the run's lease renewed as the job proceeds, record the outcome and counts in schedule_runs, and sleep
// until the next occurrence, the poll interval, or a NOTIFY from a run requested through the admin API,
// whichever is first. Database outages are ridden out with backoff. One job runs at a time per worker; other
// workers take other due schedules meanwhile. run() and run_now() block the calling thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/shutdown.hpp"
#include "db/pool.hpp"
#include "db/schedules.hpp"
#include "worker/scheduled_jobs.hpp"

namespace imageproc::worker {

struct SchedulerSettings {
  std::string instance;                             // recorded on each run
  std::chrono::seconds poll{15};                    // longest sleep between looks
  int lease_seconds = 300;                          // a run not renewed for this long is taken for abandoned
  int history_days = 30;                            // schedule_runs kept
  std::vector<db::ScheduleDefinition> definitions;  // what the configuration says
};

// The outcome of one run, as recorded.
struct RunResult {
  std::int64_t run_id = 0;
  std::string name;
  std::string status;  // Succeeded | Failed
  nlohmann::json stats;
  std::optional<std::string> error;
  std::chrono::milliseconds duration{0};
};

class Scheduler {
 public:
  Scheduler(DatabaseConfig database, db::ScheduleRepository& schedules, const ScheduledJobs& jobs,
            SchedulerSettings settings);
  ~Scheduler();

  void run(StopFlag& stop);

  // One look: expire abandoned runs, then run every schedule that is due now. Returns the runs it made.
  std::vector<RunResult> run_due(StopFlag& stop);

  enum class NowOutcome { Ran, AlreadyRunning, Unknown };
  struct Now {
    NowOutcome outcome = NowOutcome::Unknown;
    std::optional<RunResult> result;               // Ran
    std::optional<db::ScheduleRunRecord> running;  // AlreadyRunning
  };
  // Runs `name` once now, on this thread, through the same claim and record (CLI `schedule run`).
  Now run_now(const std::string& name, StopFlag& stop);

 private:
  RunResult execute(const db::ClaimedRun& claim, StopFlag& stop);
  std::vector<std::string> names() const;

  DatabaseConfig database_;
  db::ScheduleRepository& schedules_;
  const ScheduledJobs& jobs_;
  SchedulerSettings settings_;
  std::unique_ptr<db::Connection> listener_;
};

// The configured schedules (SchedulerConfig::crons) in the shape the repository takes.
std::vector<db::ScheduleDefinition> schedule_definitions(const SchedulerConfig& config);

}  // namespace imageproc::worker
