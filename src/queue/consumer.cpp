#include "queue/consumer.hpp"

#include <algorithm>

#include "core/logging.hpp"

namespace imageproc::queue {

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
      AmqpConnection conn(broker_, connection_name_);
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
        try {
          disposition = handler_(*delivery);
          handled = true;
        } catch (const std::exception& e) {
          log::warn("message handling failed; returning it to the queue after a pause",
                    {{"queue", queue_}, {"error", e.what()}, {"backoffMs", backoff.count()}});
        }
        if (in_flight_) in_flight_->fetch_sub(1);
        if (!handled) {
          stop.wait_for(backoff);
          backoff = std::min(backoff * 2, max_backoff_);
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
