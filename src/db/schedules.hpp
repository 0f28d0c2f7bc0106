#pragma once
// schedules and schedule_runs (DESIGN §5, §8): when each scheduled job runs next, and the history of its
// runs.
//
// Exactly once per occurrence, across any number of workers: claim_due() locks a due schedules row with
// FOR UPDATE SKIP LOCKED and, in the same transaction, moves next_run_at to the next occurrence after the
// database's now() and inserts a Running run; unique indexes refuse a second run of one occurrence and a
// second concurrent run of one schedule. Occurrences missed while no worker ran collapse into one run.
// A run holds a lease (lease_until) that its worker renews; expire_abandoned() marks runs whose lease ran out
// (their worker died) Failed. Every time comes from the database clock, so workers' clocks may differ.
// Thread-safe (each call leases its own connection).

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/pool.hpp"

namespace imageproc::db {

// A schedule as configured: `cron` is a 5-field UTC expression, or "off" (disabled).
struct ScheduleDefinition {
  std::string name;
  std::string cron;
};

struct ScheduleRecord {
  std::string name;
  std::string cron;
  bool enabled = true;
  std::optional<std::string> next_run_at;  // RFC 3339; null while disabled
  std::optional<std::string> last_run_at;
  std::optional<std::string> last_status;  // Running | Succeeded | Failed
  std::optional<std::string> run_requested_at;
};

struct ScheduleRunRecord {
  std::int64_t id = 0;
  std::string name;
  std::string trigger;  // schedule | manual
  std::optional<std::string> scheduled_for;
  std::string instance;
  std::string started_at;
  std::optional<std::string> finished_at;
  std::string status;  // Running | Succeeded | Failed
  nlohmann::json stats = nlohmann::json::object();
  std::optional<std::string> error;
};

struct ClaimedRun {
  std::int64_t id = 0;
  std::string name;
  std::string trigger;                       // schedule | manual
  std::optional<std::string> scheduled_for;  // the occurrence, for scheduled runs
};

// Aggregates over the kept history (schedule_runs), for /metrics.
struct ScheduleRunTotals {
  std::string name;
  std::string status;
  std::int64_t runs = 0;
  double seconds = 0;  // summed duration of the finished ones
};
struct ScheduleItemTotal {
  std::string name;
  std::string item;  // a stats key, e.g. jobsDeleted
  double total = 0;
};
struct ScheduleLastRun {
  std::string name;
  std::optional<double> last_duration_seconds;
  std::optional<double> last_success_epoch;  // when the last Succeeded run finished
};
struct ScheduleMetrics {
  std::vector<ScheduleRunTotals> totals;
  std::vector<ScheduleItemTotal> items;
  std::vector<ScheduleLastRun> last;
};

enum class ManualClaimOutcome { Claimed, AlreadyRunning, Unknown };

struct ManualClaim {
  ManualClaimOutcome outcome = ManualClaimOutcome::Unknown;
  std::optional<ClaimedRun> run;             // when Claimed
  std::optional<ScheduleRunRecord> running;  // when AlreadyRunning: the run in progress
};

class ScheduleRepository {
 public:
  // NOTIFY channel that wakes schedulers when a run is requested.
  static constexpr const char* kNotifyChannel = "schedules";

  explicit ScheduleRepository(Pool& pool) : pool_(pool) {}

  // Writes the configured schedules. With `overwrite` (workers, which run them) an existing row takes the new
  // cron, and its next run is recomputed when the cron changed; otherwise only missing rows are inserted
  // (api and CLI, so a process with another configuration does not reschedule the workers' jobs).
  void sync(const std::vector<ScheduleDefinition>& definitions, bool overwrite);

  std::vector<ScheduleRecord> list();
  std::optional<ScheduleRecord> find(const std::string& name);
  // Newest first; all schedules when `name` is empty.
  std::vector<ScheduleRunRecord> recent_runs(int limit, const std::string& name = "");

  // Claims the most overdue schedule among `names` that is due (or has a run requested) and is not running;
  // nullopt when there is none.
  std::optional<ClaimedRun> claim_due(const std::vector<std::string>& names, const std::string& instance,
                                      int lease_seconds);
  // Claims `name` for a run now, whatever its cron (CLI `schedule run`), unless a run of it is in progress.
  ManualClaim claim_now(const std::string& name, const std::string& instance, int lease_seconds);
  // Extends a run's lease; false when the run is no longer Running (another scheduler declared it abandoned).
  bool renew(std::int64_t run_id, int lease_seconds);
  // Records the outcome (`status` Succeeded or Failed) and the schedule's last status.
  void finish(std::int64_t run_id, const std::string& status, const nlohmann::json& stats,
              const std::optional<std::string>& error);
  // Runs whose lease expired become Failed with a message naming their instance; returns them.
  std::vector<ScheduleRunRecord> expire_abandoned();
  // Deletes finished runs that started more than `days` ago; returns how many.
  int prune_history(int days);

  // Asks the workers to run `name` once, soon (admin API). Returns the request time (RFC 3339), nullopt when
  // there is no such schedule.
  std::optional<std::string> request_run(const std::string& name);
  ScheduleMetrics metrics();

  // How long until one of `names` is due: zero when a run is requested or overdue, nullopt when none is
  // enabled.
  std::optional<std::chrono::milliseconds> time_until_due(const std::vector<std::string>& names);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
