#pragma once
// Queue depths for the admin overview and /metrics: for each work queue its ready messages and consumers, the
// messages waiting in its retry queues and those in its dead-letter queue. One connection, opened on first
// use and again after a failure (a passive declare of a missing queue closes it). Thread-safe: a mutex
// serialises inspections, which are rare and short.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/amqp.hpp"
#include "queue/topology.hpp"

namespace imageproc::queue {

struct QueueReport {
  std::string name;
  QueueStats work;
  std::uint32_t retrying = 0;  // messages waiting in the retry queues for their delay to pass
  std::string dead_letter_queue;
  std::uint32_t dead_letters = 0;
};

class QueueInspector {
 public:
  QueueInspector(AmqpUrl broker, Topology topology);
  ~QueueInspector();
  // Throws AmqpError when the broker cannot be reached or a queue does not exist (yet).
  std::vector<QueueReport> inspect();

 private:
  AmqpUrl broker_;
  Topology topology_;
  std::mutex mutex_;
  std::unique_ptr<AmqpConnection> conn_;
};

}  // namespace imageproc::queue
