#pragma once
// Receives job events from the `imageproc.events` topic exchange for one API instance: an exclusive,
// auto-delete, server-named queue bound with `job.*`, so every instance sees every event and the broker drops
// the queue when the instance goes. While the broker is away it reconnects with backoff; events published
// meanwhile are not seen by this instance, so on every (re)connection after the first `on_resync` runs and
// clients refetch. run() blocks the calling thread until `stop` is requested.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/shutdown.hpp"
#include "queue/amqp.hpp"
#include "queue/topology.hpp"

namespace imageproc::queue {

class EventSubscriber {
 public:
  using OnEvent = std::function<void(std::string_view body)>;
  using OnResync = std::function<void()>;

  EventSubscriber(AmqpUrl broker, Topology topology, std::chrono::milliseconds max_backoff = std::chrono::seconds(10))
      : broker_(std::move(broker)), topology_(std::move(topology)), max_backoff_(max_backoff) {}

  void run(StopFlag& stop, const OnEvent& on_event, const OnResync& on_resync);
  // True while bound and consuming (readiness: the broker is reachable).
  bool connected() const { return connected_.load(); }

 private:
  AmqpUrl broker_;
  Topology topology_;
  std::chrono::milliseconds max_backoff_;
  std::atomic<bool> connected_{false};
};

}  // namespace imageproc::queue
