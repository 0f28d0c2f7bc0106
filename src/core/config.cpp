#include "core/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/cron.hpp"
#include "core/text.hpp"

namespace imageproc {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

namespace {

using Settings = std::map<std::string, std::string>;

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = text::trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Reads every key of the TOML file as a setting; values may be strings, integers, booleans or arrays of
// strings.
void read_toml(const std::string& path, Settings& out, std::vector<std::string>& problems) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    problems.push_back(fmt::format("config file {}: {}", path, std::string(e.description())));
    return;
  }
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (auto s = node.value<std::string>()) {
      out[name] = *s;
    } else if (auto b = node.value<bool>(); b && node.is_boolean()) {
      out[name] = *b ? "true" : "false";
    } else if (auto i = node.value<int64_t>()) {
      out[name] = std::to_string(*i);
    } else if (const auto* arr = node.as_array()) {
      std::string joined;
      for (const auto& el : *arr) {
        if (auto s = el.value<std::string>()) joined += (joined.empty() ? "" : ",") + *s;
      }
      out[name] = joined;
    } else {
      problems.push_back(fmt::format("config file {}: {} has an unsupported type", path, name));
    }
  }
}

// Applies settings to typed fields, recording a problem that names the variable for every bad value.
class Binder {
 public:
  Binder(const Settings& settings, std::vector<std::string>& problems)
      : settings_(settings), problems_(problems) {}

  void string(const char* name, std::string& field) {
    if (auto v = find(name)) field = *v;
  }
  template <typename Int>
  void integer(const char* name, Int& field, long long min, long long max) {
    auto v = find(name);
    if (!v) return;
    long long parsed = 0;
    const auto s = text::trim(*v);
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
    if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty() || parsed < min || parsed > max) {
      problems_.push_back(
          fmt::format("{} must be an integer between {} and {} (got '{}')", name, min, max, *v));
      return;
    }
    field = static_cast<Int>(parsed);
  }
  template <typename Duration>
  void duration(const char* name, Duration& field, long long min, long long max) {
    long long count = field.count();
    integer(name, count, min, max);
    field = Duration(count);
  }
  void boolean(const char* name, bool& field) {
    auto v = find(name);
    if (!v) return;
    std::string s = text::trim(*v);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "1" || s == "true" || s == "yes" || s == "on") {
      field = true;
    } else if (s == "0" || s == "false" || s == "no" || s == "off") {
      field = false;
    } else {
      problems_.push_back(fmt::format("{} must be true or false (got '{}')", name, *v));
    }
  }
  void decimal(const char* name, double& field, double min, double max) {
    auto v = find(name);
    if (!v) return;
    const auto s = text::trim(*v);
    double parsed = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
    if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty() || !(parsed >= min && parsed <= max)) {
      problems_.push_back(
          fmt::format("{} must be a number between {} and {} (got '{}')", name, min, max, *v));
      return;
    }
    field = parsed;
  }
  void list(const char* name, std::vector<std::string>& field) {
    if (auto v = find(name)) field = split_list(*v);
  }
  template <typename Duration>
  void durations(const char* name, std::vector<Duration>& field, long long min, long long max) {
    auto v = find(name);
    if (!v) return;
    std::vector<Duration> parsed;
    for (const auto& item : split_list(*v)) {
      long long n = 0;
      auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
      if (ec != std::errc{} || ptr != item.data() + item.size() || n < min || n > max) {
        problems_.push_back(
            fmt::format("{} must be a comma-separated list of integers between {} and {} (got '{}')", name,
                        min, max, *v));
        return;
      }
      parsed.push_back(Duration(n));
    }
    if (parsed.empty()) {
      problems_.push_back(fmt::format("{} must name at least one delay", name));
      return;
    }
    field = std::move(parsed);
  }
  void one_of(const char* name, std::string& field, std::initializer_list<const char*> allowed) {
    auto v = find(name);
    if (!v) return;
    for (const char* a : allowed) {
      if (*v == a) {
        field = *v;
        return;
      }
    }
    std::string options;
    for (const char* a : allowed) options += (options.empty() ? "" : ", ") + std::string(a);
    problems_.push_back(fmt::format("{} must be one of {} (got '{}')", name, options, *v));
  }
  void host_port(const char* name, std::string& host, std::uint16_t& port) {
    auto v = find(name);
    if (!v) return;
    const auto colon = v->rfind(':');
    if (colon == std::string::npos) {
      problems_.push_back(fmt::format("{} must be host:port (got '{}')", name, *v));
      return;
    }
    std::string h = v->substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    unsigned p = 0;
    const std::string ps = v->substr(colon + 1);
    auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
    if (h.empty() || ec != std::errc{} || ptr != ps.data() + ps.size() || p > 65535) {
      problems_.push_back(fmt::format("{} must be host:port with a port 0–65535 (got '{}')", name, *v));
      return;
    }
    host = h;
    port = static_cast<std::uint16_t>(p);
  }

 private:
  std::optional<std::string> find(const char* name) const {
    auto it = settings_.find(name);
    if (it == settings_.end()) return std::nullopt;
    return it->second;
  }
  const Settings& settings_;
  std::vector<std::string>& problems_;
};

