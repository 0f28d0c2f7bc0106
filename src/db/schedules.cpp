#include "db/schedules.hpp"

#include "core/cron.hpp"
#include "core/logging.hpp"

namespace imageproc::db {
namespace {

constexpr const char* kNow = "SELECT floor(extract(epoch FROM now()))::bigint";

constexpr const char* kUpsert = R"(
INSERT INTO schedules (name, cron, enabled, next_run_at) VALUES ($1, $2, $3, to_timestamp($4::float8))
ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, enabled = EXCLUDED.enabled,
  next_run_at = CASE WHEN schedules.cron = EXCLUDED.cron AND schedules.next_run_at IS NOT NULL
                     THEN schedules.next_run_at ELSE EXCLUDED.next_run_at END)";

constexpr const char* kInsertMissing = R"(
INSERT INTO schedules (name, cron, enabled, next_run_at) VALUES ($1, $2, $3, to_timestamp($4::float8))
ON CONFLICT (name) DO NOTHING)";

constexpr const char* kScheduleColumns =
    "name, cron, enabled, next_run_at, last_run_at, last_status, run_requested_at";

constexpr const char* kRunColumns =
    "id, name, trigger, scheduled_for, instance, started_at, finished_at, status, stats::text, error";

// Due (or requested) and not running; the most overdue first. Rows another scheduler is claiming are skipped.
constexpr const char* kSelectDue = R"(
SELECT name, cron, floor(extract(epoch FROM next_run_at))::bigint, enabled AND next_run_at <= now(),
       floor(extract(epoch FROM now()))::bigint
FROM schedules s
WHERE name = ANY($1::text[])
  AND ((enabled AND next_run_at <= now()) OR run_requested_at IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM schedule_runs r WHERE r.name = s.name AND r.status = 'Running')
ORDER BY least(next_run_at, run_requested_at)
LIMIT 1
FOR UPDATE SKIP LOCKED)";

constexpr const char* kLockOne = "SELECT name FROM schedules WHERE name = $1 FOR UPDATE";

constexpr const char* kAdvance = R"(
UPDATE schedules SET next_run_at = CASE WHEN $2 THEN to_timestamp($3::float8) ELSE next_run_at END,
  run_requested_at = NULL, last_run_at = now(), last_status = 'Running'
WHERE name = $1)";

constexpr const char* kInsertRun = R"(
INSERT INTO schedule_runs (name, trigger, scheduled_for, instance, lease_until)
VALUES ($1, $2, to_timestamp($3::float8), $4, now() + make_interval(secs => $5::int))
RETURNING id, scheduled_for)";

constexpr const char* kOccurrenceRan =
    "SELECT 1 FROM schedule_runs WHERE name = $1 AND scheduled_for = to_timestamp($2::float8)";

constexpr const char* kRenew = R"(
UPDATE schedule_runs SET lease_until = now() + make_interval(secs => $2::int)
WHERE id = $1 AND status = 'Running')";

constexpr const char* kFinish = R"(
UPDATE schedule_runs SET status = $2, finished_at = now(), stats = $3::jsonb, error = $4
WHERE id = $1
RETURNING name)";

// The schedule shows the outcome of its newest run.
constexpr const char* kFinishSchedule = R"(
UPDATE schedules SET last_status = $2
WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM schedule_runs r WHERE r.name = $1 AND r.id > $3))";

constexpr const char* kExpire = R"(
WITH expired AS (
  UPDATE schedule_runs
  SET status = 'Failed', finished_at = now(),
      error = 'Abandoned: worker ' || instance || ' stopped renewing its lease before the run finished.'
  WHERE status = 'Running' AND lease_until < now()
  RETURNING id, name, trigger, scheduled_for, instance, started_at, finished_at, status, stats::text, error
), marked AS (
  UPDATE schedules s SET last_status = 'Failed' FROM expired e WHERE s.name = e.name
)
SELECT * FROM expired)";

constexpr const char* kPruneHistory = R"(
DELETE FROM schedule_runs
WHERE status <> 'Running' AND started_at < now() - make_interval(days => $1::int))";

constexpr const char* kRequest = R"(
WITH requested AS (
  UPDATE schedules SET run_requested_at = coalesce(run_requested_at, now()) WHERE name = $1
  RETURNING run_requested_at
)
SELECT run_requested_at, pg_notify('schedules', $1) FROM requested)";

// A schedule running elsewhere is not waited for: its worker records the outcome, and an occurrence that
// passed meanwhile runs at the next look after it finished.
constexpr const char* kUntilDue = R"(
SELECT bool_or(run_requested_at IS NOT NULL),
       (extract(epoch FROM min(next_run_at) FILTER (WHERE enabled) - now()) * 1000)::bigint
FROM schedules s
WHERE name = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM schedule_runs r WHERE r.name = s.name AND r.status = 'Running'))";

