// The chaos suite (issue 9): the real stack — 2 `imageproc api` and 2 `imageproc worker` processes sharing a
// PostgreSQL, a RabbitMQ node and s3rver of this test's own, all on loopback — under a steady stream of
// uploads while faults are injected at seeded moments: a worker SIGKILLed, an API SIGKILLed, RabbitMQ
// restarted, PostgreSQL restarted, the object store failing for a while (a fault-injecting proxy in front of
// s3rver). Afterwards every accepted upload (202) must be Completed with exactly one set of outputs, no job
// stuck, no duplicate row, no dead letter, and the only objects without a job the originals of uploads that
// never got their 202 (swept by sweep-orphan-objects). Prints uploads accepted, completed, lost, duplicates
// and faults.
//
// CHAOS_SECONDS (default 75: each fault kind once) and CHAOS_SEED (default 1) choose the run; `make chaos`
// runs it for 10 minutes with faults at random.
//
// Also here: the sustained-load test (LOAD_SECONDS, default 30): mixed reads and uploads against one api and
// one worker with zero errors, memory and file descriptors flat, no temp files left, no leak at exit.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "db/heartbeats.hpp"
#include "db/outbox.hpp"
#include "db/refresh_tokens.hpp"
#include "fault_proxy.hpp"
#include "images_fixture.hpp"
#include "storage/s3/s3_store.hpp"
#include "worker/scheduled_jobs.hpp"

namespace imageproc::testing {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoi(v) : fallback;
}

// PostgreSQL, RabbitMQ and s3rver of this test's own (scripts/services), so restarting them disturbs no other
// test. Their URLs replace the shared services' in this process's environment.
class OwnServices {
 public:
  // scripts/services picks a fresh /tmp directory (the postgres user must be able to reach it).
  OwnServices() {
    const auto out = run_command("'" IMAGEPROC_SOURCE_DIR "/scripts/services' start 2>/dev/null");
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("export ", 0) != 0) continue;
      const auto eq = line.find('=');
      std::string value = line.substr(eq + 1);
      std::erase(value, '\\');
      std::erase(value, '\'');
      vars_[line.substr(7, eq - 7)] = value;
    }
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
    dir_ = vars_.at("IMAGEPROC_TEST_SERVICES_DIR");
  }
  ~OwnServices() {
    run_command("'" IMAGEPROC_SOURCE_DIR "/scripts/services' stop '" + dir_.string() + "' 2>/dev/null");
  }
  void restart(const std::string& service) {
    run_command("'" IMAGEPROC_SOURCE_DIR "/scripts/services' restart " + service + " '" + dir_.string() +
                "' 2>/dev/null");
  }
  const std::string& var(const std::string& name) const { return vars_.at(name); }

 private:
  fs::path dir_;
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::string> saved_;  // the environment before, restored afterwards
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string multipart_body(const std::string& bytes) {
  return multipart("chaos-boundary", "chaos.jpg", "image/jpeg", bytes);
}

HttpResponse upload_to(const std::string& base, const std::string& token, const std::string& bytes) {
  return http(base, {"POST",
                     "/api/images/upload",
                     multipart_body(bytes),
                     {{"Authorization", "Bearer " + token},
                      {"Content-Type", "multipart/form-data; boundary=chaos-boundary"}},
                     /*may_fail=*/true});
}

