// Composition root of `imageproc api`.

#include <thread>

#include "api/handlers/admin.hpp"
#include "api/handlers/auth.hpp"
#include "api/handlers/events.hpp"
#include "api/handlers/files.hpp"
#include "api/handlers/health.hpp"
#include "api/handlers/images.hpp"
#include "api/handlers/web.hpp"
#include "api/pipeline.hpp"
#include "api/server.hpp"
#include "app/commands.hpp"
#include "app/wiring.hpp"
#include "auth/accounts.hpp"
#include "core/logging.hpp"
#include "core/shutdown.hpp"
#include "db/heartbeats.hpp"
#include "db/schedules.hpp"
#include "imaging/vips_runtime.hpp"
#include "queue/event_subscriber.hpp"
#include "queue/outbox_relay.hpp"
#include "queue/queue_inspector.hpp"
#include "worker/job_purger.hpp"
#include "worker/scheduler.hpp"

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

namespace {

// Raises a StopFlag when it goes out of scope. Declared after the background threads (std::jthread joins on
// destruction), it is destroyed first, so the threads are told to stop before they are joined — also when
// start-up throws halfway.
struct StopOnExit {
  StopFlag& flag;
  ~StopOnExit() { flag.request(); }
};

}  // namespace

int run_api(const Config& config) {
  if (config.database.pool_size < config.http.handler_threads + 2) {
    log::warn("DB_POOL_SIZE is smaller than HTTP_HANDLER_THREADS + 2; handlers will wait for connections",
              {{"poolSize", config.database.pool_size}, {"handlerThreads", config.http.handler_threads}});
  }
  db::Pool pool(config.database, "imageproc-api");
  if (config.database.migrate_on_start) migrate_with_retry(pool, std::chrono::seconds(30));
  const imaging::VipsRuntime vips;  // upload header checks

  const auth::JwtService jwt(jwt_settings(config.auth));
  const auth::PasswordHasher hasher(
      {config.auth.password_ops, config.auth.password_memory_kib * std::size_t{1024}});
  db::UserRepository users(pool);
  db::RefreshTokenRepository refresh_tokens(pool);
  auth::AccountService accounts(users, refresh_tokens, hasher, jwt,
                                std::chrono::hours(24) * config.auth.refresh_ttl_days);

  const Storage storage = make_storage(config.storage);
  const queue::Topology topology = make_topology(config.queue);
  const queue::AmqpUrl broker = queue::parse_amqp_url(config.queue.amqp_url);
  db::JobRepository jobs(pool, job_routes(topology));
  const api::UrlIssuer urls(*storage.store, std::chrono::minutes(config.storage.signed_url_ttl_minutes));
  worker::BackgroundPurger purger(jobs, *storage.store);
  api::EventHub hub([&urls](const contracts::JobSummaryData& s) { return api::job_summary_json(s, urls); });

  StopFlag background_stop;
  queue::OutboxRelay relay(pool, config.database, broker, topology);
  queue::EventSubscriber subscriber(broker, topology);
  std::jthread relay_thread([&] { relay.run(background_stop); });
  std::jthread events_thread([&] {
    subscriber.run(
        background_stop, [&hub](std::string_view body) { hub.dispatch(body); }, [&hub] { hub.resync_all(); });
  });
  const StopOnExit stop_background{background_stop};

  api::Metrics metrics;
  api::Router router;
  api::AuthHandlers auth_handlers(accounts, config.auth.cookie_secure);
  auth_handlers.register_routes(router);
  api::ImagesHandlers images(jobs, *storage.store, urls, api::UploadSettings::from(config.images),
                             [&purger](const db::JobRecord& job) { purger.enqueue(job); });
  images.register_routes(router);
  api::EventsHandlers events(hub);
  events.register_routes(router);
  db::HeartbeatRepository heartbeats(pool);
  db::ScheduleRepository schedules(pool);
  // So an admin can request a run before any worker has started (the worker then takes its configuration).
  try {
    schedules.sync(worker::schedule_definitions(config.scheduler), /*overwrite=*/false);
  } catch (const std::exception& e) {
    log::warn("could not write the schedules; workers will", {{"error", e.what()}});
  }
  queue::QueueInspector inspector(broker, topology);
  // Workers beat every WORKER_HEARTBEAT_SECONDS; three missed beats make one stale.
  api::AdminHandlers admin(
      jobs, heartbeats, schedules, [&inspector] { return inspector.inspect(); },
      3 * config.worker.heartbeat_seconds);
  admin.register_routes(router);
  std::optional<api::FilesHandlers> files;
  if (storage.local) {
    files.emplace(*storage.local, storage.local->signer());
    files->register_routes(router);
  }
  api::HealthHandlers health({{"database", [&pool] { pool.acquire()->exec("SELECT 1"); }},
                              {"broker",
                               [&subscriber] {
                                 if (!subscriber.connected())
                                   throw std::runtime_error("not connected to RabbitMQ");
                               }},
                              {"storage", [&storage] { storage.store->check_ready(); }}},
                             metrics, [&admin] { return admin.metrics_text(); });
  health.register_routes(router);
  std::optional<api::WebHandlers> web;
  if (!config.http.web_dist_dir.empty()) {
    // Signed URLs of an S3 store (or of the local one with IMAGEPROC_PUBLIC_URL) are absolute: the app's
    // pages must be allowed to show images from there. A probe key is signed locally; nothing is fetched.
    std::vector<std::string> image_origins;
    if (auto origin = api::url_origin(urls.url("originals/csp-origin-probe")); !origin.empty()) {
      image_origins.push_back(origin);
    }
    web.emplace(config.http.web_dist_dir, image_origins);
    web->register_routes(router);
    log::info("serving the web app", {{"dir", config.http.web_dist_dir}, {"imageOrigins", image_origins}});
  }

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
