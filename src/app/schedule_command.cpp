// Composition root of `imageproc schedule list|run NAME`: operator tools over the same schedules table the
// workers' schedulers use. `list` prints every schedule with its next run and last outcome; `run` claims the
// schedule like a worker would (refusing while a run of it is in progress anywhere), runs its job in this
// process and records the run in schedule_runs with trigger "manual".

#include <fmt/format.h>

#include <iostream>

#include "api/handlers/admin.hpp"
#include "app/commands.hpp"
#include "app/wiring.hpp"
#include "core/logging.hpp"
#include "core/shutdown.hpp"
#include "db/heartbeats.hpp"
#include "db/refresh_tokens.hpp"
#include "db/schedules.hpp"

namespace imageproc::app {

namespace {

std::string or_dash(const std::optional<std::string>& v) {
  return v ? *v : "-";
}

// "2026-12-01T00:00:00.000Z" → "2026-12-01 00:00:00" for the table.
std::string short_time(const std::optional<std::string>& iso) {
  if (!iso || iso->size() < 19) return or_dash(iso);
  std::string t = iso->substr(0, 19);
  t[10] = ' ';
  return t;
}

nlohmann::json optional_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nullptr;
}

std::string stats_text(const nlohmann::json& stats) {
  std::string out;
  for (const auto& [key, value] : stats.items())
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, value.dump());
  return out.empty() ? "-" : out;
}

}  // namespace

int run_schedule_list(const Config& config, bool as_json) {
  db::Pool pool(config.database, "imageproc-cli");
  db::ScheduleRepository schedules(pool);
  // Rows a worker has not written yet appear with the configured cron; existing rows are the workers'.
  schedules.sync(worker::schedule_definitions(config.scheduler), /*overwrite=*/false);
  const auto rows = schedules.list();
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : rows) out.push_back(api::schedule_json(s));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<22} {:<14} {:<21} {:<21} {}\n", "NAME", "CRON (UTC)", "NEXT RUN (UTC)",
                           "LAST RUN (UTC)", "LAST STATUS");
  for (const auto& s : rows) {
    std::cout << fmt::format("{:<22} {:<14} {:<21} {:<21} {}\n", s.name, s.cron,
                             s.enabled ? short_time(s.next_run_at) : "disabled", short_time(s.last_run_at),
                             or_dash(s.last_status));
  }
  return 0;
}

int run_schedule_run(const Config& config, const std::string& name) {
  ShutdownSignal shutdown;  // Ctrl-C stops the job between items; the run is recorded as interrupted
  db::Pool pool(config.database, "imageproc-cli");
  const Storage storage = make_storage(config.storage);
  const queue::Topology topology = make_topology(config.queue);
  db::JobRepository jobs(pool, job_routes(topology));
  db::OutboxRepository outbox(pool);
  db::RefreshTokenRepository refresh_tokens(pool);
  db::HeartbeatRepository heartbeats(pool);
  db::ScheduleRepository schedules(pool);
  worker::ScheduledJobs scheduled_jobs(jobs, outbox, refresh_tokens, heartbeats, *storage.store,
                                       maintenance_settings(config));
  worker::Scheduler scheduler(config.database, schedules, scheduled_jobs,
                              scheduler_settings(config, "cli-" + default_instance_name()));
  schedules.sync(worker::schedule_definitions(config.scheduler), /*overwrite=*/false);

  const auto now = scheduler.run_now(name, shutdown);
  switch (now.outcome) {
    case worker::Scheduler::NowOutcome::Unknown: {
      std::string known;
      for (const auto& n : scheduled_jobs.names()) known += (known.empty() ? "" : ", ") + n;
      std::cerr << fmt::format("imageproc: no schedule named '{}' (schedules: {})\n", name, known);
      return 2;
    }
    case worker::Scheduler::NowOutcome::AlreadyRunning:
      std::cerr << fmt::format("imageproc: {} is already running (run {} on {} since {}); try again later\n",
                               name, now.running->id, now.running->instance, now.running->started_at);
      return 1;
    case worker::Scheduler::NowOutcome::Ran:
      break;
  }
  const auto& r = *now.result;
  std::cout << fmt::format("{} run {}: {} in {} ms\n", r.name, r.run_id, r.status, r.duration.count());
  std::cout << fmt::format("  {}\n", stats_text(r.stats));
  if (r.error) std::cout << fmt::format("  error: {}\n", *r.error);
  return r.status == "Succeeded" ? 0 : 1;
}

}  // namespace imageproc::app
