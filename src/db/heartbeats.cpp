#include "db/heartbeats.hpp"

namespace imageproc::db {
namespace {
constexpr const char* kUpsert = R"(
INSERT INTO worker_heartbeats (instance, kind, in_flight) VALUES ($1, $2, $3)
ON CONFLICT (instance) DO UPDATE SET seen_at = now(), in_flight = EXCLUDED.in_flight, kind = EXCLUDED.kind)";
constexpr const char* kDelete = "DELETE FROM worker_heartbeats WHERE instance = $1";
}  // namespace

void HeartbeatRepository::beat(const std::string& instance, const std::string& kind, int in_flight) {
  auto conn = pool_.acquire();
  conn->exec(kUpsert, params(instance, kind, in_flight));
}

void HeartbeatRepository::remove(const std::string& instance) {
  auto conn = pool_.acquire();
  conn->exec(kDelete, params(instance));
}

}  // namespace imageproc::db
