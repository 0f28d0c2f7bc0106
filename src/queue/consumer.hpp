#pragma once
// One consumer of a work queue (DESIGN §6): its own connection and channel, prefetch 1 (the worker runs as
// many consumers as its configured concurrency, so the total prefetch equals the concurrency), manual ack
// after the handler returned — that is, after the handler's database commit. At-least-once: a message whose
// handler did not return (crash, SIGKILL, lost connection) is delivered again, so handlers are idempotent.
//
// The handler's answer decides the message's fate: Ack, or DeadLetter (nack without requeue → the queue's
// dead-letter exchange) for messages that can never be handled. A handler that throws (database or store
// away) is called again with the same message, marked redelivered, after a growing backoff, until it returns
// or shutdown is requested (then the message goes back to the queue). run() blocks until `stop` is requested; the
// message in hand is finished first, prefetched ones go back to the broker with the connection.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "core/shutdown.hpp"
#include "queue/amqp.hpp"
#include "queue/topology.hpp"

namespace imageproc::queue {

enum class Disposition { Ack, DeadLetter };

class QueueConsumer {
 public:
  using Handler = std::function<Disposition(const Delivery&)>;

  QueueConsumer(AmqpUrl broker, Topology topology, std::string queue, std::string connection_name,
                Handler handler, std::atomic<int>* in_flight = nullptr,
                std::chrono::milliseconds max_backoff = std::chrono::seconds(10));

  void run(StopFlag& stop);

 private:
  AmqpUrl broker_;
  Topology topology_;
  std::string queue_;
  std::string connection_name_;
  Handler handler_;
  std::atomic<int>* in_flight_;
  std::chrono::milliseconds max_backoff_;
};

}  // namespace imageproc::queue
