// The scheduler and its jobs (DESIGN §8) against the real PostgreSQL, RabbitMQ and the local object store:
// claims in-process (many threads racing for one occurrence, missed occurrences, abandoned runs), each job's
// effect on rows and objects (with a store that fails midway), and through the real binaries: two workers
// sharing one schedule, `imageproc schedule list|run` on a stack with data, recovery of a job whose worker
// was killed mid-stage and whose message was lost, and the admin endpoints and metrics.

#include "worker/scheduler.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <set>
#include <thread>

#include "core/ids.hpp"
#include "db/migrations.hpp"
#include "db/refresh_tokens.hpp"
#include "db/schedules.hpp"
#include "images_fixture.hpp"
#include "storage/local/local_store.hpp"
#include "worker/scheduled_jobs.hpp"

namespace imageproc::testing {
namespace {

// Every schedule off but the ones given (name → cron).
std::vector<db::ScheduleDefinition> only(const std::map<std::string, std::string>& enabled) {
  std::vector<db::ScheduleDefinition> out;
  for (const auto& s : kScheduleSettings) {
    const auto it = enabled.find(s.name);
    out.push_back({s.name, it == enabled.end() ? "off" : it->second});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// In-process: the repositories, jobs and scheduler over one migrated test database and a local store.

class SchedulerDbTest : public ::testing::Test {
 protected:
  SchedulerDbTest() {
    db::Connection conn(db_.url(), 30s, "it-migrate");
    db::run_migrations(conn, db::embedded_migrations());
  }

  static DatabaseConfig database_config(const TestDatabase& db) {
    DatabaseConfig c;
    c.url = db.url();
    c.pool_size = 12;
    return c;
  }

  worker::Scheduler scheduler(std::vector<db::ScheduleDefinition> definitions, int lease_seconds = 300) {
    worker::SchedulerSettings s;
    s.instance = "it-scheduler";
    s.lease_seconds = lease_seconds;
    s.definitions = std::move(definitions);
    schedules_.sync(s.definitions, /*overwrite=*/true);
    return worker::Scheduler(database_config(db_), schedules_, scheduled_jobs_, s);
  }

  std::string new_user() {
    const std::string id = ids::new_uuid();
    db_.scalar("INSERT INTO users (id, email, name, password_hash) VALUES ('" + id + "', '" + id +
               "@example.com', 'T', 'x')");
    return id;
  }

  // A job with its original and two outputs in the store.
  db::JobRecord new_job_with_objects(const std::string& user) {
    db::NewJob n;
    n.id = ids::new_uuid();
    n.user_id = user;
    n.original_key = contracts::original_key(user, n.id);
    n.original_filename = "a.png";
    n.mime_type = "image/png";
    n.file_size = 3;
    n.sha256 = "00";
    n.width = n.height = 1;
    const auto job = jobs_.create(n, "trace");
    store_.put_buffer(job.original_key, "png", "image/png");
    for (const char* name : {"thumb-128", "optimized"}) {
      store_.put_buffer(contracts::output_key(user, job.id, name, "webp"), "webp", "image/webp");
    }
    return job;
  }

  std::size_t objects_under(const std::string& prefix) {
    std::size_t n = 0;
    std::optional<std::string> token;
    do {
      auto page = store_.list(prefix, token);
      n += page.objects.size();
      token = page.next_token;
    } while (token);
    return n;
  }

  std::string job_count(const std::string& where = "true") {
    return db_.scalar("SELECT count(*) FROM jobs WHERE " + where);
  }

  TestDatabase db_;
  db::Pool pool_{database_config(db_), "it-scheduler"};
  TempDir objects_ = TempDir::create(fs::temp_directory_path(), "scheduler-objects-");
  storage::LocalObjectStore store_{objects_.path(),
                                   storage::UrlSigner("scheduler-test-secret-0123456789abcdef")};
  db::JobRepository jobs_{pool_, {"x", "image-jobs", "image-ai-jobs", "x.events"}};
  db::OutboxRepository outbox_{pool_};
  db::RefreshTokenRepository tokens_{pool_};
  db::HeartbeatRepository heartbeats_{pool_};
  db::ScheduleRepository schedules_{pool_};
  worker::ScheduledJobs scheduled_jobs_{jobs_,       outbox_, tokens_,
                                        heartbeats_, store_,  worker::MaintenanceSettings{}};
  StopFlag stop_;
};

TEST_F(SchedulerDbTest, ManySchedulersRacingForOneOccurrenceRunItOnce) {
  schedules_.sync(only({{"prune-outbox", "0 0 1 1 *"}}), /*overwrite=*/true);
  for (int round = 1; round <= 5; ++round) {
    db_.scalar("UPDATE schedules SET next_run_at = now() - make_interval(days => " + std::to_string(round) +
               ") WHERE name = 'prune-outbox'");
    constexpr int kRacers = 8;
    std::barrier start(kRacers);
    std::atomic<int> claimed{0};
    std::vector<std::jthread> racers;
    for (int i = 0; i < kRacers; ++i) {
      racers.emplace_back([&, i] {
        start.arrive_and_wait();
        if (auto run = schedules_.claim_due({"prune-outbox"}, "racer-" + std::to_string(i), 300)) {
          ++claimed;
          schedules_.finish(run->id, "Succeeded", nlohmann::json::object(), std::nullopt);
        }
      });
    }
    racers.clear();  // joins
    EXPECT_EQ(claimed.load(), 1) << "round " << round;
  }
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM schedule_runs WHERE name = 'prune-outbox'"), "5");
  EXPECT_EQ(db_.scalar("SELECT count(DISTINCT scheduled_for) FROM schedule_runs"), "5");
  EXPECT_EQ(db_.scalar("SELECT next_run_at > now() FROM schedules WHERE name = 'prune-outbox'"), "t");
}

TEST_F(SchedulerDbTest, OccurrencesMissedDuringDowntimeRunOnceAndTheNextIsInTheFuture) {
  auto s = scheduler(only({{"purge-deleted-jobs", "* * * * *"}}));
  // Three days without a worker: 4320 missed minutes.
  db_.scalar(
      "UPDATE schedules SET next_run_at = now() - interval '3 days' WHERE name = 'purge-deleted-jobs'");
  const auto results = s.run_due(stop_);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, "Succeeded");
  EXPECT_TRUE(s.run_due(stop_).empty());
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM schedule_runs"), "1");
  EXPECT_EQ(db_.scalar("SELECT next_run_at > now() AND next_run_at <= now() + interval '1 minute' "
                       "FROM schedules WHERE name = 'purge-deleted-jobs'"),
            "t");
  EXPECT_EQ(db_.scalar("SELECT trigger || ' ' || status FROM schedule_runs"), "schedule Succeeded");
}

TEST_F(SchedulerDbTest, ARunWhoseWorkerDiedIsMarkedFailedAfterItsLeaseAndTheScheduleRunsAgain) {
  auto s = scheduler(only({{"prune-outbox", "15 * * * *"}}));
  // What a worker killed mid-run leaves behind: a Running run whose lease nobody renews.
  db_.scalar(
      "INSERT INTO schedule_runs (name, trigger, instance, started_at, lease_until) "
      "VALUES ('prune-outbox', 'schedule', 'dead-worker', now() - interval '10 minutes', "
      "now() - interval '5 minutes')");
  db_.scalar(
      "UPDATE schedules SET next_run_at = now() - interval '1 minute', last_status = 'Running' "
      "WHERE name = 'prune-outbox'");
  const auto results = s.run_due(stop_);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, "Succeeded");
  const auto runs = schedules_.recent_runs(10, "prune-outbox");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].instance, "dead-worker");
  EXPECT_EQ(runs[1].status, "Failed");
  EXPECT_NE(runs[1].error.value_or("").find("Abandoned: worker dead-worker"), std::string::npos);
  EXPECT_EQ(runs[0].status, "Succeeded");
  EXPECT_EQ(schedules_.find("prune-outbox")->last_status, "Succeeded");
}

