#include "core/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/temp_file.hpp"

using imageproc::Config;

namespace {

imageproc::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Config, DefaultsMatchTheDesign) {
  auto [c, problems] = Config::load(env_of({}));
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.auth.jwt_ttl_minutes, 15);
  EXPECT_EQ(c.rate_limits.auth_per_minute, 10);
  EXPECT_EQ(c.rate_limits.upload_per_minute, 20);
  EXPECT_EQ(c.rate_limits.read_per_minute, 300);
  EXPECT_EQ(c.auth.password_memory_kib, 19u * 1024);
  EXPECT_EQ(c.data_dir, ".imageproc");
}

TEST(Config, EnvironmentOverridesDefaults) {
  auto [c, problems] = Config::load(env_of({{"IMAGEPROC_HTTP_ADDR", "0.0.0.0:9000"},
                                            {"JWT_TTL_MINUTES", "30"},
                                            {"CORS_ORIGINS", "https://a.example, https://b.example"},
                                            {"MIGRATE_ON_START", "false"}}));
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c.http.host, "0.0.0.0");
  EXPECT_EQ(c.http.port, 9000);
  EXPECT_EQ(c.auth.jwt_ttl_minutes, 30);
  EXPECT_EQ(c.http.cors_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_FALSE(c.database.migrate_on_start);
}

TEST(Config, BadValuesAreReportedByVariableName) {
  auto [c, problems] = Config::load(env_of({{"JWT_TTL_MINUTES", "forever"},
                                            {"IMAGEPROC_HTTP_ADDR", "nohost"},
                                            {"MIGRATE_ON_START", "maybe"},
                                            {"LOG_FORMAT", "xml"},
                                            {"DB_POOL_SIZE", "0"}}));
  EXPECT_TRUE(mentions(problems, "JWT_TTL_MINUTES"));
  EXPECT_TRUE(mentions(problems, "IMAGEPROC_HTTP_ADDR"));
  EXPECT_TRUE(mentions(problems, "MIGRATE_ON_START"));
  EXPECT_TRUE(mentions(problems, "LOG_FORMAT"));
  EXPECT_TRUE(mentions(problems, "DB_POOL_SIZE"));
}

TEST(Config, ApiRequiresDatabaseAndAStrongJwtSecret) {
  auto [c, parse] = Config::load(env_of({}));
  auto problems = c.validate(Config::Role::Api);
  EXPECT_TRUE(mentions(problems, "DATABASE_URL is required"));
  EXPECT_TRUE(mentions(problems, "JWT_SECRET is required"));

  c.database.url = "postgresql://u@127.0.0.1/db";
  c.auth.jwt_secret = "too-short";
  EXPECT_TRUE(mentions(c.validate(Config::Role::Api), "JWT_SECRET must be at least 32 bytes"));
  c.auth.jwt_secret = std::string(32, 'k');
  EXPECT_TRUE(mentions(c.validate(Config::Role::Api), "STORAGE_SIGNING_SECRET"));
  c.storage.signing_secret = std::string(32, 's');
  EXPECT_TRUE(mentions(c.validate(Config::Role::Api), "AMQP_URL is required"));
  c.queue.amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f";
  EXPECT_TRUE(c.validate(Config::Role::Api).empty());
  // migrate needs no JWT secret; up generates its own database and secret.
  c.auth.jwt_secret.clear();
  EXPECT_TRUE(c.validate(Config::Role::Migrate).empty());
  EXPECT_TRUE(Config::load(env_of({})).first.validate(Config::Role::Up).empty());
}

TEST(Config, S3BackendNeedsBucketAndCredentials) {
  auto [c, p] = Config::load(env_of({{"STORAGE_BACKEND", "s3"}, {"S3_ENDPOINT", "ftp://x"}}));
  c.database.url = "postgresql://u@127.0.0.1/db";
  c.auth.jwt_secret = std::string(32, 'k');
  const auto problems = c.validate(Config::Role::Api);
  EXPECT_TRUE(mentions(problems, "S3_BUCKET is required"));
  EXPECT_TRUE(mentions(problems, "S3_ACCESS_KEY_ID is required"));
  EXPECT_TRUE(mentions(problems, "S3_SECRET_ACCESS_KEY is required"));
  EXPECT_TRUE(mentions(problems, "S3_ENDPOINT must start with"));
  EXPECT_FALSE(mentions(problems, "STORAGE_SIGNING_SECRET"));
  EXPECT_TRUE(mentions(Config::load(env_of({{"STORAGE_BACKEND", "gcs"}})).second, "STORAGE_BACKEND"));
  EXPECT_TRUE(
      mentions(Config::load(env_of({{"SIGNED_URL_TTL_MINUTES", "61"}})).second, "SIGNED_URL_TTL_MINUTES"));
}

