#include "queue/topology.hpp"

#include <algorithm>

namespace imageproc::queue {

Topology Topology::make(const std::string& prefix, std::vector<std::chrono::milliseconds> retry_delays,
                        int delivery_limit) {
  Topology t;
  t.exchange = prefix + "imageproc";
  t.retry_exchange = prefix + "imageproc.retry";
  t.dead_letter_exchange = prefix + "imageproc.dlx";
  t.events_exchange = prefix + "imageproc.events";
  t.retry_delays = std::move(retry_delays);
  t.delivery_limit = delivery_limit;
  t.exchanges = {{t.exchange, "direct"},
                 {t.retry_exchange, "direct"},
                 {t.dead_letter_exchange, "direct"},
                 {t.events_exchange, "topic"}};

  auto work_queue = [&](const std::string& base) {
    WorkQueue q;
    q.name = prefix + base;
    q.dead_letter_queue = q.name + ".dead";
    t.queues.push_back({q.name,
                        {{"x-queue-type", std::string("quorum")},
                         {"x-delivery-limit", std::int64_t{delivery_limit}},
                         {"x-dead-letter-exchange", t.dead_letter_exchange},
                         {"x-dead-letter-routing-key", q.name}}});
    t.bindings.push_back({q.name, t.exchange, q.name});
    t.queues.push_back({q.dead_letter_queue, {{"x-queue-type", std::string("quorum")}}});
    t.bindings.push_back({q.dead_letter_queue, t.dead_letter_exchange, q.name});
    for (const auto delay : t.retry_delays) {
      const std::string retry = q.name + ".retry." + std::to_string(delay.count()) + "ms";
      q.retry_queues.push_back(retry);
      t.queues.push_back({retry,
                          {{"x-message-ttl", std::int64_t{delay.count()}},
                           {"x-dead-letter-exchange", t.exchange},
                           {"x-dead-letter-routing-key", q.name}}});
      t.bindings.push_back({retry, t.retry_exchange, retry});
    }
    return q;
  };
  t.image_jobs = work_queue("image-jobs");
  t.ai_jobs = work_queue("image-ai-jobs");
  return t;
}

const std::string& Topology::retry_queue_for(const WorkQueue& queue, int attempt) const {
  const auto index = static_cast<std::size_t>(std::clamp(attempt, 1, static_cast<int>(queue.retry_queues.size())) - 1);
  return queue.retry_queues.at(index);
}

const std::string& Topology::retry_queue_for(const WorkQueue& queue, int attempt,
                                             std::chrono::milliseconds at_least) const {
  const int count = static_cast<int>(queue.retry_queues.size());
  int index = std::clamp(attempt, 1, count) - 1;
  while (index + 1 < count && index < static_cast<int>(retry_delays.size()) &&
         retry_delays[static_cast<std::size_t>(index)] < at_least) {
    ++index;
  }
  return queue.retry_queues.at(static_cast<std::size_t>(index));
}

}  // namespace imageproc::queue