constexpr const char* kRunTotals = R"(
SELECT name, status, count(*), coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)::float8
FROM schedule_runs GROUP BY name, status ORDER BY name, status)";

constexpr const char* kItemTotals = R"(
SELECT r.name, s.key, sum(s.value::float8)
FROM schedule_runs r, jsonb_each(r.stats) s
WHERE jsonb_typeof(s.value) = 'number'
GROUP BY r.name, s.key ORDER BY r.name, s.key)";

constexpr const char* kLastRuns = R"(
SELECT s.name,
  (SELECT extract(epoch FROM r.finished_at - r.started_at)::float8 FROM schedule_runs r
    WHERE r.name = s.name AND r.finished_at IS NOT NULL ORDER BY r.id DESC LIMIT 1),
  (SELECT extract(epoch FROM r.finished_at)::float8 FROM schedule_runs r
    WHERE r.name = s.name AND r.status = 'Succeeded' ORDER BY r.id DESC LIMIT 1)
FROM schedules s ORDER BY s.name)";

std::optional<double> opt_double(const Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return std::stod(r.get(row, col));
}

std::optional<std::string> opt_time(const Result& r, int row, int col) {
  if (auto v = r.get_opt(row, col)) return iso_timestamp(*v);
  return std::nullopt;
}

ScheduleRecord read_schedule(const Result& r, int row) {
  ScheduleRecord s;
  s.name = r.get(row, 0);
  s.cron = r.get(row, 1);
  s.enabled = r.get_bool(row, 2);
  s.next_run_at = opt_time(r, row, 3);
  s.last_run_at = opt_time(r, row, 4);
  s.last_status = r.get_opt(row, 5);
  s.run_requested_at = opt_time(r, row, 6);
  return s;
}

ScheduleRunRecord read_run(const Result& r, int row) {
  ScheduleRunRecord run;
  run.id = r.get_int(row, 0);
  run.name = r.get(row, 1);
  run.trigger = r.get(row, 2);
  run.scheduled_for = opt_time(r, row, 3);
  run.instance = r.get(row, 4);
  run.started_at = iso_timestamp(r.get(row, 5));
  run.finished_at = opt_time(r, row, 6);
  run.status = r.get(row, 7);
  run.stats = nlohmann::json::parse(r.get(row, 8));
  run.error = r.get_opt(row, 9);
  return run;
}

std::vector<ScheduleRunRecord> read_runs(const Result& r) {
  std::vector<ScheduleRunRecord> runs;
  for (int i = 0; i < r.rows(); ++i) runs.push_back(read_run(r, i));
  return runs;
}

std::int64_t next_fire_epoch(const std::string& cron, std::int64_t now_epoch) {
  const auto next =
      CronExpression::parse(cron).next_after(CronExpression::TimePoint(std::chrono::seconds(now_epoch)));
  // parse() refuses expressions that never fire, so this is set; a far-future fallback keeps the row valid.
  return next ? next->time_since_epoch().count() : now_epoch + 366LL * 24 * 3600;
}

ClaimedRun insert_run(Connection& conn, const std::string& name, const std::string& trigger,
                      const Param& scheduled_for_epoch, const std::string& instance, int lease_seconds) {
  const auto r = conn.exec(
      kInsertRun, {param(name), param(trigger), scheduled_for_epoch, param(instance), param(lease_seconds)});
  return {r.get_int(0, 0), name, trigger, opt_time(r, 0, 1)};
}

}  // namespace

void ScheduleRepository::sync(const std::vector<ScheduleDefinition>& definitions, bool overwrite) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const std::int64_t now = conn->exec(kNow).get_int(0, 0);
  for (const auto& d : definitions) {
    const bool enabled = d.cron != "off";
    const Param next = enabled ? param(next_fire_epoch(d.cron, now)) : Param{};
    conn->exec(overwrite ? kUpsert : kInsertMissing, {param(d.name), param(d.cron), param(enabled), next});
  }
  tx.commit();
}

std::vector<ScheduleRecord> ScheduleRepository::list() {
  auto conn = pool_.acquire();
  const auto r = conn->exec(std::string("SELECT ") + kScheduleColumns + " FROM schedules ORDER BY name");
  std::vector<ScheduleRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_schedule(r, i));
  return out;
}

std::optional<ScheduleRecord> ScheduleRepository::find(const std::string& name) {
  auto conn = pool_.acquire();
  const auto r =
      conn->exec(std::string("SELECT ") + kScheduleColumns + " FROM schedules WHERE name = $1", params(name));
  if (r.rows() == 0) return std::nullopt;
  return read_schedule(r, 0);
}

std::vector<ScheduleRunRecord> ScheduleRepository::recent_runs(int limit, const std::string& name) {
  auto conn = pool_.acquire();
  const std::string sql = std::string("SELECT ") + kRunColumns +
                          " FROM schedule_runs WHERE ($2 = '' OR name = $2) ORDER BY id DESC LIMIT $1";
  return read_runs(conn->exec(sql, params(limit, name)));
}

