#pragma once
// What every stage consumer does around its own work (DESIGN §6), for the image and the AI stage alike:
//   1. decode the message (malformed → dead-letter);
//   2. claim the stage with a conditional UPDATE (a finished, deleted or busy job → ack and skip);
//   3. stop a message whose earlier deliveries all died mid-work (crash, OOM kill) with a visible Error
//      before the broker's delivery limit would dead-letter it silently;
//   4. after a transient failure: Pending again with the next attempt on a TTL'd retry queue, or Error once
//      the retry delays are used up.
// Database failures propagate (the consumer keeps the message and backs off). Thread-safe.

#include <chrono>
#include <optional>
#include <string>

#include "db/jobs.hpp"
#include "queue/amqp.hpp"
#include "queue/consumer.hpp"
#include "queue/topology.hpp"

namespace imageproc::worker {

class StageFlow {
 public:
  StageFlow(db::JobRepository& jobs, queue::Topology topology, db::Stage stage, int lease_seconds);

  // Steps 1–3. When `job` is set the caller owns the stage and must settle it (complete, fail, skip or
  // retry_or_fail) before acknowledging; otherwise `disposition` is the answer for the delivery.
  struct Start {
    queue::Disposition disposition = queue::Disposition::Ack;
    contracts::StageMessage message;
    std::optional<db::JobRecord> job;
  };
  Start begin(const queue::Delivery& delivery);

  // Step 4. `at_least` is a provider's Retry-After: the retry waits at least that long when a configured delay
  // is that long.
  void retry_or_fail(const contracts::StageMessage& message, const std::string& reason,
                     std::chrono::milliseconds at_least = std::chrono::milliseconds(0));

  const queue::Topology& topology() const { return topology_; }

 private:
  const queue::WorkQueue& work_queue() const;

  db::JobRepository& jobs_;
  queue::Topology topology_;
  db::Stage stage_;
  int lease_seconds_;
};

}  // namespace imageproc::worker