TEST_F(SchedulerDbTest, AManualRunIsRefusedWhileAnotherRunOfTheScheduleIsInProgress) {
  auto s = scheduler(only({{"prune-outbox", "15 * * * *"}}));
  db_.scalar(
      "INSERT INTO schedule_runs (name, trigger, instance, lease_until) "
      "VALUES ('prune-outbox', 'manual', 'busy-worker', now() + interval '5 minutes')");
  const auto busy = s.run_now("prune-outbox", stop_);
  EXPECT_EQ(busy.outcome, worker::Scheduler::NowOutcome::AlreadyRunning);
  ASSERT_TRUE(busy.running);
  EXPECT_EQ(busy.running->instance, "busy-worker");
  EXPECT_EQ(s.run_now("no-such-schedule", stop_).outcome, worker::Scheduler::NowOutcome::Unknown);
  // A requested run waits for the running one instead of overlapping it.
  ASSERT_TRUE(schedules_.request_run("prune-outbox"));
  EXPECT_TRUE(s.run_due(stop_).empty());
  db_.scalar(
      "UPDATE schedule_runs SET status = 'Succeeded', finished_at = now() WHERE instance = 'busy-worker'");
  const auto results = s.run_due(stop_);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(db_.scalar("SELECT trigger FROM schedule_runs ORDER BY id DESC LIMIT 1"), "manual");
  EXPECT_EQ(db_.scalar("SELECT run_requested_at IS NULL FROM schedules WHERE name = 'prune-outbox'"), "t");
}