// Every variable the program reads. Listed once so the environment can be scanned for them.
constexpr const char* kVariables[] = {
    "IMAGEPROC_DATA_DIR",
    "IMAGEPROC_HTTP_ADDR",
    "HTTP_IO_THREADS",
    "HTTP_HANDLER_THREADS",
    "HTTP_MAX_CONNECTIONS",
    "HTTP_MAX_JSON_BODY_BYTES",
    "HTTP_MAX_HEADER_BYTES",
    "HTTP_HEADER_TIMEOUT_SECONDS",
    "HTTP_BODY_TIMEOUT_SECONDS",
    "HTTP_IDLE_TIMEOUT_SECONDS",
    "HTTP_SHUTDOWN_GRACE_SECONDS",
    "CORS_ORIGINS",
    "TRUSTED_PROXIES",
    "DATABASE_URL",
    "DB_POOL_SIZE",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_ACQUIRE_TIMEOUT_MS",
    "MIGRATE_ON_START",
    "JWT_SECRET",
    "JWT_KEY_ID",
    "JWT_PREVIOUS_KEYS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_TTL_MINUTES",
    "REFRESH_TTL_DAYS",
    "AUTH_COOKIE_SECURE",
    "PASSWORD_HASH_OPS",
    "PASSWORD_HASH_MEMORY_KIB",
    "RATE_LIMIT_AUTH_PER_MINUTE",
    "RATE_LIMIT_UPLOAD_PER_MINUTE",
    "RATE_LIMIT_READ_PER_MINUTE",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "STORAGE_BACKEND",
    "STORAGE_LOCAL_DIR",
    "STORAGE_SIGNING_SECRET",
    "IMAGEPROC_PUBLIC_URL",
    "SIGNED_URL_TTL_MINUTES",
    "S3_ENDPOINT",
    "S3_REGION",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_FORCE_PATH_STYLE",
    "S3_CONNECT_TIMEOUT_MS",
    "S3_REQUEST_TIMEOUT_MS",
    "S3_MAX_ATTEMPTS",
    "WORKER_INSTANCE",
    "WORKER_HEARTBEAT_SECONDS",
    "AMQP_URL",
    "QUEUE_PREFIX",
    "QUEUE_RETRY_DELAYS_MS",
    "QUEUE_DELIVERY_LIMIT",
    "UPLOAD_MAX_BYTES",
    "IMAGE_MAX_PIXELS",
    "IMAGE_MAX_FRAMES",
    "OUTPUT_AVIF",
    "IMAGEPROC_TEMP_DIR",
    "WORKER_IMAGE_CONCURRENCY",
    "WORKER_STAGE_LEASE_SECONDS",
    "WORKER_AI_CONCURRENCY",
    "AI_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "AI_INPUT_USD_PER_1K",
    "AI_OUTPUT_USD_PER_1K",
    "AI_MAX_IMAGE_DIMENSION",
    "AI_CONNECT_TIMEOUT_MS",
    "AI_REQUEST_TIMEOUT_MS",
    "AI_DAILY_BUDGET_USD",
    "AI_OCR_LANGUAGE",
    "SCHEDULER_ENABLED",
    "SCHEDULER_POLL_SECONDS",
    "SCHEDULER_RUN_LEASE_SECONDS",
    "SCHEDULE_HISTORY_DAYS",
    "RETENTION_DAYS",
    "ORPHAN_GRACE_HOURS",
    "RECOVER_PENDING_AFTER_MINUTES",
    "OUTBOX_RETENTION_HOURS",
    "SCHEDULER_BATCH_SIZE",
    "WEB_DIST_DIR",
};