TEST(Config, TomlFileIsReadAndEnvironmentWins) {
  const std::string path = ::testing::TempDir() + "/imageproc-config-test.toml";
  {
    std::ofstream f(path);
    f << "JWT_TTL_MINUTES = 20\nDB_POOL_SIZE = 12\nCORS_ORIGINS = [\"https://x.example\"]\nMIGRATE_ON_START "
         "= false\n";
  }
  auto [c, problems] = Config::load(env_of({{"DB_POOL_SIZE", "20"}}), path);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems[0]);
  EXPECT_EQ(c.auth.jwt_ttl_minutes, 20);
  EXPECT_EQ(c.database.pool_size, 20);
  EXPECT_EQ(c.http.cors_origins, std::vector<std::string>{"https://x.example"});
  EXPECT_FALSE(c.database.migrate_on_start);
  std::remove(path.c_str());
}

TEST(Config, UnknownTomlKeysAndBrokenFilesAreReported) {
  const std::string path = ::testing::TempDir() + "/imageproc-config-bad.toml";
  {
    std::ofstream f(path);
    f << "JWT_TLL_MINUTES = 20\n";
  }
  EXPECT_TRUE(mentions(Config::load(env_of({}), path).second, "unknown setting JWT_TLL_MINUTES"));
  {
    std::ofstream f(path);
    f << "this is = = not toml\n";
  }
  EXPECT_FALSE(Config::load(env_of({}), path).second.empty());
  std::remove(path.c_str());
}

TEST(Config, SummaryAndRedactionHideSecrets) {
  auto [c, p] = Config::load(env_of({{"DATABASE_URL", "postgresql://app:hunter2@db:5432/imageproc"},
                                     {"JWT_SECRET", std::string(40, 's')}}));
  const auto summary = c.redacted_summary();
  EXPECT_EQ(summary.find("hunter2"), std::string::npos);
  EXPECT_EQ(summary.find(std::string(40, 's')), std::string::npos);
  EXPECT_EQ(imageproc::redact_url("postgresql://app:hunter2@db/x"), "postgresql://app:***@db/x");
  EXPECT_EQ(imageproc::redact_url("postgresql://app@db/x"), "postgresql://app@db/x");
}

}  // namespace

