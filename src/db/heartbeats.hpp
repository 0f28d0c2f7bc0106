#pragma once
// worker_heartbeats table: which worker processes are alive and how busy they are. Thread-safe.

#include <string>

#include "db/pool.hpp"

namespace imageproc::db {

class HeartbeatRepository {
 public:
  explicit HeartbeatRepository(Pool& pool) : pool_(pool) {}
  // Inserts or refreshes the instance's row (seen_at = now()).
  void beat(const std::string& instance, const std::string& kind, int in_flight);
  void remove(const std::string& instance);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