std::optional<ClaimedRun> ScheduleRepository::claim_due(const std::vector<std::string>& names,
                                                        const std::string& instance, int lease_seconds) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto due = conn->exec(kSelectDue, params(array_literal(names)));
  if (due.rows() == 0) return std::nullopt;
  const std::string name = due.get(0, 0);
  const std::string cron = due.get(0, 1);
  const bool scheduled = due.get_bool(0, 3);
  const std::int64_t now = due.get_int(0, 4);
  // A scheduled run stands for its occurrence; the next one is the first after now, so occurrences missed
  // while no worker ran collapse into this one run. A manual request alone leaves the cron's plan as it was.
  const Param next = scheduled ? param(next_fire_epoch(cron, now)) : Param{};
  conn->exec(kAdvance, {param(name), param(scheduled), next});
  const Param occurrence = scheduled ? due.get_opt(0, 2) : Param{};
  if (scheduled && conn->exec(kOccurrenceRan, {param(name), occurrence}).rows() > 0) {
    // This occurrence already has a run (its next_run_at was set back by hand): move on without a second run.
    tx.commit();
    log::warn("schedule occurrence already ran; skipping it", {{"schedule", name}});
    return std::nullopt;
  }
  auto run = insert_run(*conn, name, scheduled ? "schedule" : "manual", occurrence, instance, lease_seconds);
  tx.commit();
  return run;
}

ManualClaim ScheduleRepository::claim_now(const std::string& name, const std::string& instance,
                                          int lease_seconds) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  if (conn->exec(kLockOne, params(name)).rows() == 0) return {ManualClaimOutcome::Unknown, {}, {}};
  const auto running = conn->exec(
      std::string("SELECT ") + kRunColumns + " FROM schedule_runs WHERE name = $1 AND status = 'Running'",
      params(name));
  if (running.rows() > 0) return {ManualClaimOutcome::AlreadyRunning, {}, read_run(running, 0)};
  conn->exec(kAdvance, {param(name), param(false), Param{}});
  auto run = insert_run(*conn, name, "manual", Param{}, instance, lease_seconds);
  tx.commit();
  return {ManualClaimOutcome::Claimed, std::move(run), {}};
}

bool ScheduleRepository::renew(std::int64_t run_id, int lease_seconds) {
  auto conn = pool_.acquire();
  return conn->exec(kRenew, params(run_id, lease_seconds)).affected() > 0;
}

void ScheduleRepository::finish(std::int64_t run_id, const std::string& status, const nlohmann::json& stats,
                                const std::optional<std::string>& error) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto r = conn->exec(kFinish, params(run_id, status, stats.dump(), error));
  if (r.rows() > 0) conn->exec(kFinishSchedule, params(r.get(0, 0), status, run_id));
  tx.commit();
}

std::vector<ScheduleRunRecord> ScheduleRepository::expire_abandoned() {
  auto conn = pool_.acquire();
  return read_runs(conn->exec(kExpire));
}

int ScheduleRepository::prune_history(int days) {
  auto conn = pool_.acquire();
  return conn->exec(kPruneHistory, params(days)).affected();
}

std::optional<std::string> ScheduleRepository::request_run(const std::string& name) {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kRequest, params(name));
  if (r.rows() == 0) return std::nullopt;
  return iso_timestamp(r.get(0, 0));
}

ScheduleMetrics ScheduleRepository::metrics() {
  auto conn = pool_.acquire();
  ScheduleMetrics m;
  const auto totals = conn->exec(kRunTotals);
  for (int i = 0; i < totals.rows(); ++i) {
    m.totals.push_back(
        {totals.get(i, 0), totals.get(i, 1), totals.get_int(i, 2), std::stod(totals.get(i, 3))});
  }
  const auto items = conn->exec(kItemTotals);
  for (int i = 0; i < items.rows(); ++i)
    m.items.push_back({items.get(i, 0), items.get(i, 1), std::stod(items.get(i, 2))});
  const auto last = conn->exec(kLastRuns);
  for (int i = 0; i < last.rows(); ++i)
    m.last.push_back({last.get(i, 0), opt_double(last, i, 1), opt_double(last, i, 2)});
  return m;
}

std::optional<std::chrono::milliseconds> ScheduleRepository::time_until_due(
    const std::vector<std::string>& names) {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kUntilDue, params(array_literal(names)));
  if (!r.is_null(0, 0) && r.get_bool(0, 0)) return std::chrono::milliseconds(0);
  if (r.is_null(0, 1)) return std::nullopt;
  return std::chrono::milliseconds(std::max<std::int64_t>(0, r.get_int(0, 1)));
}

}  // namespace imageproc::db