TEST_F(SchedulerDbTest, CleanupDeletesExpiredJobsRowsAndEveryObjectAndSparesYoungerOnes) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  const auto old1 = new_job_with_objects(user);
  const auto old2 = new_job_with_objects(user);
  const auto young = new_job_with_objects(user);
  db_.scalar("UPDATE jobs SET created_at = now() - interval '31 days' WHERE id IN ('" + old1.id + "', '" +
             old2.id + "')");
  ASSERT_EQ(objects_under("originals/"), 3u);

  const auto now = s.run_now("cleanup-expired-jobs", stop_);
  ASSERT_EQ(now.outcome, worker::Scheduler::NowOutcome::Ran);
  EXPECT_EQ(now.result->status, "Succeeded") << now.result->error.value_or("");
  EXPECT_EQ(now.result->stats["jobsDeleted"], 2);
  EXPECT_EQ(now.result->stats["objectsDeleted"], 6);
  EXPECT_EQ(job_count(), "1");
  EXPECT_EQ(job_count("id = '" + young.id + "' AND deleted_at IS NULL"), "1");
  EXPECT_EQ(objects_under(contracts::processed_prefix(user, old1.id)), 0u);
  EXPECT_EQ(objects_under(contracts::processed_prefix(user, old2.id)), 0u);
  EXPECT_EQ(objects_under("originals/"), 1u);
  EXPECT_EQ(objects_under(contracts::processed_prefix(user, young.id)), 2u);
  // Owners' galleries were told (a deleted event each, through the outbox).
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM outbox WHERE payload ->> 'deleted' = 'true'"), "2");
  // Recorded with its counts.
  EXPECT_EQ(
      db_.scalar("SELECT stats ->> 'jobsDeleted' FROM schedule_runs WHERE name = 'cleanup-expired-jobs'"),
      "2");
}

TEST_F(SchedulerDbTest, CleanupLeavesAJobWhoseObjectsCouldNotBeDeletedForTheNextRun) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  const auto fine = new_job_with_objects(user);
  const auto stuck = new_job_with_objects(user);
  db_.scalar("UPDATE jobs SET created_at = now() - interval '40 days'");
  store_.set_fault_hook([&](std::string_view op, const std::string& key) {
    if (op == "remove" && key == stuck.original_key) {
      throw storage::StorageError(storage::StorageErrorKind::Transient, "simulated store outage");
    }
  });
  const auto first = s.run_now("cleanup-expired-jobs", stop_).result;
  EXPECT_EQ(first->status, "Failed");
  EXPECT_EQ(first->stats["jobsDeleted"], 1);
  EXPECT_EQ(first->stats["jobsFailed"], 1);
  EXPECT_NE(first->error.value_or("").find("simulated store outage"), std::string::npos)
      << first->error.value_or("");
  // Not half-deleted and forgotten: the row stays, hidden from its owner, and still holds the original's key.
  EXPECT_EQ(job_count("id = '" + fine.id + "'"), "0");
  EXPECT_EQ(job_count("id = '" + stuck.id + "' AND deleted_at IS NOT NULL"), "1");
  EXPECT_TRUE(store_.head(stuck.original_key));

  store_.set_fault_hook({});
  const auto second = s.run_now("cleanup-expired-jobs", stop_).result;
  EXPECT_EQ(second->status, "Succeeded") << second->error.value_or("");
  EXPECT_EQ(second->stats["jobsDeleted"], 1);
  EXPECT_EQ(job_count(), "0");
  EXPECT_EQ(objects_under("originals/") + objects_under("processed/"), 0u);
}

