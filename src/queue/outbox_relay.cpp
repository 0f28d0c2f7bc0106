#include "queue/outbox_relay.hpp"

#include <algorithm>

#include "core/logging.hpp"

namespace imageproc::queue {

OutboxRelay::OutboxRelay(db::Pool& pool, DatabaseConfig database, AmqpUrl broker, Topology topology,
                         OutboxRelayOptions options)
    : outbox_(pool),
      database_(std::move(database)),
      broker_(std::move(broker)),
      topology_(std::move(topology)),
      options_(options) {}

void OutboxRelay::ensure_connections() {
  if (!amqp_ || !amqp_->ok()) {
    amqp_.reset();
    auto conn = std::make_unique<AmqpConnection>(broker_, "imageproc-outbox-relay");
    conn->declare(topology_);
    amqp_ = std::move(conn);
  }
  if (!listener_ || !listener_->ok()) {
    listener_.reset();
    auto conn = std::make_unique<db::Connection>(database_.url, database_.statement_timeout, "imageproc-outbox");
    conn->listen("outbox");
    listener_ = std::move(conn);
  }
}

int OutboxRelay::drain() {
  ensure_connections();
  int total = 0;
  for (;;) {
    const int marked = outbox_.process_batch(options_.batch_size, [this](const db::OutboxMessage& m) {
      switch (amqp_->publish(m.exchange, m.routing_key, m.payload, /*mandatory=*/true)) {
        case PublishOutcome::Confirmed: return db::PublishResult::Published;
        case PublishOutcome::Returned:
          log::error("outbox message is unroutable; dropped",
                     {{"outboxId", m.id}, {"exchange", m.exchange}, {"routingKey", m.routing_key}});
          return db::PublishResult::Dropped;
        case PublishOutcome::Nacked: return db::PublishResult::Failed;
      }
      return db::PublishResult::Failed;
    });
    total += marked;
    published_total_.fetch_add(static_cast<std::uint64_t>(marked));
    if (marked < options_.batch_size) return total;
  }
}

void OutboxRelay::run(StopFlag& stop) {
  auto backoff = std::chrono::milliseconds(200);
  bool healthy = true;
  while (!stop.requested()) {
    try {
      drain();
      if (!healthy) log::info("outbox relay reconnected");
      healthy = true;
      backoff = std::chrono::milliseconds(200);
      // Sleep until a NOTIFY or the safety-net poll, waking regularly to notice shutdown.
      const auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
      while (!stop.requested() && std::chrono::steady_clock::now() < deadline) {
        if (listener_->wait_for_notification(std::chrono::milliseconds(250))) break;
      }
    } catch (const std::exception& e) {
      if (healthy) log::warn("outbox relay paused; retrying with backoff", {{"error", e.what()}});
      healthy = false;
      if (amqp_ && !amqp_->ok()) amqp_.reset();
      if (listener_ && !listener_->ok()) listener_.reset();
      stop.wait_for(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

}  // namespace imageproc::queue