bool is_known_variable(const std::string& name) {
  if (std::find_if(std::begin(kVariables), std::end(kVariables),
                   [&](const char* known) { return name == known; }) != std::end(kVariables)) {
    return true;
  }
  return std::find_if(std::begin(kScheduleSettings), std::end(kScheduleSettings),
                      [&](const ScheduleSetting& s) { return name == s.variable; }) !=
         std::end(kScheduleSettings);
}

}  // namespace

std::pair<Config, std::vector<std::string>> Config::load(const EnvLookup& env,
                                                         std::optional<std::string> toml_path) {
  std::vector<std::string> problems;
  Settings settings;
  if (!toml_path) toml_path = env("IMAGEPROC_CONFIG");
  if (toml_path && !toml_path->empty()) read_toml(*toml_path, settings, problems);
  for (const char* name : kVariables) {
    if (auto v = env(name)) settings[name] = *v;
  }
  for (const auto& schedule : kScheduleSettings) {
    if (auto v = env(schedule.variable)) settings[schedule.variable] = *v;
  }
  for (const auto& [name, value] : settings) {
    if (!is_known_variable(name)) problems.push_back(fmt::format("config file: unknown setting {}", name));
  }

  Config c;
  Binder b(settings, problems);
  b.string("IMAGEPROC_DATA_DIR", c.data_dir);
  b.host_port("IMAGEPROC_HTTP_ADDR", c.http.host, c.http.port);
  b.integer("HTTP_IO_THREADS", c.http.io_threads, 1, 64);
  b.integer("HTTP_HANDLER_THREADS", c.http.handler_threads, 1, 256);
  b.integer("HTTP_MAX_CONNECTIONS", c.http.max_connections, 1, 1000000);
  b.integer("HTTP_MAX_JSON_BODY_BYTES", c.http.max_json_body_bytes, 1024, 16 * 1024 * 1024);
  b.integer("HTTP_MAX_HEADER_BYTES", c.http.max_header_bytes, 1024, 1024 * 1024);
  b.duration("HTTP_HEADER_TIMEOUT_SECONDS", c.http.header_timeout, 1, 3600);
  b.duration("HTTP_BODY_TIMEOUT_SECONDS", c.http.body_timeout, 1, 3600);
  b.duration("HTTP_IDLE_TIMEOUT_SECONDS", c.http.idle_timeout, 1, 3600);
  b.duration("HTTP_SHUTDOWN_GRACE_SECONDS", c.http.shutdown_grace, 0, 600);
  b.list("CORS_ORIGINS", c.http.cors_origins);
  b.list("TRUSTED_PROXIES", c.http.trusted_proxies);
  b.string("WEB_DIST_DIR", c.http.web_dist_dir);
  b.string("DATABASE_URL", c.database.url);
  b.integer("DB_POOL_SIZE", c.database.pool_size, 1, 500);
  b.duration("DB_STATEMENT_TIMEOUT_MS", c.database.statement_timeout, 100, 600000);
  b.duration("DB_ACQUIRE_TIMEOUT_MS", c.database.acquire_timeout, 10, 600000);
  b.boolean("MIGRATE_ON_START", c.database.migrate_on_start);
  b.string("JWT_SECRET", c.auth.jwt_secret);
  b.string("JWT_KEY_ID", c.auth.jwt_key_id);
  b.string("JWT_PREVIOUS_KEYS", c.auth.jwt_previous_keys);
  b.string("JWT_ISSUER", c.auth.jwt_issuer);
  b.string("JWT_AUDIENCE", c.auth.jwt_audience);
  b.integer("JWT_TTL_MINUTES", c.auth.jwt_ttl_minutes, 1, 1440);
  b.integer("REFRESH_TTL_DAYS", c.auth.refresh_ttl_days, 1, 365);
  b.boolean("AUTH_COOKIE_SECURE", c.auth.cookie_secure);
  b.integer("PASSWORD_HASH_OPS", c.auth.password_ops, 2, 10);
  b.integer("PASSWORD_HASH_MEMORY_KIB", c.auth.password_memory_kib, 19 * 1024, 1024 * 1024);
  b.integer("RATE_LIMIT_AUTH_PER_MINUTE", c.rate_limits.auth_per_minute, 1, 100000);
  b.integer("RATE_LIMIT_UPLOAD_PER_MINUTE", c.rate_limits.upload_per_minute, 1, 100000);
  b.integer("RATE_LIMIT_READ_PER_MINUTE", c.rate_limits.read_per_minute, 1, 1000000);
  b.one_of("STORAGE_BACKEND", c.storage.backend, {"local", "s3"});
  b.string("STORAGE_LOCAL_DIR", c.storage.local_root);
  b.string("STORAGE_SIGNING_SECRET", c.storage.signing_secret);
  b.string("IMAGEPROC_PUBLIC_URL", c.storage.public_base_url);
  b.integer("SIGNED_URL_TTL_MINUTES", c.storage.signed_url_ttl_minutes, 1, 60);
  b.string("S3_ENDPOINT", c.storage.s3_endpoint);
  b.string("S3_REGION", c.storage.s3_region);
  b.string("S3_BUCKET", c.storage.s3_bucket);
  b.string("S3_ACCESS_KEY_ID", c.storage.s3_access_key_id);
  b.string("S3_SECRET_ACCESS_KEY", c.storage.s3_secret_access_key);
  b.boolean("S3_FORCE_PATH_STYLE", c.storage.s3_force_path_style);
  b.duration("S3_CONNECT_TIMEOUT_MS", c.storage.s3_connect_timeout, 100, 60000);
  b.duration("S3_REQUEST_TIMEOUT_MS", c.storage.s3_request_timeout, 1000, 600000);
  b.integer("S3_MAX_ATTEMPTS", c.storage.s3_max_attempts, 1, 10);
  b.string("WORKER_INSTANCE", c.worker.instance);
  b.integer("WORKER_HEARTBEAT_SECONDS", c.worker.heartbeat_seconds, 1, 300);
  b.string("AMQP_URL", c.queue.amqp_url);
  b.string("QUEUE_PREFIX", c.queue.prefix);
  b.durations("QUEUE_RETRY_DELAYS_MS", c.queue.retry_delays, 10, 3600000);
  b.integer("QUEUE_DELIVERY_LIMIT", c.queue.delivery_limit, 2, 100);
  b.integer("UPLOAD_MAX_BYTES", c.images.upload_max_bytes, 1024, 1024LL * 1024 * 1024);
  b.integer("IMAGE_MAX_PIXELS", c.images.max_pixels, 1, 1'000'000'000);
  b.integer("IMAGE_MAX_FRAMES", c.images.max_frames, 1, 100000);
  b.boolean("OUTPUT_AVIF", c.images.output_avif);
  b.string("IMAGEPROC_TEMP_DIR", c.images.temp_dir);
  b.integer("WORKER_IMAGE_CONCURRENCY", c.worker.image_concurrency, 1, 64);
  b.integer("WORKER_STAGE_LEASE_SECONDS", c.worker.stage_lease_seconds, 30, 86400);
  b.integer("WORKER_AI_CONCURRENCY", c.worker.ai_concurrency, 1, 64);
  b.string("OPENAI_API_KEY", c.ai.openai_api_key);
  b.one_of("AI_PROVIDER", c.ai.provider, {"openai", "local", "none"});
  if (c.ai.provider.empty()) c.ai.provider = c.ai.openai_api_key.empty() ? "local" : "openai";
  b.string("OPENAI_BASE_URL", c.ai.openai_base_url);
  b.string("OPENAI_MODEL", c.ai.openai_model);
  b.decimal("AI_INPUT_USD_PER_1K", c.ai.input_usd_per_1k, 0, 1000);
  b.decimal("AI_OUTPUT_USD_PER_1K", c.ai.output_usd_per_1k, 0, 1000);
  b.integer("AI_MAX_IMAGE_DIMENSION", c.ai.max_image_dimension, 256, 2048);
  b.duration("AI_CONNECT_TIMEOUT_MS", c.ai.connect_timeout, 100, 60000);
  b.duration("AI_REQUEST_TIMEOUT_MS", c.ai.request_timeout, 1000, 600000);
  b.decimal("AI_DAILY_BUDGET_USD", c.ai.daily_budget_usd, 0, 1e6);
  b.string("AI_OCR_LANGUAGE", c.ai.ocr_language);
  b.boolean("SCHEDULER_ENABLED", c.scheduler.enabled);
  b.integer("SCHEDULER_POLL_SECONDS", c.scheduler.poll_seconds, 1, 300);
  b.integer("SCHEDULER_RUN_LEASE_SECONDS", c.scheduler.run_lease_seconds, 10, 86400);
  b.integer("SCHEDULE_HISTORY_DAYS", c.scheduler.history_days, 1, 3650);
  b.integer("RETENTION_DAYS", c.scheduler.retention_days, 1, 36500);
  b.integer("ORPHAN_GRACE_HOURS", c.scheduler.orphan_grace_hours, 1, 8760);
  b.integer("RECOVER_PENDING_AFTER_MINUTES", c.scheduler.recover_pending_after_minutes, 1, 10080);
  b.integer("OUTBOX_RETENTION_HOURS", c.scheduler.outbox_retention_hours, 1, 8760);
  b.integer("SCHEDULER_BATCH_SIZE", c.scheduler.batch_size, 1, 1000);
  for (const auto& schedule : kScheduleSettings) {
    std::string cron = schedule.default_cron;
    b.string(schedule.variable, cron);
    cron = text::trim(cron);
    if (cron != "off") {
      try {
        CronExpression::parse(cron);
      } catch (const CronError& e) {
        problems.push_back(fmt::format("{} must be a 5-field cron expression (UTC) or off: {} (got '{}')",
                                       schedule.variable, e.what(), cron));
      }
    }
    c.scheduler.crons[schedule.name] = cron;
  }
  if (c.storage.local_root.empty()) c.storage.local_root = c.data_dir + "/objects";
  b.one_of("LOG_FORMAT", c.log.format, {"json", "text"});
  b.one_of("LOG_LEVEL", c.log.level, {"trace", "debug", "info", "warn", "error"});
  return {c, problems};
}

std::vector<std::string> Config::validate(Role role) const {
  std::vector<std::string> problems;
  const bool needs_db = role != Role::Up;
  const bool serves_http = role == Role::Api;
  if (needs_db && database.url.empty()) {
    problems.push_back("DATABASE_URL is required (e.g. postgresql://user:password@127.0.0.1:5432/imageproc)");
  } else if (needs_db && database.url.rfind("postgres", 0) != 0 &&
             database.url.find('=') == std::string::npos) {
    problems.push_back("DATABASE_URL must be a postgresql:// URI or a libpq key=value string");
  }
  if (serves_http) {
    if (auth.jwt_secret.empty()) {
      problems.push_back("JWT_SECRET is required (at least 32 random bytes, e.g. `openssl rand -base64 48`)");
    } else if (auth.jwt_secret.size() < 32) {
      problems.push_back("JWT_SECRET must be at least 32 bytes long");
    }
    if (auth.jwt_key_id.empty()) problems.push_back("JWT_KEY_ID must not be empty");
    for (const auto& entry : split_list(auth.jwt_previous_keys)) {
      const auto colon = entry.find(':');
      if (colon == std::string::npos || colon == 0 || entry.size() - colon - 1 < 32) {
        problems.push_back("JWT_PREVIOUS_KEYS entries must be kid:secret with a secret of at least 32 bytes");
        break;
      }
    }
    for (const auto& origin : http.cors_origins) {
      if (origin.rfind("http://", 0) != 0 && origin.rfind("https://", 0) != 0) {
        problems.push_back(
            fmt::format("CORS_ORIGINS entry '{}' must start with http:// or https://", origin));
      }
    }
  }
  if ((serves_http || role == Role::Up) && !http.web_dist_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(http.web_dist_dir, ec)) {
      problems.push_back(fmt::format(
          "WEB_DIST_DIR '{}' is not a directory (build the web app with `npm run build` in web/, then point it "
          "at web/dist/client)",
          http.web_dist_dir));
    } else if (!std::filesystem::is_regular_file(std::filesystem::path(http.web_dist_dir) / "index.html", ec)) {
      problems.push_back(fmt::format(
          "WEB_DIST_DIR '{}' has no index.html (build the web app with `npm run build` in web/)",
          http.web_dist_dir));
    }
  }
  const bool uses_broker = role == Role::Api || role == Role::Worker;
  const bool uses_storage = uses_broker || role == Role::Operator;
  if (uses_broker) {
    if (queue.amqp_url.empty()) {
      problems.push_back("AMQP_URL is required (e.g. amqp://guest:guest@127.0.0.1:5672/%2f)");
    } else if (queue.amqp_url.rfind("amqp://", 0) != 0) {
      problems.push_back("AMQP_URL must be an amqp:// URL (e.g. amqp://guest:guest@127.0.0.1:5672/%2f)");
    }
  }
  if (uses_storage && storage.backend == "s3") {
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"S3_BUCKET", &storage.s3_bucket},
          {"S3_ACCESS_KEY_ID", &storage.s3_access_key_id},
          {"S3_SECRET_ACCESS_KEY", &storage.s3_secret_access_key},
          {"S3_REGION", &storage.s3_region}}) {
      if (value->empty()) problems.push_back(fmt::format("{} is required when STORAGE_BACKEND=s3", name));
    }
    if (!storage.s3_endpoint.empty() && storage.s3_endpoint.rfind("http://", 0) != 0 &&
        storage.s3_endpoint.rfind("https://", 0) != 0) {
      problems.push_back("S3_ENDPOINT must start with http:// or https://");
    }
  }
  if (role == Role::Worker && ai.provider == "openai") {
    if (ai.openai_api_key.empty()) {
      problems.push_back(
          "OPENAI_API_KEY is required when AI_PROVIDER=openai (or set AI_PROVIDER=local|none)");
    }
    if (ai.openai_base_url.rfind("http://", 0) != 0 && ai.openai_base_url.rfind("https://", 0) != 0) {
      problems.push_back("OPENAI_BASE_URL must start with http:// or https://");
    }
    if (ai.openai_model.empty()) problems.push_back("OPENAI_MODEL must not be empty");
  }
  if (role == Role::Worker && ai.provider == "local" && ai.ocr_language.empty()) {
    problems.push_back("AI_OCR_LANGUAGE must not be empty");
  }
  if (role == Role::Worker || role == Role::Operator) {
    // A stage waiting in a retry queue is Pending on purpose; recovery must not take it for a lost message.
    const auto longest = *std::max_element(queue.retry_delays.begin(), queue.retry_delays.end());
    if (std::chrono::minutes(scheduler.recover_pending_after_minutes) <= longest) {
      problems.push_back(
          fmt::format("RECOVER_PENDING_AFTER_MINUTES ({}) must be longer than the longest "
                      "QUEUE_RETRY_DELAYS_MS delay ({} ms)",
                      scheduler.recover_pending_after_minutes, longest.count()));
    }
  }
  if (serves_http && storage.backend == "local") {
    if (storage.signing_secret.size() < 32) {
      problems.push_back("STORAGE_SIGNING_SECRET must be at least 32 bytes when STORAGE_BACKEND=local");
    }
  }
  return problems;
}

bool SchedulerConfig::is_enabled(const std::string& name) const {
  const auto it = crons.find(name);
  return it != crons.end() && it->second != "off";
}

std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string Config::redacted_summary() const {
  return fmt::format(
      "http={}:{} io_threads={} handler_threads={} database={} pool={} jwt_secret={} jwt_ttl_min={} "
      "cors_origins={} trusted_proxies={} storage={} s3_endpoint={} s3_bucket={} amqp={} queue_prefix='{}' "
      "ai={} openai_base_url={} openai_key={} log={}/{}",
      http.host, http.port, http.io_threads, http.handler_threads, redact_url(database.url),
      database.pool_size, auth.jwt_secret.empty() ? "unset" : "set", auth.jwt_ttl_minutes,
      http.cors_origins.size(), http.trusted_proxies.size(), storage.backend, storage.s3_endpoint,
      storage.s3_bucket, redact_url(queue.amqp_url), queue.prefix, ai.provider, ai.openai_base_url,
      ai.openai_api_key.empty() ? "unset" : "set", log.format, log.level);
}

}  // namespace imageproc
