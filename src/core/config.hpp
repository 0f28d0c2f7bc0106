#pragma once
// Typed configuration. Every setting has one name, used both as an environment variable and as a key of the
// optional TOML file (IMAGEPROC_CONFIG or --config). Precedence: defaults < TOML file < environment.
// Config::load() collects parse errors; validate() adds cross-field rules. Both name the offending variable,
// and the process refuses to start while any remain.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace imageproc {

// Looks an environment variable up; injectable so tests need not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

struct HttpConfig {
  std::string host = "127.0.0.1";  // IMAGEPROC_HTTP_ADDR=host:port
  std::uint16_t port = 8080;
  int io_threads = 2;          // HTTP_IO_THREADS: threads running the network loop
  int handler_threads = 8;     // HTTP_HANDLER_THREADS: bounded pool for DB work and hashing
  int max_connections = 1024;  // HTTP_MAX_CONNECTIONS: further connections are closed at once
  std::size_t max_json_body_bytes = 64 * 1024;  // HTTP_MAX_JSON_BODY_BYTES: JSON request bodies
  std::size_t max_header_bytes = 16 * 1024;     // HTTP_MAX_HEADER_BYTES
  std::chrono::seconds header_timeout{10};      // HTTP_HEADER_TIMEOUT_SECONDS: time to send request headers
  std::chrono::seconds body_timeout{60};        // HTTP_BODY_TIMEOUT_SECONDS: time to send a request body
  std::chrono::seconds idle_timeout{75};        // HTTP_IDLE_TIMEOUT_SECONDS: keep-alive idle time
  std::chrono::seconds shutdown_grace{20};      // HTTP_SHUTDOWN_GRACE_SECONDS: drain time on SIGTERM
  std::vector<std::string> cors_origins;        // CORS_ORIGINS: comma-separated exact origins
  std::vector<std::string>
      trusted_proxies;  // TRUSTED_PROXIES: comma-separated IPs whose X-Forwarded-For counts
  // WEB_DIST_DIR: the built web app (index.html + assets/) served at / by `api`; "" = none. `up` defaults it
  // to web/dist/client of the source tree it runs from.
  std::string web_dist_dir;
};

struct DatabaseConfig {
  std::string url;                                    // DATABASE_URL (libpq URI)
  int pool_size = 10;                                 // DB_POOL_SIZE
  std::chrono::milliseconds statement_timeout{5000};  // DB_STATEMENT_TIMEOUT_MS: applied to every statement
  std::chrono::milliseconds acquire_timeout{5000};    // DB_ACQUIRE_TIMEOUT_MS: wait for a free connection
  bool migrate_on_start = true;                       // MIGRATE_ON_START: `api` applies migrations at start
};

struct AuthConfig {
  std::string jwt_secret;                // JWT_SECRET: ≥ 32 bytes; signs access tokens
  std::string jwt_key_id = "k1";         // JWT_KEY_ID: `kid` of JWT_SECRET
  std::string jwt_previous_keys;         // JWT_PREVIOUS_KEYS: "kid:secret,..." still accepted (rotation)
  std::string jwt_issuer = "imageproc";  // JWT_ISSUER
  std::string jwt_audience = "imageproc-api";   // JWT_AUDIENCE
  int jwt_ttl_minutes = 15;                     // JWT_TTL_MINUTES (1–1440)
  int refresh_ttl_days = 14;                    // REFRESH_TTL_DAYS (1–365)
  bool cookie_secure = true;                    // AUTH_COOKIE_SECURE: Secure flag on the refresh cookie
  unsigned long long password_ops = 2;          // PASSWORD_HASH_OPS: Argon2id passes (≥ 2)
  std::size_t password_memory_kib = 19 * 1024;  // PASSWORD_HASH_MEMORY_KIB: Argon2id memory (≥ 19456)
};

struct RateLimitConfig {
  int auth_per_minute = 10;    // RATE_LIMIT_AUTH_PER_MINUTE: per client IP on /api/auth/*
  int upload_per_minute = 20;  // RATE_LIMIT_UPLOAD_PER_MINUTE: per user
  int read_per_minute = 300;   // RATE_LIMIT_READ_PER_MINUTE: per user
};