namespace {

std::vector<std::string> worker_problems(std::map<std::string, std::string> vars) {
  vars.emplace("DATABASE_URL", "postgresql://u:p@127.0.0.1/db");
  vars.emplace("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
  auto [c, problems] = Config::load(env_of(vars));
  auto more = c.validate(Config::Role::Worker);
  problems.insert(problems.end(), more.begin(), more.end());
  return problems;
}

}  // namespace

TEST(Config, AiProviderDefaultsToLocalWithoutAKeyAndToOpenAiWithOne) {
  EXPECT_EQ(Config::load(env_of({})).first.ai.provider, "local");
  const auto with_key = Config::load(env_of({{"OPENAI_API_KEY", "sk-test"}})).first;
  EXPECT_EQ(with_key.ai.provider, "openai");
  EXPECT_EQ(with_key.ai.openai_model, "gpt-4.1-mini");
  EXPECT_EQ(with_key.ai.max_image_dimension, 1024);
  EXPECT_EQ(with_key.ai.daily_budget_usd, 0);
  EXPECT_EQ(Config::load(env_of({{"OPENAI_API_KEY", "sk-test"}, {"AI_PROVIDER", "none"}})).first.ai.provider,
            "none");
}

TEST(Config, OpenAiWithoutAKeyRefusesToStartTheWorker) {
  const auto problems = worker_problems({{"AI_PROVIDER", "openai"}});
  EXPECT_TRUE(mentions(problems, "OPENAI_API_KEY is required when AI_PROVIDER=openai"));
  EXPECT_TRUE(worker_problems({{"AI_PROVIDER", "openai"}, {"OPENAI_API_KEY", "sk-test"}}).empty());
  EXPECT_TRUE(worker_problems({{"AI_PROVIDER", "local"}}).empty());
}

TEST(Config, AiNumbersAreParsedAndRangeChecked) {
  auto [c, problems] = Config::load(env_of({{"AI_INPUT_USD_PER_1K", "0.0025"},
                                            {"AI_OUTPUT_USD_PER_1K", "0.01"},
                                            {"AI_DAILY_BUDGET_USD", "1.5"},
                                            {"AI_MAX_IMAGE_DIMENSION", "512"},
                                            {"WORKER_AI_CONCURRENCY", "8"}}));
  EXPECT_TRUE(problems.empty());
  EXPECT_DOUBLE_EQ(c.ai.input_usd_per_1k, 0.0025);
  EXPECT_DOUBLE_EQ(c.ai.output_usd_per_1k, 0.01);
  EXPECT_DOUBLE_EQ(c.ai.daily_budget_usd, 1.5);
  EXPECT_EQ(c.ai.max_image_dimension, 512);
  EXPECT_EQ(c.worker.ai_concurrency, 8);

  const auto bad = Config::load(env_of({{"AI_INPUT_USD_PER_1K", "cheap"},
                                        {"AI_DAILY_BUDGET_USD", "-1"},
                                        {"AI_MAX_IMAGE_DIMENSION", "4096"},
                                        {"AI_PROVIDER", "gemini"},
                                        {"OPENAI_BASE_URL", "ftp://x"}}));
  EXPECT_TRUE(mentions(bad.second, "AI_INPUT_USD_PER_1K"));
  EXPECT_TRUE(mentions(bad.second, "AI_DAILY_BUDGET_USD"));
  EXPECT_TRUE(mentions(bad.second, "AI_MAX_IMAGE_DIMENSION"));
  EXPECT_TRUE(mentions(bad.second, "AI_PROVIDER"));
  EXPECT_TRUE(mentions(
      worker_problems({{"AI_PROVIDER", "openai"}, {"OPENAI_API_KEY", "k"}, {"OPENAI_BASE_URL", "ftp://x"}}),
      "OPENAI_BASE_URL"));
}

TEST(Config, TheOpenAiKeyNeverAppearsInTheLoggedSummary) {
  const auto c = Config::load(env_of({{"OPENAI_API_KEY", "sk-very-secret-value"}})).first;
  EXPECT_EQ(c.redacted_summary().find("sk-very-secret"), std::string::npos);
  EXPECT_NE(c.redacted_summary().find("openai_key=set"), std::string::npos);
}

TEST(Config, SchedulesDefaultToTheDesignAndTakeCronOrOff) {
  auto [c, problems] = Config::load(env_of({}));
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c.scheduler.crons.at("cleanup-expired-jobs"), "0 0 * * *");
  EXPECT_EQ(c.scheduler.crons.at("recover-stuck-jobs"), "*/5 * * * *");
  EXPECT_EQ(c.scheduler.crons.size(), std::size(imageproc::kScheduleSettings));
  EXPECT_EQ(c.scheduler.retention_days, 30);
  EXPECT_TRUE(c.scheduler.enabled);

  auto [d, ok] = Config::load(env_of({{"SCHEDULE_SWEEP_ORPHAN_OBJECTS", "off"},
                                      {"SCHEDULE_PRUNE_OUTBOX", " @hourly "},
                                      {"RETENTION_DAYS", "7"}}));
  EXPECT_TRUE(ok.empty()) << (ok.empty() ? "" : ok[0]);
  EXPECT_FALSE(d.scheduler.is_enabled("sweep-orphan-objects"));
  EXPECT_TRUE(d.scheduler.is_enabled("prune-outbox"));
  EXPECT_EQ(d.scheduler.crons.at("prune-outbox"), "@hourly");
  EXPECT_EQ(d.scheduler.retention_days, 7);
}

