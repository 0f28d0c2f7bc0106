// Sustained load (issue 9): for LOAD_SECONDS (default 30; `make chaos`: 600) one api and one worker take a
// steady mix of uploads and reads (list, stats, detail, thumbnails, me). Every response must be a success,
// each process's memory must show no growth trend and its file descriptors stay flat, no temp file may be
// left once the work is done, and both processes must exit cleanly (0: no leak reported by LeakSanitizer).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "images_fixture.hpp"

namespace imageproc::testing {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoi(v) : fallback;
}

long vm_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long open_fds(pid_t pid) {
  long n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// Least-squares slope of `values` per sample.
double slope(const std::vector<double>& values) {
  const double n = static_cast<double>(values.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double x = static_cast<double>(i);
    sx += x;
    sy += values[i];
    sxx += x * x;
    sxy += x * values[i];
  }
  const double denominator = n * sxx - sx * sx;
  return denominator == 0 ? 0 : (n * sxy - sx * sy) / denominator;
}

struct Series {
  std::vector<double> rss_mib;
  std::vector<long> fds;
};

class SustainedLoadTest : public ImagesTest {};

TEST_F(SustainedLoadTest, MixedReadsAndUploadsKeepErrorsAtZeroAndMemoryAndDescriptorsFlat) {
  const int seconds = env_int("LOAD_SECONDS", 30);
  const fs::path temp = scratch_.path() / "tmp";
  fs::create_directories(temp);
  // A small ASan quarantine, so freed memory is reused soon and RSS shows the program's own trend.
  const std::map<std::string, std::string> common = {{"IMAGEPROC_TEMP_DIR", temp.string()},
                                                     {"ASAN_OPTIONS", "quarantine_size_mb=16"},
                                                     {"RATE_LIMIT_READ_PER_MINUTE", "1000000"},
                                                     {"RATE_LIMIT_UPLOAD_PER_MINUTE", "100000"}};
  start(common, /*with_worker=*/true, common);
  const auto token = register_user("load@example.com");
  std::vector<std::string> images;
  for (int w : {256, 320, 400}) images.push_back(jpeg(picture(w, w * 3 / 4)));

  std::mutex mutex;
  std::vector<std::string> ids;
  std::map<std::string, int> errors;
  std::atomic<long> requests{0};
  std::atomic<bool> running{true};
  const auto record = [&](const std::string& what, const HttpResponse& r, long want) {
    ++requests;
    if (r.status != want) {
      std::lock_guard lock(mutex);
      ++errors[fmt::format("{} → {}{}", what, r.status,
                           r.transport_error.empty() ? "" : " " + r.transport_error)];
    }
  };
  std::vector<std::jthread> clients;
  clients.emplace_back([&] {
    for (int n = 0; running; ++n) {
      const auto r = upload(token, "load.jpg", images[n % images.size()]);
      record("upload", r, 202);
      if (r.status == 202) {
        std::lock_guard lock(mutex);
        ids.push_back(r.json()["id"].get<std::string>());
      }
      std::this_thread::sleep_for(250ms);
    }
  });
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c + 1));
      while (running) {
        record("list", api_->get("/api/images?page=1&pageSize=20", bearer(token)), 200);
        record("stats", api_->get("/api/images/stats", bearer(token)), 200);
        record("me", api_->get("/api/auth/me", bearer(token)), 200);
        std::string id;
        {
          std::lock_guard lock(mutex);
          if (!ids.empty()) id = ids[rng() % ids.size()];
        }
        if (!id.empty()) {
          const auto d = api_->get("/api/images/" + id, bearer(token));
          record("detail", d, 200);
          if (d.status == 200 && d.json()["thumbnails"].contains("thumb-128")) {
            record("thumbnail", fetch(d.json()["thumbnails"]["thumb-128"].get<std::string>()), 200);
          }
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }

  const pid_t api_pid = api_->process().process().pid();
  const pid_t worker_pid = worker_->process().process().pid();
  Series api_series, worker_series;
  const auto started = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - started < std::chrono::seconds(seconds)) {
    api_series.rss_mib.push_back(static_cast<double>(vm_rss_kib(api_pid)) / 1024);
    api_series.fds.push_back(open_fds(api_pid));
    worker_series.rss_mib.push_back(static_cast<double>(vm_rss_kib(worker_pid)) / 1024);
    worker_series.fds.push_back(open_fds(worker_pid));
    std::this_thread::sleep_for(1s);
  }
  running = false;
  clients.clear();

  // Let the worker finish what was uploaded, then nothing may be left in the scratch directory.
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  while (db_.scalar("SELECT count(*) FROM jobs WHERE status IN ('Pending', 'Processing')") != "0" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM jobs WHERE status <> 'Completed'"), "0");
  std::this_thread::sleep_for(1s);
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(temp)) left.push_back(e.path().string());
  EXPECT_TRUE(left.empty()) << left.size() << " temp entries left, e.g. "
                            << (left.empty() ? "" : left.front());

  // The trend after the first third (start-up, caches, the pool filling): growth over the window.
  const auto judge = [&](const char* name, const Series& s, pid_t pid) {
    const std::size_t from = s.rss_mib.size() / 3;
    const std::vector<double> tail(s.rss_mib.begin() + static_cast<long>(from), s.rss_mib.end());
    const double growth = slope(tail) * static_cast<double>(tail.size());
    const double mean = std::accumulate(tail.begin(), tail.end(), 0.0) / static_cast<double>(tail.size());
    const long fd_base = s.fds[from];
    const long fd_max = *std::max_element(s.fds.begin() + static_cast<long>(from), s.fds.end());
    const long fd_now = open_fds(pid);
    std::printf(
        "load: %s RSS mean %.0f MiB, trend %+.1f MiB over the last %zu s; fds %ld at %zu s, at most %ld, %ld "
        "after\n",
        name, mean, growth, tail.size(), fd_base, from, fd_max, fd_now);
    EXPECT_LT(growth, std::max(32.0, mean * 0.10)) << name << " memory grows";
    EXPECT_LE(fd_max, fd_base + 16) << name << " file descriptors grow";
    EXPECT_LE(fd_now, fd_base + 4) << name << " file descriptors left open";
  };
  judge("api", api_series, api_pid);
  judge("worker", worker_series, worker_pid);

  long error_total = 0;
  for (const auto& [what, n] : errors) {
    error_total += n;
    ADD_FAILURE() << n << " × " << what;
  }
  std::printf("load: %d s, %ld requests, %zu uploads, %ld errors\n", seconds, requests.load(), ids.size(),
              error_total);
  EXPECT_GT(ids.size(), static_cast<std::size_t>(seconds));

  // A clean stop: exit status 0, which also means LeakSanitizer found nothing at exit.
  for (auto* p : {&api_->process().process(), &worker_->process().process()}) {
    p->stop(SIGTERM, 60s);
    EXPECT_EQ(p->exit_code().value_or(-1), 0) << "exit status of pid " << p->pid();
  }
}

}  // namespace
}  // namespace imageproc::testing
