#include "queue/consumer.hpp"

#include <algorithm>

#include "core/logging.hpp"

namespace imageproc::queue {

namespace {
constexpr std::chrono::seconds kConsumerHeartbeat{600};
}

QueueConsumer::QueueConsumer(AmqpUrl broker, Topology topology, std::string queue, std::string connection_name,
                             Handler handler, std::atomic<int>* in_flight, std::chrono::milliseconds max_backoff)
    : broker_(std::move(broker)),
      topology_(std::move(topology)),
      queue_(std::move(queue)),
      connection_name_(std::move(connection_name)),
      handler_(std::move(handler)),
      in_flight_(in_flight),
      max_backoff_(max_backoff) {}

void QueueConsumer::run(StopFlag& stop) {
  auto backoff = std::chrono::milliseconds(200);
  bool healthy = true;
  while (!stop.requested()) {
    try {
      // rabbitmq-c sends heartbeats only inside library calls, and a handler may work on one image for minutes:
      // a long heartbeat interval keeps the broker from dropping (and redelivering) a busy consumer.
      AmqpConnection conn(broker_, connection_name_, kConsumerHeartbeat);
      conn.declare(topology_);
      conn.set_prefetch(1);
      conn.consume(queue_);
      if (!healthy) log::info("consumer reconnected", {{"queue", queue_}});
      healthy = true;
      while (!stop.requested()) {
        auto delivery = conn.next_delivery(std::chrono::milliseconds(250));
        if (!delivery) continue;
        if (in_flight_) in_flight_->fetch_add(1);
        Disposition disposition = Disposition::Ack;
        bool handled = false;
        // A handler that throws met an outage (database, store). Keep the message and try again with backoff
        // instead of returning it: every return counts toward the queue's delivery limit, and a short outage
        // must not dead-letter work. The retry is marked redelivered so the handler may take back its claim.
        Delivery current = *delivery;
        for (;;) {
          try {
            disposition = handler_(current);
            handled = true;
            break;
          } catch (const std::exception& e) {
            log::warn("message handling failed; trying again after a pause",
                      {{"queue", queue_}, {"error", e.what()}, {"backoffMs", backoff.count()}});
          }
          if (stop.wait_for(backoff)) break;
          backoff = std::min(backoff * 2, max_backoff_);
          current.redelivered = true;
        }
        if (in_flight_) in_flight_->fetch_sub(1);
        if (!handled) {
          // Shutting down mid-outage: give the message back for another consumer.
          conn.nack(delivery->delivery_tag, /*requeue=*/true);
          continue;
        }
        backoff = std::chrono::milliseconds(200);
        if (disposition == Disposition::Ack) {
          conn.ack(delivery->delivery_tag);
        } else {
          conn.nack(delivery->delivery_tag, /*requeue=*/false);
        }
      }
    } catch (const std::exception& e) {
      if (healthy) log::warn("consumer lost the broker; reconnecting with backoff", {{"queue", queue_}, {"error", e.what()}});
      healthy = false;
      stop.wait_for(backoff);
      backoff = std::min(backoff * 2, max_backoff_);
    }
  }
}

}  // namespace imageproc::queue
