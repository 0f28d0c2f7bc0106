#pragma once
// outbox table: messages written in the same transaction as the state change they announce (DESIGN §6).
// Relays claim unpublished rows with FOR UPDATE SKIP LOCKED, so any number of relays (in every api and worker
// process) share the work without publishing a row twice at the same time; a row is marked published only
// after the broker confirmed it. Delivery is at-least-once: if the commit after a confirm fails, the row is
// published again later, so consumers must be idempotent (they are: DESIGN §6). Thread-safe.

#include <cstdint>
#include <functional>
#include <string>

#include "db/pool.hpp"

namespace imageproc::db {

struct OutboxMessage {
  std::int64_t id = 0;
  std::string exchange;
  std::string routing_key;
  std::string payload;  // JSON text
};

enum class PublishResult {
  Published,  // confirmed by the broker: mark published
  Dropped,    // can never be delivered (unroutable): mark published with the error, so it blocks nothing
  Failed,     // transient: leave it for the next round and stop this batch
};

class OutboxRepository {
 public:
  explicit OutboxRepository(Pool& pool) : pool_(pool) {}

  // Appends a message inside the caller's transaction (the same connection as the state change).
  static void enqueue(Connection& tx_conn, const std::string& exchange, const std::string& routing_key,
                      const std::string& payload_json);

  // Claims up to `limit` unpublished rows in id order and calls `publish` for each while holding their row
  // locks. Returns how many rows were marked (published or dropped). If `publish` throws, what was already
  // marked is committed and the exception propagates.
  int process_batch(int limit, const std::function<PublishResult(const OutboxMessage&)>& publish);

  std::int64_t unpublished_count();
  // Deletes up to `limit` rows published more than `older_than_hours` ago; returns how many.
  int prune_published(int older_than_hours, int limit);

 private:
  Pool& pool_;
};

}  // namespace imageproc::db
