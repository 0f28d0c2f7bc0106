// The operator-facing mappings that need no services: the admin overview's JSON and the deployment-wide part
// of /metrics built from a snapshot, and a scheduled job's RunContext (counters, failures, interruption).

#include <gtest/gtest.h>

#include "api/handlers/admin.hpp"
#include "core/config.hpp"
#include "core/shutdown.hpp"
#include "worker/scheduled_jobs.hpp"
#include "worker/scheduler.hpp"

namespace imageproc {
namespace {

api::OperationsSnapshot sample_snapshot() {
  api::OperationsSnapshot s;
  s.jobs.live = {{"Completed", "Completed", 5},
                 {"Completed", "Pending", 2},
                 {"Error", "Skipped", 1},
                 {"Processing", "Pending", 3}};
  s.jobs.deleted_pending = 4;
  s.queues = std::vector<queue::QueueReport>{{"image-jobs", {7, 2}, 1, "image-jobs.dead", 0},
                                             {"image-ai-jobs", {0, 2}, 0, "image-ai-jobs.dead", 3}};
  s.workers = {{"w-1", "worker", "2026-12-01T10:00:00.000Z", "2026-12-01T10:05:00.000Z", 2, true},
               {"w-2", "worker", "2026-12-01T09:00:00.000Z", "2026-12-01T09:01:00.000Z", 0, false}};
  s.schedules = {{"prune-outbox", "15 * * * *", true, "2026-12-01T11:15:00.000Z", std::nullopt, std::nullopt,
                  std::nullopt}};
  db::ScheduleRunRecord run;
  run.id = 9;
  run.name = "prune-outbox";
  run.trigger = "manual";
  run.instance = "cli-host-1";
  run.started_at = "2026-12-01T10:00:00.000Z";
  run.finished_at = "2026-12-01T10:00:01.000Z";
  run.status = "Succeeded";
  run.stats = {{"rowsDeleted", 12}};
  s.recent_runs = {run};
  return s;
}

TEST(AdminOverview, CountsEveryStatusAndDerivesTheOverallOne) {
  const auto j = api::overview_json(sample_snapshot(), "2026-12-01T10:05:01Z");
  EXPECT_EQ(j["generatedAt"], "2026-12-01T10:05:01Z");
  EXPECT_EQ(j["jobs"]["total"], 11);
  EXPECT_EQ(j["jobs"]["byStatus"],
            nlohmann::json({{"Pending", 0}, {"Processing", 3}, {"Completed", 7}, {"Error", 1}}));
  EXPECT_EQ(
      j["jobs"]["byAiStatus"],
      nlohmann::json({{"Pending", 5}, {"Processing", 0}, {"Completed", 5}, {"Error", 0}, {"Skipped", 1}}));
  EXPECT_EQ(j["jobs"]["byOverallStatus"],
            nlohmann::json({{"Processing", 3}, {"AiProcessing", 2}, {"Completed", 5}, {"Error", 1}}));
  EXPECT_EQ(j["jobs"]["deletedPending"], 4);
  ASSERT_EQ(j["queues"].size(), 2u);
  EXPECT_EQ(j["queues"][0], nlohmann::json({{"name", "image-jobs"},
                                            {"messages", 7},
                                            {"consumers", 2},
                                            {"retrying", 1},
                                            {"deadLetterQueue", "image-jobs.dead"},
                                            {"deadLetters", 0}}));
  EXPECT_TRUE(j["queuesError"].is_null());
  EXPECT_EQ(j["workers"][1]["alive"], false);
  EXPECT_EQ(j["schedules"][0]["lastStatus"], nullptr);
  EXPECT_EQ(j["recentRuns"][0]["stats"]["rowsDeleted"], 12);
  EXPECT_EQ(j["recentRuns"][0]["trigger"], "manual");
}

TEST(AdminOverview, SaysSoWhenTheBrokerCouldNotBeAsked) {
  auto s = sample_snapshot();
  s.queues.reset();
  s.queues_error = "RabbitMQ could not be asked for queue depths.";
  const auto j = api::overview_json(s, "t");
  EXPECT_TRUE(j["queues"].empty());
  EXPECT_EQ(j["queuesError"], "RabbitMQ could not be asked for queue depths.");
  EXPECT_NE(api::operations_metrics_text(s, {}).find("imageproc_broker_up 0\n"), std::string::npos);
}

TEST(OperationsMetrics, AreGaugesWithLabelsAnyScraperParses) {
  db::ScheduleMetrics m;
  m.totals = {{"prune-outbox", "Succeeded", 3, 1.5}, {"prune-outbox", "Failed", 1, 0.25}};
  m.items = {{"prune-outbox", "rowsDeleted", 42}};
  m.last = {{"prune-outbox", 0.5, 1764583200.0}, {"sweep-orphan-objects", std::nullopt, std::nullopt}};
  const auto text = api::operations_metrics_text(sample_snapshot(), m);
  for (const char* line :
       {"imageproc_jobs{status=\"Completed\"} 5\n", "imageproc_jobs{status=\"AiProcessing\"} 2\n",
        "imageproc_jobs_deleted_pending 4\n", "imageproc_broker_up 1\n",
        "imageproc_queue_messages{queue=\"image-jobs\"} 7\n",
        "imageproc_queue_dead_letters{queue=\"image-ai-jobs\"} 3\n", "imageproc_workers{state=\"alive\"} 1\n",
        "imageproc_workers{state=\"stale\"} 1\n",
        "imageproc_schedule_runs{schedule=\"prune-outbox\",status=\"Failed\"} 1\n",
        "imageproc_schedule_last_duration_seconds{schedule=\"prune-outbox\"} 0.5\n",
        "imageproc_schedule_items{schedule=\"prune-outbox\",item=\"rowsDeleted\"} 42\n",
        "# TYPE imageproc_queue_consumers gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // A schedule that never finished a run has no duration sample rather than a made-up zero.
  EXPECT_EQ(text.find("schedule=\"sweep-orphan-objects\""), std::string::npos);
}

TEST(RunContext, CountsSummarisesFailuresAndStopsOnShutdown) {
  StopFlag stop;
  int kept_alive = 0;
  worker::RunContext ctx(stop, [&] { ++kept_alive; });
  EXPECT_TRUE(ctx.proceed());
  ctx.add("jobsDeleted");
  ctx.add("jobsDeleted", 2);
  ctx.add("objectsDeleted", 0);
  EXPECT_EQ(ctx.stats(), nlohmann::json({{"jobsDeleted", 3}, {"objectsDeleted", 0}}));
  EXPECT_FALSE(ctx.failure_summary());
  for (int i = 1; i <= 5; ++i) ctx.item_failed("job " + std::to_string(i) + ": store unavailable");
  EXPECT_EQ(*ctx.failure_summary(),
            "5 items failed and will be retried by the next run: job 1: store unavailable; job 2: store "
            "unavailable; "
            "job 3: store unavailable; …");
  stop.request();
  EXPECT_FALSE(ctx.proceed());
  EXPECT_TRUE(ctx.interrupted());
  EXPECT_EQ(kept_alive, 1);
}

TEST(ScheduleDefinitions, ComeFromTheConfigurationAndNameEveryJob) {
  auto [config, problems] = Config::load([](const std::string& name) -> std::optional<std::string> {
    if (name == "SCHEDULE_SWEEP_ORPHAN_OBJECTS") return "off";
    return std::nullopt;
  });
  const auto definitions = worker::schedule_definitions(config.scheduler);
  ASSERT_EQ(definitions.size(), std::size(kScheduleSettings));
  std::map<std::string, std::string> by_name;
  for (const auto& d : definitions) by_name[d.name] = d.cron;
  EXPECT_EQ(by_name.at("sweep-orphan-objects"), "off");
  EXPECT_EQ(by_name.at("purge-deleted-jobs"), "* * * * *");
}

}  // namespace
}  // namespace imageproc
