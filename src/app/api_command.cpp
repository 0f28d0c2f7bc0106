// Composition root of `imageproc api`.

#include <thread>

#include "api/handlers/auth.hpp"
#include "api/handlers/files.hpp"
#include "api/handlers/health.hpp"
#include "api/pipeline.hpp"
#include "api/server.hpp"
#include "app/commands.hpp"
#include "auth/accounts.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "storage/local/local_store.hpp"
#include "storage/s3/s3_store.hpp"

namespace imageproc::app {

auth::JwtSettings jwt_settings(const AuthConfig& c) {
  auth::JwtSettings s;
  s.issuer = c.jwt_issuer;
  s.audience = c.jwt_audience;
  s.ttl = std::chrono::minutes(c.jwt_ttl_minutes);
  s.keys.push_back({c.jwt_key_id, c.jwt_secret});
  std::string rest = c.jwt_previous_keys;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string entry = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    const auto colon = entry.find(':');
    if (colon != std::string::npos) s.keys.push_back({entry.substr(0, colon), entry.substr(colon + 1)});
  }
  return s;
}

// Applies migrations, retrying while the database is still starting (orchestrators start everything at once).
void migrate_with_retry(db::Pool& pool, std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (int attempt = 1;; ++attempt) {
    try {
      auto conn = pool.acquire();
      const auto report = db::run_migrations(*conn, db::embedded_migrations());
      log::info("database schema ready",
                {{"version", report.current_version}, {"applied", report.applied.size()}});
      return;
    } catch (const AppError& e) {
      if (e.status() != 503 || std::chrono::steady_clock::now() >= deadline) throw;
      log::warn("database not reachable yet; retrying", {{"attempt", attempt}, {"error", e.internal()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(2000, 200 * attempt)));
    }
  }
}

// The configured object store. `local` is set when it is the local-disk backend, whose signed URLs this API
// serves itself at /files/.
struct Storage {
  std::unique_ptr<storage::ObjectStore> store;
  storage::LocalObjectStore* local = nullptr;
};

Storage make_storage(const StorageConfig& config) {
  Storage s;
  if (config.backend == "s3") {
    s.store = std::make_unique<storage::S3ObjectStore>(config);
  } else {
    auto local = std::make_unique<storage::LocalObjectStore>(
        config.local_root, storage::UrlSigner(config.signing_secret, config.public_base_url));
    s.local = local.get();
    s.store = std::move(local);
  }
  return s;
}

int run_api(const Config& config) {
  if (config.database.pool_size < config.http.handler_threads) {
    log::warn("DB_POOL_SIZE is smaller than HTTP_HANDLER_THREADS; handlers will wait for connections",
              {{"poolSize", config.database.pool_size}, {"handlerThreads", config.http.handler_threads}});
  }
  db::Pool pool(config.database, "imageproc-api");
  if (config.database.migrate_on_start) migrate_with_retry(pool, std::chrono::seconds(30));

  const auth::JwtService jwt(jwt_settings(config.auth));
  const auth::PasswordHasher hasher(
      {config.auth.password_ops, config.auth.password_memory_kib * std::size_t{1024}});
  db::UserRepository users(pool);
  db::RefreshTokenRepository refresh_tokens(pool);
  auth::AccountService accounts(users, refresh_tokens, hasher, jwt,
                                std::chrono::hours(24) * config.auth.refresh_ttl_days);

  api::Metrics metrics;
  api::Router router;
  api::AuthHandlers auth_handlers(accounts, config.auth.cookie_secure);
  auth_handlers.register_routes(router);
  const Storage storage = make_storage(config.storage);
  std::optional<api::FilesHandlers> files;
  if (storage.local) {
    files.emplace(*storage.local, storage.local->signer());
    files->register_routes(router);
  }
  api::HealthHandlers health({{"database", [&pool] { pool.acquire()->exec("SELECT 1"); }},
                              {"storage", [&storage] { storage.store->check_ready(); }}},
                             metrics);
  health.register_routes(router);

  api::Pipeline pipeline(std::move(router), config.http, config.rate_limits, jwt, metrics);
  api::ServerOptions options;
  options.host = config.http.host;
  options.port = config.http.port;
  options.io_threads = config.http.io_threads;
  options.handler_threads = config.http.handler_threads;
  options.max_header_bytes = config.http.max_header_bytes;
  options.header_timeout = config.http.header_timeout;
  options.body_timeout = config.http.body_timeout;
  options.idle_timeout = config.http.idle_timeout;
  options.shutdown_grace = config.http.shutdown_grace;
  options.max_connections = config.http.max_connections;
  options.temp_dir = config.images.temp_dir;
  api::HttpServer server(options, pipeline);
  server.listen();
  log::info("api listening", {{"host", config.http.host}, {"port", server.bound_port()}});
  server.run();
  log::info("api stopped");
  return 0;
}

int run_migrate(const Config& config) {
  db::Pool pool(config.database, "imageproc-migrate");
  migrate_with_retry(pool, std::chrono::seconds(30));
  return 0;
}

int run_user_promote(const Config& config, const std::string& email) {
  db::Pool pool(config.database, "imageproc-cli");
  db::UserRepository users(pool);
  if (!users.set_role(email, "admin")) {
    log::error("no user with this email", {{"email", email}});
    return 1;
  }
  log::info("user promoted to admin", {{"email", email}});
  return 0;
}

}  // namespace imageproc::app
