#pragma once
// The outbox relay (DESIGN §6): moves rows of the `outbox` table to RabbitMQ. It wakes on NOTIFY (the insert
// trigger), so a message leaves within milliseconds of its transaction's commit, and also polls slowly as a
// safety net for missed notifications. Rows are published persistent, mandatory, with publisher confirms, and
// marked published only after the confirm. When the broker or the database is away it reconnects with
// exponential backoff; writers keep committing meanwhile and everything is delivered when it returns.
// Runs in every api and worker process; relays share rows through FOR UPDATE SKIP LOCKED.
// run() blocks on the calling thread until `stop` is requested.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/shutdown.hpp"
#include "db/outbox.hpp"
#include "db/pool.hpp"
#include "queue/amqp.hpp"
#include "queue/topology.hpp"

namespace imageproc::queue {

struct OutboxRelayOptions {
  std::chrono::milliseconds poll_interval{5000};  // safety-net poll when no NOTIFY arrives
  int batch_size = 100;
  std::chrono::milliseconds max_backoff{10000};
};

class OutboxRelay {
 public:
  OutboxRelay(db::Pool& pool, DatabaseConfig database, AmqpUrl broker, Topology topology,
              OutboxRelayOptions options = {});

  void run(StopFlag& stop);
  // Publishes everything currently unpublished; returns the number of rows marked. Throws on broker/database
  // failure (run() handles that with backoff). For tests and for run().
  int drain();
  std::uint64_t published_total() const { return published_total_.load(); }

 private:
  void ensure_connections();

  db::OutboxRepository outbox_;
  DatabaseConfig database_;
  AmqpUrl broker_;
  Topology topology_;
  OutboxRelayOptions options_;
  std::unique_ptr<AmqpConnection> amqp_;
  std::unique_ptr<db::Connection> listener_;
  std::atomic<std::uint64_t> published_total_{0};
};

}  // namespace imageproc::queue