struct StorageConfig {
  std::string backend = "local";        // STORAGE_BACKEND: local | s3
  std::string local_root;               // STORAGE_LOCAL_DIR: default <IMAGEPROC_DATA_DIR>/objects
  std::string signing_secret;           // STORAGE_SIGNING_SECRET: ≥ 32 bytes; HMAC key of local signed URLs
  std::string public_base_url;          // IMAGEPROC_PUBLIC_URL: prefix of local signed URLs ("" = relative)
  int signed_url_ttl_minutes = 10;      // SIGNED_URL_TTL_MINUTES (1–60)
  std::string s3_endpoint;              // S3_ENDPOINT: e.g. https://s3.eu-central-1.amazonaws.com or R2's
  std::string s3_region = "us-east-1";  // S3_REGION: "auto" for Cloudflare R2
  std::string s3_bucket;                // S3_BUCKET
  std::string s3_access_key_id;         // S3_ACCESS_KEY_ID
  std::string s3_secret_access_key;     // S3_SECRET_ACCESS_KEY
  bool s3_force_path_style = false;     // S3_FORCE_PATH_STYLE: bucket in the path instead of the host name
  std::chrono::milliseconds s3_connect_timeout{3000};   // S3_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds s3_request_timeout{30000};  // S3_REQUEST_TIMEOUT_MS: whole request, per attempt
  int s3_max_attempts = 4;  // S3_MAX_ATTEMPTS: attempts per operation (retries + 1)
};

struct QueueConfig {
  std::string amqp_url;  // AMQP_URL: amqp://user:password@host:5672/vhost
  std::string prefix;    // QUEUE_PREFIX: prepended to every exchange and queue name (isolation)
  std::vector<std::chrono::milliseconds> retry_delays{std::chrono::seconds(2), std::chrono::seconds(10),
                                                      std::chrono::seconds(60)};  // QUEUE_RETRY_DELAYS_MS
  int delivery_limit = 5;  // QUEUE_DELIVERY_LIMIT: deliveries of one message before it is dead-lettered
};

struct ImagesConfig {
  std::uint64_t upload_max_bytes = 50ULL * 1024 * 1024;  // UPLOAD_MAX_BYTES: largest accepted file
  std::uint64_t max_pixels = 100'000'000;                // IMAGE_MAX_PIXELS: width × height, frames summed
  int max_frames = 1000;                                 // IMAGE_MAX_FRAMES
  bool output_avif = false;                              // OUTPUT_AVIF: also write optimized.avif
  std::string temp_dir;                                  // IMAGEPROC_TEMP_DIR: upload spool and stage scratch
                                                         // space (default: the system temp directory)
};

struct AiConfig {
  std::string provider;        // AI_PROVIDER: openai | local | none (default: openai with a key, else local)
  std::string openai_api_key;  // OPENAI_API_KEY: secret; required for openai
  std::string openai_base_url =
      "https://api.openai.com/v1";            // OPENAI_BASE_URL: any OpenAI-compatible endpoint
  std::string openai_model = "gpt-4.1-mini";  // OPENAI_MODEL
  double input_usd_per_1k = 0.0004;           // AI_INPUT_USD_PER_1K: price of 1,000 prompt tokens
  double output_usd_per_1k = 0.0016;          // AI_OUTPUT_USD_PER_1K: price of 1,000 completion tokens
  int max_image_dimension = 1024;  // AI_MAX_IMAGE_DIMENSION (256–2048): longest side sent to the provider
  std::chrono::milliseconds connect_timeout{5000};   // AI_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds request_timeout{60000};  // AI_REQUEST_TIMEOUT_MS: whole provider call
  double daily_budget_usd = 0;  // AI_DAILY_BUDGET_USD: per-user spending cap per UTC day (0 = off)
  std::string ocr_language =
      "eng";  // AI_OCR_LANGUAGE: Tesseract language(s) of the local provider, e.g. eng+deu
};

struct WorkerConfig {
  std::string instance;           // WORKER_INSTANCE: name in worker_heartbeats (default host-pid)
  int heartbeat_seconds = 10;     // WORKER_HEARTBEAT_SECONDS (1–300)
  int image_concurrency = 2;      // WORKER_IMAGE_CONCURRENCY: images processed at once (= total prefetch)
  int ai_concurrency = 2;         // WORKER_AI_CONCURRENCY: AI analyses at once (raise for remote providers)
  int stage_lease_seconds = 600;  // WORKER_STAGE_LEASE_SECONDS: a stage Processing longer is presumed dead
};

