#include "queue/event_subscriber.hpp"

#include <algorithm>

#include "core/logging.hpp"

namespace imageproc::queue {

void EventSubscriber::run(StopFlag& stop, const OnEvent& on_event, const OnResync& on_resync) {
  auto backoff = std::chrono::milliseconds(200);
  bool first = true;
  while (!stop.requested()) {
    try {
      AmqpConnection conn(broker_, "imageproc-events");
      conn.declare(topology_);
      const std::string queue = conn.declare_private_queue(topology_.events_exchange, "job.*");
      conn.set_prefetch(256);
      conn.consume(queue, /*exclusive=*/true);
      connected_ = true;
      backoff = std::chrono::milliseconds(200);
      if (!first) {
        log::info("event subscriber reconnected");
        on_resync();
      }
      first = false;
      while (!stop.requested()) {
        auto delivery = conn.next_delivery(std::chrono::milliseconds(250));
        if (!delivery) continue;
        on_event(delivery->body);
        conn.ack(delivery->delivery_tag);
      }
      connected_ = false;
    } catch (const std::exception& e) {
      if (connected_ || first) log::warn("event subscriber lost the broker; retrying", {{"error", e.what()}});
      connected_ = false;
      first = false;
      stop.wait_for(backoff);
      backoff = std::min(backoff * 2, max_backoff_);
    }
  }
}

}  // namespace imageproc::queue