TEST_F(SchedulerDbTest, PurgeDeletedJobsFinishesDeletionsTheApiCouldNotPurge) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  const auto gone = new_job_with_objects(user);
  const auto just_now = new_job_with_objects(user);
  ASSERT_TRUE(jobs_.mark_deleted(gone.id, user));
  ASSERT_TRUE(jobs_.mark_deleted(just_now.id, user));
  db_.scalar("UPDATE jobs SET deleted_at = now() - interval '5 minutes' WHERE id = '" + gone.id + "'");
  const auto result = s.run_now("purge-deleted-jobs", stop_).result;
  EXPECT_EQ(result->status, "Succeeded");
  EXPECT_EQ(result->stats["jobsPurged"], 1);
  EXPECT_EQ(result->stats["objectsDeleted"], 3);
  EXPECT_EQ(job_count("id = '" + gone.id + "'"), "0");
  // A deletion of the last seconds is left to the API's own background purge.
  EXPECT_EQ(job_count("id = '" + just_now.id + "'"), "1");
}

TEST_F(SchedulerDbTest, SweepDeletesOrphanObjectsOnlyAfterTheGracePeriod) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  const auto kept = new_job_with_objects(user);
  const std::string ghost = ids::new_uuid();
  const auto old_orphan = contracts::output_key(user, ghost, "thumb-512", "webp");
  const auto young_orphan = contracts::original_key(user, ids::new_uuid());
  const std::string junk = "processed/not-a-user/whatever.bin";
  store_.put_buffer(old_orphan, "x", "image/webp");
  store_.put_buffer(young_orphan, "x", "image/png");
  store_.put_buffer(junk, "x", "application/octet-stream");
  const auto two_days_ago = fs::file_time_type::clock::now() - std::chrono::hours(48);
  for (const auto& key : {old_orphan, junk, kept.original_key})
    fs::last_write_time(objects_.path() / key, two_days_ago);

  const auto result = s.run_now("sweep-orphan-objects", stop_).result;
  EXPECT_EQ(result->status, "Succeeded") << result->error.value_or("");
  EXPECT_EQ(result->stats["objectsScanned"], 6);
  EXPECT_EQ(result->stats["orphansDeleted"], 2);
  EXPECT_EQ(result->stats["orphansTooYoung"], 1);
  EXPECT_FALSE(store_.head(old_orphan));
  EXPECT_FALSE(store_.head(junk));
  EXPECT_TRUE(store_.head(young_orphan));
  EXPECT_TRUE(store_.head(kept.original_key));
  EXPECT_EQ(objects_under(contracts::processed_prefix(user, kept.id)), 2u);
}

TEST_F(SchedulerDbTest, PruneOutboxAndPurgeRefreshTokensDeleteOnlyWhatIsOld) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  db_.scalar(
      "INSERT INTO outbox (exchange, routing_key, payload, published_at) VALUES "
      "('x', 'k', '{}', now() - interval '2 days'), ('x', 'k', '{}', now() - interval '1 hour'), "
      "('x', 'k', '{}', NULL)");
  const auto token = [&](const std::string& expires, const std::string& revoked) {
    db_.scalar(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, revoked_at) VALUES ('" +
        ids::new_uuid() + "', '" + user + "', '" + ids::new_uuid() + "', '" + ids::new_uuid() + "', " +
        expires + ", " + revoked + ")");
  };
  token("now() - interval '3 days'", "NULL");  // long expired: goes
  token("now() + interval '5 days'",
        "now() - interval '20 days'");         // revoked, unexpired: kept (reuse detection)
  token("now() + interval '5 days'", "NULL");  // live: kept
  token("now() - interval '1 hour'", "NULL");  // just expired: kept a day

  const auto outbox = s.run_now("prune-outbox", stop_).result;
  EXPECT_EQ(outbox->stats["rowsDeleted"], 1);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM outbox"), "2");
  const auto tokens = s.run_now("purge-refresh-tokens", stop_).result;
  EXPECT_EQ(tokens->stats["tokensDeleted"], 1);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM refresh_tokens"), "3");
}