long proc_status_kib(pid_t pid, const char* field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

class ChaosTest : public VipsSuite {};

TEST_F(ChaosTest, EveryAcceptedUploadCompletesExactlyOnceThroughKillsRestartsAndStoreOutages) {
  const int seconds = env_int("CHAOS_SECONDS", 75);
  const auto seed = static_cast<std::uint32_t>(env_int("CHAOS_SEED", 1));
  std::mt19937 rng(seed);
  const TempDir scratch = TempDir::create(fs::temp_directory_path(), "chaos-");
  OwnServices services;
  FaultProxy proxy(std::stoi(services.var("IMAGEPROC_TEST_S3_ENDPOINT")
                                 .substr(services.var("IMAGEPROC_TEST_S3_ENDPOINT").rfind(':') + 1)));
  TestDatabase db;

  auto env = stack_env(db);
  env.erase("STORAGE_LOCAL_DIR");
  const std::map<std::string, std::string> overrides = {
      {"STORAGE_BACKEND", "s3"},
      {"S3_ENDPOINT", "http://127.0.0.1:" + std::to_string(proxy.port())},
      {"S3_BUCKET", services.var("IMAGEPROC_TEST_S3_BUCKET")},
      {"S3_ACCESS_KEY_ID", services.var("IMAGEPROC_TEST_S3_ACCESS_KEY_ID")},
      {"S3_SECRET_ACCESS_KEY", services.var("IMAGEPROC_TEST_S3_SECRET_ACCESS_KEY")},
      {"S3_REGION", "us-east-1"},
      {"S3_FORCE_PATH_STYLE", "true"},
      {"S3_REQUEST_TIMEOUT_MS", "5000"},
      {"S3_CONNECT_TIMEOUT_MS", "1000"},
      // Retries outlast every fault window (the longest, a broker restart, takes ~10 s).
      {"QUEUE_RETRY_DELAYS_MS", "1000,5000,15000,30000"},
      {"RATE_LIMIT_UPLOAD_PER_MINUTE", "100000"},
      {"RATE_LIMIT_READ_PER_MINUTE", "100000"},
      {"WORKER_HEARTBEAT_SECONDS", "2"},
      // The self-healing path at test speed: stuck stages are looked for every minute.
      {"WORKER_STAGE_LEASE_SECONDS", "30"},
      {"RECOVER_PENDING_AFTER_MINUTES", "1"},
      {"SCHEDULE_RECOVER_STUCK_JOBS", "* * * * *"},
      {"SCHEDULE_SWEEP_ORPHAN_OBJECTS", "off"},
      {"SCHEDULER_POLL_SECONDS", "2"},
  };
  for (const auto& [k, v] : overrides) env.insert_or_assign(k, v);

  const std::array<int, 2> api_ports = {free_port(), free_port()};
  std::array<std::unique_ptr<ApiServer>, 2> apis;
  std::array<std::unique_ptr<WorkerProcess>, 2> workers;
  const auto start_api = [&](int i) {
    auto e = env;
    e["IMAGEPROC_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(api_ports[i]);
    return std::make_unique<ApiServer>(db, e);
  };
  const auto start_worker = [&] { return std::make_unique<WorkerProcess>(db, env); };
  for (int i = 0; i < 2; ++i) apis[i] = start_api(i);
  for (int i = 0; i < 2; ++i) workers[i] = start_worker();
  const auto base = [&](int i) { return "http://127.0.0.1:" + std::to_string(api_ports[i]); };

  std::vector<std::string> tokens;
  std::map<std::string, std::string> user_of;  // token → user id
  for (int i = 0; i < 2; ++i) {
    auto r = http(base(0), {"POST",
                            "/api/auth/register",
                            nlohmann::json({{"name", "Chaos"},
                                            {"email", fmt::format("chaos{}@example.com", i)},
                                            {"password", "correct horse battery"}})
                                .dump(),
                            {{"Content-Type", "application/json"}}});
    ASSERT_EQ(r.status, 201) << r.body;
    tokens.push_back(r.json()["token"].get<std::string>());
    user_of[tokens.back()] = r.json()["userId"].get<std::string>();
  }
  std::vector<std::string> images;
  for (int w : {240, 320, 400, 480}) images.push_back(jpeg(picture(w, w * 3 / 4)));

  // --- load ---
  struct Tally {
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> accepted;  // id, token
    std::map<long, int> refused;                                // status → count
    int unanswered = 0;                                         // connection failed on both APIs
    int failed_attempts = 0;  // attempts without an answer (then retried on the other API)
  } tally;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::atomic<bool> loading{true};
  std::vector<std::jthread> uploaders;
  for (int u = 0; u < 2; ++u) {
    uploaders.emplace_back([&, u] {
      std::mt19937 local(seed * 31 + u);
      for (int n = 0; loading; ++n) {
        const auto& bytes = images[local() % images.size()];
        // A load balancer's view: try one API, and the other when the first does not answer.
        HttpResponse r;
        int failed_attempts = 0;
        for (int attempt = 0; attempt < 2 && r.status == 0; ++attempt) {
          r = upload_to(base((n + u + attempt) % 2), tokens[u], bytes);
          if (r.status == 0) ++failed_attempts;
        }
        {
          std::lock_guard lock(tally.mutex);
          tally.failed_attempts += failed_attempts;
          if (r.status == 202) {
            tally.accepted.emplace_back(r.json()["id"].get<std::string>(), tokens[u]);
          } else if (r.status == 0) {
            ++tally.unanswered;
          } else {
            ++tally.refused[r.status];
          }
        }
        std::this_thread::sleep_for(300ms);
      }
    });
  }

  // --- faults ---
  enum Fault { KillWorker, KillApi, RestartBroker, RestartDatabase, StoreOutage };
  const char* fault_names[] = {"worker SIGKILL", "api SIGKILL", "RabbitMQ restart", "PostgreSQL restart",
                               "store outage"};
  std::map<std::string, int> injected;
  std::vector<Fault> plan = {KillWorker, KillApi, RestartBroker, RestartDatabase, StoreOutage};
  std::shuffle(plan.begin(), plan.end(), rng);
  std::this_thread::sleep_for(5s);  // let the stream start
  for (std::size_t i = 0; std::chrono::steady_clock::now() + 15s < deadline; ++i) {
    const Fault f = i < plan.size() ? plan[i] : static_cast<Fault>(rng() % 5);
    std::printf("chaos: +%llds %s\n",
                static_cast<long long>(seconds - std::chrono::duration_cast<std::chrono::seconds>(
                                                     deadline - std::chrono::steady_clock::now())
                                                     .count()),
                fault_names[f]);
    std::fflush(stdout);
    switch (f) {
      case KillWorker: {
        const auto w = rng() % 2;
        workers[w]->process().process().signal(SIGKILL);
        workers[w]->process().process().wait(10s);
        std::this_thread::sleep_for(3s);
        workers[w] = start_worker();
        break;
      }
      case KillApi: {
        const auto a = rng() % 2;
        apis[a]->process().process().signal(SIGKILL);
        apis[a]->process().process().wait(10s);
        std::this_thread::sleep_for(3s);
        apis[a] = start_api(static_cast<int>(a));
        break;
      }
      case RestartBroker:
        services.restart("rabbitmq");
        break;
      case RestartDatabase:
        services.restart("postgres");
        break;
      case StoreOutage:
        proxy.fail(true);
        std::this_thread::sleep_for(6s);
        proxy.fail(false);
        break;
    }
    ++injected[fault_names[f]];
    std::this_thread::sleep_for(std::chrono::milliseconds(4000 + rng() % 4000));
  }
  while (std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(200ms);
  loading = false;
  uploaders.clear();

  // --- settle: every job leaves Pending/Processing (bounded) ---
  const std::string unfinished_sql =
      "SELECT count(*) FROM jobs WHERE status IN ('Pending', 'Processing') OR ai_status IN ('Pending', "
      "'Processing')";
  const auto settle_deadline = std::chrono::steady_clock::now() + 240s;
  while (db.scalar(unfinished_sql) != "0" && std::chrono::steady_clock::now() < settle_deadline)
    std::this_thread::sleep_for(1s);
  EXPECT_EQ(db.scalar(unfinished_sql), "0") << "jobs stuck after the faults";

  // --- verify ---
  std::map<std::string, std::pair<std::string, std::string>> rows;  // id → status, ai_status
  {
    db::Connection conn(db.url(), 30s, "chaos-verify");
    const auto r = conn.exec("SELECT id::text, status, ai_status FROM jobs");
    for (int i = 0; i < r.rows(); ++i) rows[r.get(i, 0)] = {r.get(i, 1), r.get(i, 2)};
  }
  StorageConfig direct;  // s3rver itself, not the proxy
  direct.backend = "s3";
  direct.s3_endpoint = services.var("IMAGEPROC_TEST_S3_ENDPOINT");
  direct.s3_bucket = services.var("IMAGEPROC_TEST_S3_BUCKET");
  direct.s3_access_key_id = services.var("IMAGEPROC_TEST_S3_ACCESS_KEY_ID");
  direct.s3_secret_access_key = services.var("IMAGEPROC_TEST_S3_SECRET_ACCESS_KEY");
  direct.s3_force_path_style = true;
  storage::S3ObjectStore store(direct);
  const auto keys_under = [&](const std::string& prefix) {
    std::vector<std::string> keys;
    std::optional<std::string> token;
    do {
      auto page = store.list(prefix, token);
      for (auto& o : page.objects) keys.push_back(o.key);
      token = page.next_token;
    } while (token);
    return keys;
  };

  int completed = 0, lost = 0, wrong_outputs = 0;
  std::set<std::string> accepted_ids;
  for (const auto& [id, token] : tally.accepted) {
    accepted_ids.insert(id);
    const auto it = rows.find(id);
    if (it == rows.end() || it->second.first != "Completed" || it->second.second != "Skipped") {
      ++lost;
      ADD_FAILURE() << "accepted upload " << id << " ended "
                    << (it == rows.end() ? "without a row" : it->second.first + "/" + it->second.second);
      continue;
    }
    ++completed;
    const auto outputs = keys_under(contracts::processed_prefix(user_of.at(token), id));
    if (outputs.size() != 4) {
      ++wrong_outputs;
      ADD_FAILURE() << id << " has " << outputs.size() << " outputs";
    }
  }
  // Rows nobody got a 202 for come from uploads whose answer was lost with their API; each must be complete
  // too.
  int unacknowledged = 0;
  for (const auto& [id, state] : rows) {
    if (accepted_ids.contains(id)) continue;
    ++unacknowledged;
    EXPECT_EQ(state.first, "Completed") << "unacknowledged job " << id;
  }
  const int duplicates = std::max(0, unacknowledged - tally.unanswered);
  // Objects without a row: only originals of uploads stopped before their row was written.
  std::set<std::string> orphans;
  for (const auto& prefix :
       {std::string(contracts::kOriginalsPrefix), std::string(contracts::kProcessedPrefix)}) {
    for (const auto& key : keys_under(prefix)) {
      const auto owner = contracts::owner_of_key(key);
      if (!owner || !rows.contains(owner->job_id)) orphans.insert(key);
    }
  }
  for (const auto& key : orphans) {
    if (key.rfind(contracts::kOriginalsPrefix, 0) != 0) ADD_FAILURE() << "orphan output " << key;
  }
  int refused_total = 0;
  for (const auto& [status, count] : tally.refused) refused_total += count;
  EXPECT_LE(static_cast<int>(orphans.size()), refused_total + tally.failed_attempts)
      << "more orphan originals than upload attempts that failed";
  // The sweep removes them (no grace here: nothing is uploading any more).
  {
    DatabaseConfig dc;
    dc.url = db.url();
    dc.pool_size = 2;
    db::Pool pool(dc, "chaos-sweep");
    db::JobRepository jobs(pool, {"unused", "unused", "unused", "unused"});  // the sweep publishes nothing
    db::OutboxRepository outbox(pool);
    db::RefreshTokenRepository tokens_repo(pool);
    db::HeartbeatRepository heartbeats(pool);
    worker::MaintenanceSettings m;
    m.orphan_grace_hours = 0;
    worker::ScheduledJobs scheduled(jobs, outbox, tokens_repo, heartbeats, store, m);
    StopFlag stop;
    worker::RunContext ctx(stop, {});
    scheduled.sweep_orphan_objects(ctx);
    EXPECT_EQ(ctx.stats()["orphansDeleted"], static_cast<std::int64_t>(orphans.size()));
  }
  // Dead letters.
  const auto topology = queue::Topology::make(db.name() + ".", {1000ms, 5000ms, 15000ms, 30000ms});
  queue::AmqpConnection amqp(queue::parse_amqp_url(services.var("IMAGEPROC_TEST_AMQP_URL")), "chaos-verify");
  const auto dead = amqp.queue_depth(topology.image_jobs.dead_letter_queue) +
                    amqp.queue_depth(topology.ai_jobs.dead_letter_queue);
  EXPECT_EQ(dead, 0u);
  for (const auto& status : tally.refused) EXPECT_EQ(status.first, 503) << "refused with " << status.first;

  std::string faults;
  int fault_total = 0;
  for (const auto& [name, count] : injected) {
    faults += fmt::format("{}{} {}", faults.empty() ? "" : ", ", count, name);
    fault_total += count;
  }
  std::printf(
      "chaos: seed %u, %d s, uploads accepted %zu, completed %d, lost %d, duplicates %d, wrong output sets "
      "%d, "
      "refused %d (503), unanswered %d (attempts without an answer %d), unacknowledged rows %d, "
      "orphan originals swept %zu, dead letters %u, faults injected %d (%s)\n",
      seed, seconds, tally.accepted.size(), completed, lost, duplicates, wrong_outputs, refused_total,
      tally.unanswered, tally.failed_attempts, unacknowledged, orphans.size(), dead, fault_total,
      faults.c_str());
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(wrong_outputs, 0);
  EXPECT_GE(fault_total, 5);
  EXPECT_GT(tally.accepted.size(), 20u);
}

}  // namespace
}  // namespace imageproc::testing