TEST(Config, ABadCronOrRetentionIsReportedByVariableName) {
  auto [c, problems] = Config::load(env_of({{"SCHEDULE_CLEANUP_EXPIRED_JOBS", "0 25 * * *"},
                                            {"SCHEDULE_PRUNE_OUTBOX", "0 0 30 2 *"},
                                            {"RETENTION_DAYS", "0"},
                                            {"SCHEDULER_POLL_SECONDS", "x"}}));
  EXPECT_TRUE(mentions(problems, "SCHEDULE_CLEANUP_EXPIRED_JOBS must be a 5-field cron expression"));
  EXPECT_TRUE(mentions(problems, "SCHEDULE_PRUNE_OUTBOX"));
  EXPECT_TRUE(mentions(problems, "RETENTION_DAYS must be an integer"));
  EXPECT_TRUE(mentions(problems, "SCHEDULER_POLL_SECONDS"));
}

TEST(Config, ScheduleVariablesAreKnownKeysOfTheTomlFile) {
  const std::string path = ::testing::TempDir() + "/imageproc-config-schedule.toml";
  {
    std::ofstream f(path);
    f << "schedule_purge_deleted_jobs = \"*/2 * * * *\"\nretention_days = 90\n";
  }
  auto [c, problems] = Config::load(env_of({}), path);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems[0]);
  EXPECT_EQ(c.scheduler.crons.at("purge-deleted-jobs"), "*/2 * * * *");
  EXPECT_EQ(c.scheduler.retention_days, 90);
  std::remove(path.c_str());
}

TEST(Config, OperatorCommandsNeedTheDatabaseButNoBroker) {
  auto [c, problems] = Config::load(env_of({{"DATABASE_URL", "postgresql://x@127.0.0.1/db"}}));
  EXPECT_TRUE(c.validate(Config::Role::Operator).empty());
  auto [d, p2] = Config::load(env_of({}));
  EXPECT_TRUE(mentions(d.validate(Config::Role::Operator), "DATABASE_URL is required"));
  auto [s3, p3] =
      Config::load(env_of({{"DATABASE_URL", "postgresql://x@127.0.0.1/db"}, {"STORAGE_BACKEND", "s3"}}));
  EXPECT_TRUE(mentions(s3.validate(Config::Role::Operator), "S3_BUCKET is required"));
}

TEST(Config, RecoveryWaitsLongerThanTheLongestRetryDelay) {
  auto [c, problems] = Config::load(env_of({{"DATABASE_URL", "postgresql://x@127.0.0.1/db"},
                                            {"AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"},
                                            {"QUEUE_RETRY_DELAYS_MS", "2000,1800000"},
                                            {"RECOVER_PENDING_AFTER_MINUTES", "15"}}));
  EXPECT_TRUE(
      mentions(c.validate(Config::Role::Worker), "RECOVER_PENDING_AFTER_MINUTES (15) must be longer"));
  EXPECT_FALSE(mentions(c.validate(Config::Role::Api), "RECOVER_PENDING_AFTER_MINUTES"));
  auto [d, p2] = Config::load(env_of({{"DATABASE_URL", "postgresql://x@127.0.0.1/db"},
                                      {"AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"}}));
  EXPECT_TRUE(d.validate(Config::Role::Worker).empty());
}

TEST(Config, WebDistDirMustHoldABuiltApp) {
  auto [c, parse] = Config::load(env_of({{"WEB_DIST_DIR", "/nonexistent/web/dist/client"}}));
  EXPECT_TRUE(parse.empty());
  EXPECT_EQ(c.http.web_dist_dir, "/nonexistent/web/dist/client");
  EXPECT_TRUE(mentions(c.validate(Config::Role::Api),
                       "WEB_DIST_DIR '/nonexistent/web/dist/client' is not a directory"));
  EXPECT_TRUE(mentions(c.validate(Config::Role::Up), "WEB_DIST_DIR"));
  EXPECT_FALSE(mentions(c.validate(Config::Role::Worker), "WEB_DIST_DIR"));  // the worker serves nothing

  const auto dir = imageproc::TempDir::create(std::filesystem::temp_directory_path(), "web-dist-");
  c.http.web_dist_dir = dir.path().string();
  EXPECT_TRUE(mentions(c.validate(Config::Role::Api), "has no index.html"));
  std::ofstream(dir / "index.html") << "<!DOCTYPE html>";
  EXPECT_FALSE(mentions(c.validate(Config::Role::Api), "WEB_DIST_DIR"));
  // Unset (the default of `api`): no web app, no problem.
  EXPECT_TRUE(Config::load(env_of({})).first.http.web_dist_dir.empty());
}