TEST_F(SchedulerDbTest, ShutdownInterruptsARunBetweenItemsAndRecordsIt) {
  auto s = scheduler(only({}));
  const auto user = new_user();
  for (int i = 0; i < 3; ++i) new_job_with_objects(user);
  db_.scalar("UPDATE jobs SET created_at = now() - interval '31 days'");
  stop_.request();
  const auto result = s.run_now("cleanup-expired-jobs", stop_).result;
  EXPECT_EQ(result->status, "Failed");
  EXPECT_NE(result->error.value_or("").find("Interrupted by shutdown"), std::string::npos);
  EXPECT_EQ(db_.scalar("SELECT status FROM schedule_runs"), "Failed");
  EXPECT_EQ(job_count(), "3");
}

// ---------------------------------------------------------------------------------------------------------------
// Through the real binaries.

class SchedulerStackTest : public ImagesTest {
 protected:
  struct Cli {
    int code = -1;
    std::string output;
  };

  // `imageproc <args>` against this test's database and objects, to completion.
  Cli cli(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) {
    auto env = stack_env(db_);
    env["LOG_FORMAT"] = "text";
    for (auto& [k, v] : extra) env[k] = v;
    ImageprocProcess p(std::move(args), env);
    Cli result;
    if (!p.process().wait(120s)) {
      ADD_FAILURE() << "imageproc did not finish";
      return result;
    }
    result.code = p.process().exit_code().value_or(-1);
    for (const auto& line : p.lines()) result.output += line + "\n";
    return result;
  }

  // Waits (bounded) until `sql` returns `expected`.
  bool eventually(const std::string& sql, const std::string& expected, std::chrono::seconds patience = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (db_.scalar(sql) == expected) return true;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << sql << " never returned " << expected << " (last: " << db_.scalar(sql) << ")";
    return false;
  }

  queue::Topology topology() const { return queue::Topology::make(db_.name() + ".", {200ms, 400ms}); }
  queue::AmqpConnection broker() const {
    return queue::AmqpConnection(queue::parse_amqp_url(required_env("IMAGEPROC_TEST_AMQP_URL")),
                                 "scheduler-test");
  }

  static std::map<std::string, std::string> schedules_off() {
    std::map<std::string, std::string> env;
    for (const auto& s : kScheduleSettings) env[s.variable] = "off";
    return env;
  }

