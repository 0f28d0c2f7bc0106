// Migrations and start-up configuration, through the real binary against a real PostgreSQL.

#include <gtest/gtest.h>

#include <thread>

#include "db/migrations.hpp"
#include "harness.hpp"

using imageproc::testing::ImageprocProcess;
using imageproc::testing::TestDatabase;

namespace {

int run(std::vector<std::string> args, std::map<std::string, std::string> env) {
  ImageprocProcess p(std::move(args), std::move(env));
  p.process().wait(std::chrono::seconds(60));
  return p.process().exit_code().value_or(-1);
}

const std::string kMigrationCount = std::to_string(imageproc::db::embedded_migrations().size());

TEST(Migrations, ApplyingTwiceIsANoOp) {
  TestDatabase db;
  EXPECT_EQ(run({"migrate"}, {{"DATABASE_URL", db.url()}}), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM schema_migrations"), kMigrationCount);
  EXPECT_EQ(run({"migrate"}, {{"DATABASE_URL", db.url()}}), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM schema_migrations"), kMigrationCount);
  EXPECT_EQ(db.scalar("SELECT to_regclass('users') IS NOT NULL"), "t");
}

TEST(Migrations, ConcurrentRunnersApplyEachMigrationOnce) {
  TestDatabase db;
  std::vector<std::unique_ptr<ImageprocProcess>> runners;
  for (int i = 0; i < 3; ++i) {
    runners.push_back(std::make_unique<ImageprocProcess>(std::vector<std::string>{"migrate"},
                                                         std::map<std::string, std::string>{{"DATABASE_URL", db.url()}}));
  }
  for (auto& r : runners) {
    ASSERT_TRUE(r->process().wait(std::chrono::seconds(60)));
    EXPECT_EQ(r->process().exit_code(), 0);
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM schema_migrations"), kMigrationCount);
  int applied_lines = 0;
  for (auto& r : runners) {
    for (const auto& line : r->lines()) applied_lines += line.find("migration applied") != std::string::npos;
  }
  EXPECT_EQ(std::to_string(applied_lines), kMigrationCount);
}

TEST(Configuration, ApiRefusesToStartWithoutRequiredSettingsAndNamesThem) {
  ImageprocProcess p({"api"}, {{"DATABASE_URL", ""}, {"JWT_SECRET", "short"}, {"JWT_TTL_MINUTES", "abc"}});
  ASSERT_TRUE(p.process().wait(std::chrono::seconds(30)));
  EXPECT_EQ(p.process().exit_code(), 2);
  std::string out;
  for (const auto& l : p.lines()) out += l + "\n";
  EXPECT_NE(out.find("DATABASE_URL"), std::string::npos) << out;
  EXPECT_NE(out.find("JWT_SECRET must be at least 32 bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("JWT_TTL_MINUTES"), std::string::npos) << out;
  EXPECT_EQ(out.find("short"), std::string::npos) << "a secret leaked into the output: " << out;
}

TEST(Configuration, SecretsNeverReachTheLog) {
  TestDatabase db;
  imageproc::testing::ApiServer api(db);
  ASSERT_EQ(api.get("/healthz").status, 200);
  for (const auto& line : api.process().lines()) {
    EXPECT_EQ(line.find(imageproc::testing::ApiServer::kJwtSecret), std::string::npos) << line;
  }
}

}  // namespace

namespace {

TEST(Worker, RegistersAHeartbeatAndRemovesItOnSigterm) {
  TestDatabase db;
  auto env = stack_env(db);
  env["WORKER_INSTANCE"] = "it-worker-1";
  env["WORKER_HEARTBEAT_SECONDS"] = "1";
  ImageprocProcess worker({"worker"}, env);
  ASSERT_TRUE(worker.wait_for_line("worker started", std::chrono::seconds(60)));
  std::string seen;
  for (int i = 0; i < 100 && seen != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = db.scalar("SELECT count(*) FROM worker_heartbeats WHERE instance = 'it-worker-1'");
  }
  EXPECT_EQ(seen, "1");
  worker.process().signal(SIGTERM);
  ASSERT_TRUE(worker.process().wait(std::chrono::seconds(30)));
  EXPECT_EQ(worker.process().exit_code(), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM worker_heartbeats"), "0");
}

}  // namespace
