// Micro-benchmarks of the request path's pure pieces (Google Benchmark): token verification, routing, rate
// limiting and password hashing — the per-request CPU cost the API adds before any database work.
// Run with `make bench`.

#include <benchmark/benchmark.h>

#include "api/rate_limiter.hpp"
#include "api/router.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"

namespace {

using namespace imageproc;

auth::JwtService make_jwt() {
  return auth::JwtService({"imageproc", "imageproc-api", {{"k1", std::string(48, 'k')}}, std::chrono::minutes(15)});
}

void BM_JwtIssue(benchmark::State& state) {
  const auto jwt = make_jwt();
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(jwt.issue("0191c0de-0000-7000-8000-000000000001", "user", now));
}
BENCHMARK(BM_JwtIssue);

void BM_JwtVerify(benchmark::State& state) {
  const auto jwt = make_jwt();
  const auto now = std::chrono::system_clock::now();
  const auto token = jwt.issue("0191c0de-0000-7000-8000-000000000001", "user", now).token;
  for (auto _ : state) benchmark::DoNotOptimize(jwt.verify(token, now));
}
BENCHMARK(BM_JwtVerify);

void BM_RouterMatch(benchmark::State& state) {
  api::Router router;
  auto h = [](api::Request&) { return api::Response::no_content(); };
  for (const char* p : {"/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout",
                        "/api/auth/me", "/api/images", "/api/images/stats", "/api/images/{id}",
                        "/api/images/{id}/retry", "/api/images/events", "/healthz", "/readyz", "/metrics"}) {
    router.add("GET", p, h);
  }
  for (auto _ : state) benchmark::DoNotOptimize(router.match("GET", "/api/images/0191c0de-0000-7000/retry"));
}
BENCHMARK(BM_RouterMatch);

void BM_RateLimiterAcquire(benchmark::State& state) {
  api::RateLimiter limiter(1'000'000'000);
  for (auto _ : state) benchmark::DoNotOptimize(limiter.acquire("user-1"));
}
BENCHMARK(BM_RateLimiterAcquire);

void BM_PasswordVerify(benchmark::State& state) {
  const auth::PasswordHasher hasher;
  const auto stored = hasher.hash("correct horse battery");
  for (auto _ : state) benchmark::DoNotOptimize(hasher.verify("correct horse battery", stored));
}
BENCHMARK(BM_PasswordVerify)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