// One scheduled job: its name (the key of the job in the worker) and when it runs.
struct ScheduleSetting {
  const char* name;      // e.g. "cleanup-expired-jobs"
  const char* variable;  // e.g. SCHEDULE_CLEANUP_EXPIRED_JOBS: a 5-field UTC cron expression or "off"
  const char* default_cron;
};
inline constexpr ScheduleSetting kScheduleSettings[] = {
    {"cleanup-expired-jobs", "SCHEDULE_CLEANUP_EXPIRED_JOBS", "0 0 * * *"},
    {"purge-deleted-jobs", "SCHEDULE_PURGE_DELETED_JOBS", "* * * * *"},
    {"recover-stuck-jobs", "SCHEDULE_RECOVER_STUCK_JOBS", "*/5 * * * *"},
    {"sweep-orphan-objects", "SCHEDULE_SWEEP_ORPHAN_OBJECTS", "0 3 * * 0"},
    {"prune-outbox", "SCHEDULE_PRUNE_OUTBOX", "15 * * * *"},
    {"purge-refresh-tokens", "SCHEDULE_PURGE_REFRESH_TOKENS", "30 0 * * *"},
};

struct SchedulerConfig {
  bool enabled = true;                       // SCHEDULER_ENABLED: this worker runs due schedules
  std::map<std::string, std::string> crons;  // name → cron expression or "off" (SCHEDULE_<NAME>)
  int poll_seconds = 15;        // SCHEDULER_POLL_SECONDS: longest sleep between looks (manual runs wake it)
  int run_lease_seconds = 300;  // SCHEDULER_RUN_LEASE_SECONDS: a run not renewed for this long is abandoned
  int history_days = 30;        // SCHEDULE_HISTORY_DAYS: how long schedule_runs rows are kept
  int retention_days = 30;      // RETENTION_DAYS: cleanup-expired-jobs deletes jobs older than this
  int orphan_grace_hours = 24;  // ORPHAN_GRACE_HOURS: sweep-orphan-objects spares younger objects
  int recover_pending_after_minutes = 15;  // RECOVER_PENDING_AFTER_MINUTES: a stage Pending this long with
                                           // nothing queued is re-queued
  int outbox_retention_hours = 24;         // OUTBOX_RETENTION_HOURS: published outbox rows kept this long
  int batch_size = 100;                    // SCHEDULER_BATCH_SIZE: jobs per batch in the cleanup jobs

  bool is_enabled(const std::string& name) const;  // a cron other than "off"
};

struct LogConfig {
  std::string format = "json";  // LOG_FORMAT: json | text
  std::string level = "info";   // LOG_LEVEL: trace | debug | info | warn | error
};

struct Config {
  std::string data_dir = ".imageproc";  // IMAGEPROC_DATA_DIR
  HttpConfig http;
  DatabaseConfig database;
  AuthConfig auth;
  RateLimitConfig rate_limits;
  StorageConfig storage;
  QueueConfig queue;
  ImagesConfig images;
  WorkerConfig worker;
  AiConfig ai;
  SchedulerConfig scheduler;
  LogConfig log;

  // What a subcommand needs; validate() checks only what is relevant to it.
  // Operator: `schedule list|run` (database and storage, no broker).
  enum class Role { Api, Worker, Migrate, Up, Operator };

  // Reads defaults, then the TOML file (if `toml_path` or IMAGEPROC_CONFIG names one), then the environment.
  // Returns the config and the list of problems found while parsing (empty when everything parsed).
  static std::pair<Config, std::vector<std::string>> load(const EnvLookup& env,
                                                          std::optional<std::string> toml_path = {});
  std::vector<std::string> validate(Role role) const;

  // A one-line description safe to log: secrets and passwords are masked.
  std::string redacted_summary() const;
};

// Masks the password of a URI such as postgresql://user:secret@host/db → postgresql://user:***@host/db.
std::string redact_url(const std::string& url);

}  // namespace imageproc