  std::string admin_token(const std::string& email) {
    register_user(email);
    const auto promoted = cli({"user", "promote", email});
    EXPECT_EQ(promoted.code, 0) << promoted.output;
    auto r = api_->post_json("/api/auth/login", {{"email", email}, {"password", "correct horse battery"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("token").get<std::string>();
  }
};

TEST_F(SchedulerStackTest, TwoWorkersRunEachOccurrenceOfAScheduleOnce) {
  auto env = schedules_off();
  env["SCHEDULE_PRUNE_OUTBOX"] = "0 0 1 1 *";  // never due by itself during the test
  env["SCHEDULER_POLL_SECONDS"] = "1";
  start({}, /*with_worker=*/false);
  WorkerProcess a(db_, env);
  WorkerProcess b(db_, env);
  ASSERT_TRUE(a.process().wait_for_line("scheduler started", 30s));
  ASSERT_TRUE(b.process().wait_for_line("scheduler started", 30s));
  constexpr int kOccurrences = 6;
  for (int i = 1; i <= kOccurrences; ++i) {
    // An occurrence falls due; both schedulers wake (NOTIFY) and race for it.
    db_.scalar("UPDATE schedules SET next_run_at = now() - make_interval(days => " + std::to_string(i) +
               ") WHERE name = 'prune-outbox'");
    db_.scalar("SELECT pg_notify('schedules', 'prune-outbox')");
    ASSERT_TRUE(
        eventually("SELECT count(*) FROM schedule_runs WHERE status = 'Succeeded'", std::to_string(i)));
  }
  std::this_thread::sleep_for(2s);  // time for a duplicate to show up, if there were one
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM schedule_runs"), std::to_string(kOccurrences));
  EXPECT_EQ(db_.scalar("SELECT count(DISTINCT scheduled_for) FROM schedule_runs"),
            std::to_string(kOccurrences));
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM schedule_runs WHERE instance NOT LIKE 'it-worker-%'"), "0");
}

TEST_F(SchedulerStackTest, ScheduleListAndRunWorkOnAStackWithData) {
  // The worker's own scheduler stays out of the way: every run here is the CLI's.
  start({}, /*with_worker=*/true, {{"SCHEDULER_ENABLED", "false"}});
  const auto token = register_user("ops@example.com");
  const auto user = user_id_of(token);
  const auto old_id = upload_ok(token, "old.jpg", jpeg(picture(320, 240)));
  const auto new_id = upload_ok(token, "new.jpg", jpeg(picture(320, 240)));
  ASSERT_EQ(wait_for_image_stage(token, old_id)["status"], "Completed");
  ASSERT_EQ(wait_for_image_stage(token, new_id)["status"], "Completed");
  ASSERT_EQ(processed_files(user, old_id).size(), 4u);
  db_.scalar("UPDATE jobs SET created_at = now() - interval '45 days' WHERE id = '" + old_id + "'");

  const auto list = cli({"schedule", "list"});
  ASSERT_EQ(list.code, 0) << list.output;
  for (const auto& s : kScheduleSettings) {
    EXPECT_NE(list.output.find(s.name), std::string::npos) << list.output;
    EXPECT_NE(list.output.find(s.default_cron), std::string::npos) << list.output;
  }
  EXPECT_NE(list.output.find("NEXT RUN (UTC)"), std::string::npos);

  const auto cleanup = cli({"schedule", "run", "cleanup-expired-jobs"});
  ASSERT_EQ(cleanup.code, 0) << cleanup.output;
  EXPECT_NE(cleanup.output.find("cleanup-expired-jobs run 1: Succeeded"), std::string::npos)
      << cleanup.output;
  EXPECT_NE(cleanup.output.find("jobsDeleted=1"), std::string::npos) << cleanup.output;
  EXPECT_NE(cleanup.output.find("objectsDeleted=5"), std::string::npos) << cleanup.output;
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM jobs"), "1");
  EXPECT_TRUE(processed_files(user, old_id).empty());
  EXPECT_FALSE(fs::exists(fs::path(objects_dir_for(db_)) / contracts::original_key(user, old_id)));
  EXPECT_EQ(processed_files(user, new_id).size(), 4u);
  const auto list_page = api_->get("/api/images", bearer(token)).json();
  EXPECT_EQ(list_page["totalCount"], 1);

  for (const auto& s : kScheduleSettings) {
    const auto run = cli({"schedule", "run", s.name});
    EXPECT_EQ(run.code, 0) << s.name << ": " << run.output;
    EXPECT_NE(run.output.find(std::string(s.name) + " run "), std::string::npos) << run.output;
  }
  const auto json = cli({"schedule", "list", "--json"});
  ASSERT_EQ(json.code, 0);
  const auto begin = json.output.find("[\n");  // the log lines on stderr hold "[schedule]"
  ASSERT_NE(begin, std::string::npos) << json.output;
  const auto rows = nlohmann::json::parse(json.output.substr(begin, json.output.rfind(']') - begin + 1));
  ASSERT_EQ(rows.size(), std::size(kScheduleSettings));
  for (const auto& row : rows) {
    EXPECT_EQ(row["lastStatus"], "Succeeded") << row.dump();
    EXPECT_TRUE(row["nextRunAt"].is_string()) << row.dump();
  }

  const auto unknown = cli({"schedule", "run", "vacuum-everything"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("no schedule named 'vacuum-everything'"), std::string::npos)
      << unknown.output;
}

TEST_F(SchedulerStackTest, RecoveryCompletesAJobWhoseWorkerWasKilledMidStageAndWhoseMessageWasLost) {
  start({}, /*with_worker=*/false);
  const auto token = register_user("stuck@example.com");
  const auto user = user_id_of(token);
  const auto id = upload_ok(token, "big.jpg", jpeg(picture(6000, 4000)));
  auto amqp = broker();
  const auto topo = topology();
  {
    WorkerProcess doomed(db_, schedules_off());
    ASSERT_TRUE(doomed.process().wait_for_line("\"image stage started\"", 60s));
    doomed.process().process().signal(SIGKILL);
    ASSERT_TRUE(doomed.process().process().wait(10s));
  }
  // The broker hands the unacknowledged message back; losing it too is what recovery exists for.
  for (int i = 0; i < 100 && amqp.queue_depth(topo.image_jobs.name) == 0; ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(amqp.purge(topo.image_jobs.name), 1u);
  ASSERT_EQ(db_.scalar("SELECT status FROM jobs"), "Processing");

  // Not stuck yet: the stage lease (WORKER_STAGE_LEASE_SECONDS, 600 s) has not passed.
  const auto early = cli({"schedule", "run", "recover-stuck-jobs"});
  ASSERT_EQ(early.code, 0) << early.output;
  EXPECT_NE(early.output.find("imageStagesRequeued=0"), std::string::npos) << early.output;

  // Eleven minutes later, as far as the row can tell.
  db_.scalar(
      "UPDATE jobs SET started_at = now() - interval '11 minutes', updated_at = now() - interval '11 "
      "minutes'");
  worker_ = std::make_unique<WorkerProcess>(db_, schedules_off());
  const auto recovered = cli({"schedule", "run", "recover-stuck-jobs"});
  ASSERT_EQ(recovered.code, 0) << recovered.output;
  EXPECT_NE(recovered.output.find("imageStagesRequeued=1"), std::string::npos) << recovered.output;
  const auto d = wait_for_image_stage(token, id, 180s);
  EXPECT_EQ(d["status"], "Completed") << d.dump();
  EXPECT_EQ(processed_files(user, id).size(), 4u);
}

TEST_F(SchedulerStackTest, RecoveryRequeuesAPendingStageWhoseMessageWasLostAndNothingElse) {
  start({}, /*with_worker=*/false);
  const auto token = register_user("lost@example.com");
  const auto lost = upload_ok(token, "lost.jpg", jpeg(picture(320, 240)));
  auto amqp = broker();
  const auto topo = topology();
  for (int i = 0; i < 100 && amqp.queue_depth(topo.image_jobs.name) == 0; ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(amqp.purge(topo.image_jobs.name), 1u);
  const auto waiting = upload_ok(token, "waiting.jpg", jpeg(picture(320, 240)));  // its message is queued
  for (int i = 0; i < 100 && amqp.queue_depth(topo.image_jobs.name) == 0; ++i)
    std::this_thread::sleep_for(100ms);
  db_.scalar("UPDATE jobs SET updated_at = now() - interval '20 minutes' WHERE id = '" + lost + "'");

  const auto recovered = cli({"schedule", "run", "recover-stuck-jobs"});
  ASSERT_EQ(recovered.code, 0) << recovered.output;
  EXPECT_NE(recovered.output.find("imageStagesRequeued=1"), std::string::npos) << recovered.output;
  // Run again at once: the re-queued stage was touched, so it is not queued a second time.
  const auto again = cli({"schedule", "run", "recover-stuck-jobs"});
  EXPECT_NE(again.output.find("imageStagesRequeued=0"), std::string::npos) << again.output;

  worker_ = std::make_unique<WorkerProcess>(db_, schedules_off());
  EXPECT_EQ(wait_for_image_stage(token, lost)["status"], "Completed");
  EXPECT_EQ(wait_for_image_stage(token, waiting)["status"], "Completed");
}

TEST_F(SchedulerStackTest, AdminEndpointsRefuseAnonymousAndOrdinaryUsers) {
  start({}, /*with_worker=*/false);
  const auto user = register_user("plain@example.com");
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/admin/overview"}, {"POST", "/api/admin/schedules/prune-outbox/run"}}) {
    const auto anonymous = api_->request({method, path, "", {}});
    EXPECT_EQ(anonymous.status, 401) << path;
    const auto ordinary = api_->request({method, path, "", bearer(user)});
    EXPECT_EQ(ordinary.status, 403) << path;
    EXPECT_EQ(ordinary.header("content-type").value_or(""), "application/problem+json");
    EXPECT_EQ(ordinary.body.find("schedule"), std::string::npos) << ordinary.body;
  }
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM schedules WHERE run_requested_at IS NOT NULL"), "0");
}

TEST_F(SchedulerStackTest, OverviewAndMetricsMatchTheDatabaseAndTheBroker) {
  auto env = schedules_off();
  env["SCHEDULE_PRUNE_OUTBOX"] = "15 * * * *";
  env["SCHEDULER_POLL_SECONDS"] = "1";
  start({}, /*with_worker=*/true, env);
  const auto admin = admin_token("root@example.com");
  const auto a = upload_ok(admin, "a.jpg", jpeg(picture(320, 240)));
  const auto b = upload_ok(admin, "b.jpg", jpeg(picture(320, 240)));
  ASSERT_EQ(wait_for_image_stage(admin, a)["status"], "Completed");
  ASSERT_EQ(wait_for_image_stage(admin, b)["status"], "Completed");
  ASSERT_TRUE(eventually("SELECT count(*) FROM jobs WHERE ai_status = 'Skipped'", "2"));
  // One message an operator has to look at.
  auto amqp = broker();
  const auto topo = topology();
  ASSERT_EQ(amqp.publish(topo.dead_letter_exchange, topo.image_jobs.name, "{\"poison\":true}"),
            queue::PublishOutcome::Confirmed);

  const auto r = api_->get("/api/admin/overview", bearer(admin));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto o = r.json();
  EXPECT_EQ(o["jobs"]["total"].get<int>(),
            std::stoi(db_.scalar("SELECT count(*) FROM jobs WHERE deleted_at IS NULL")));
  EXPECT_EQ(o["jobs"]["byStatus"]["Completed"], 2);
  EXPECT_EQ(o["jobs"]["byAiStatus"]["Skipped"], 2);
  EXPECT_EQ(o["jobs"]["byOverallStatus"]["Completed"], 2);
  ASSERT_EQ(o["queues"].size(), 2u) << o.dump();
  EXPECT_TRUE(o["queuesError"].is_null());
  EXPECT_EQ(o["queues"][0]["name"], topo.image_jobs.name);
  EXPECT_EQ(o["queues"][0]["messages"], 0);
  EXPECT_EQ(o["queues"][0]["consumers"], 2);  // WORKER_IMAGE_CONCURRENCY
  EXPECT_EQ(o["queues"][0]["deadLetters"], 1);
  EXPECT_EQ(o["queues"][1]["name"], topo.ai_jobs.name);
  EXPECT_EQ(o["queues"][1]["deadLetters"], 0);
  ASSERT_EQ(o["workers"].size(), 1u) << o.dump();
  EXPECT_EQ(o["workers"][0]["alive"], true);
  EXPECT_EQ(o["workers"][0]["instance"].get<std::string>().rfind("it-worker-", 0), 0u);
  EXPECT_EQ(o["schedules"].size(), std::size(kScheduleSettings));

  // "Run now" reaches the worker, which runs it once and records it.
  const auto run = api_->request({"POST", "/api/admin/schedules/prune-outbox/run", "", bearer(admin)});
  ASSERT_EQ(run.status, 202) << run.body;
  EXPECT_EQ(run.json()["name"], "prune-outbox");
  EXPECT_TRUE(run.json()["requestedAt"].is_string());
  ASSERT_TRUE(eventually("SELECT status || ' ' || trigger FROM schedule_runs WHERE name = 'prune-outbox'",
                         "Succeeded manual"));
  const auto after = api_->get("/api/admin/overview", bearer(admin)).json();
  ASSERT_FALSE(after["recentRuns"].empty());
  EXPECT_EQ(after["recentRuns"][0]["name"], "prune-outbox");
  EXPECT_EQ(after["recentRuns"][0]["trigger"], "manual");
  EXPECT_TRUE(after["recentRuns"][0]["stats"].contains("rowsDeleted"));
  EXPECT_EQ(api_->request({"POST", "/api/admin/schedules/no-such-job/run", "", bearer(admin)}).status, 404);

  const auto metrics = api_->get("/metrics").body;
  for (const std::string& line : std::vector<std::string>{
           "imageproc_operations_up 1\n", "imageproc_jobs{status=\"Completed\"} 2\n",
           "imageproc_queue_dead_letters{queue=\"" + topo.image_jobs.name + "\"} 1\n",
           "imageproc_queue_consumers{queue=\"" + topo.image_jobs.name + "\"} 2\n",
           "imageproc_workers{state=\"alive\"} 1\n",
           "imageproc_schedule_runs{schedule=\"prune-outbox\",status=\"Succeeded\"} 1\n",
           "imageproc_schedule_items{schedule=\"prune-outbox\",item=\"rowsDeleted\"} "}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
}

}  // namespace
}  // namespace imageproc::testing
