#include "db/heartbeats.hpp"

namespace imageproc::db {
namespace {
constexpr const char* kUpsert = R"(
INSERT INTO worker_heartbeats (instance, kind, in_flight) VALUES ($1, $2, $3)
ON CONFLICT (instance) DO UPDATE SET seen_at = now(), in_flight = EXCLUDED.in_flight, kind = EXCLUDED.kind)";
constexpr const char* kDelete = "DELETE FROM worker_heartbeats WHERE instance = $1";
constexpr const char* kRemoveStale =
    "DELETE FROM worker_heartbeats WHERE seen_at < now() - make_interval(secs => $1::int)";
constexpr const char* kList = R"(
SELECT instance, kind, started_at, seen_at, in_flight, seen_at > now() - make_interval(secs => $1::int)
FROM worker_heartbeats ORDER BY instance)";
}  // namespace

void HeartbeatRepository::beat(const std::string& instance, const std::string& kind, int in_flight) {
  auto conn = pool_.acquire();
  conn->exec(kUpsert, params(instance, kind, in_flight));
}

void HeartbeatRepository::remove(const std::string& instance) {
  auto conn = pool_.acquire();
  conn->exec(kDelete, params(instance));
}

int HeartbeatRepository::remove_stale(int older_than_seconds) {
  auto conn = pool_.acquire();
  return conn->exec(kRemoveStale, params(older_than_seconds)).affected();
}

std::vector<WorkerHeartbeat> HeartbeatRepository::list(int stale_after_seconds) {
  auto conn = pool_.acquire();
  const auto r = conn->exec(kList, params(stale_after_seconds));
  std::vector<WorkerHeartbeat> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.get(i, 0), r.get(i, 1), iso_timestamp(r.get(i, 2)), iso_timestamp(r.get(i, 3)),
                   static_cast<int>(r.get_int(i, 4)), r.get_bool(i, 5)});
  }
  return out;
}

}  // namespace imageproc::db
