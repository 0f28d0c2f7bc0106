#pragma once
// worker_heartbeats table: which worker processes are alive and how busy they are. Thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "db/pool.hpp"

namespace imageproc::db {

struct WorkerHeartbeat {
  std::string instance;
  std::string kind;
  std::string started_at;  // RFC 3339
  std::string seen_at;
  int in_flight = 0;
  bool alive = false;  // seen within the staleness window passed to list()
};

class HeartbeatRepository {
 public:
  explicit HeartbeatRepository(Pool& pool) : pool_(pool) {}
  // Inserts or refreshes the instance's row (seen_at = now()).
  void beat(const std::string& instance, const std::string& kind, int in_flight);
  void remove(const std::string& instance);
  // Deletes rows not seen for `older_than_seconds` (workers killed without a clean stop); returns how many.
  int remove_stale(int older_than_seconds);
  // Every row, by instance; `alive` when seen in the last `stale_after_seconds`.
  std::vector<WorkerHeartbeat> list(int stale_after_seconds);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
