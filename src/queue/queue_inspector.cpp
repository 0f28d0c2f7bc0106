#include "queue/queue_inspector.hpp"

namespace imageproc::queue {

QueueInspector::QueueInspector(AmqpUrl broker, Topology topology)
    : broker_(std::move(broker)), topology_(std::move(topology)) {}

QueueInspector::~QueueInspector() = default;

std::vector<QueueReport> QueueInspector::inspect() {
  std::lock_guard lock(mutex_);
  if (!conn_ || !conn_->ok()) {
    conn_.reset();
    conn_ = std::make_unique<AmqpConnection>(broker_, "imageproc-queue-inspector", std::chrono::seconds(30),
                                             std::chrono::seconds(2));
  }
  std::vector<QueueReport> reports;
  for (const WorkQueue* queue : {&topology_.image_jobs, &topology_.ai_jobs}) {
    QueueReport report;
    report.name = queue->name;
    report.work = conn_->queue_stats(queue->name);
    for (const auto& retry : queue->retry_queues) report.retrying += conn_->queue_depth(retry);
    report.dead_letter_queue = queue->dead_letter_queue;
    report.dead_letters = conn_->queue_depth(queue->dead_letter_queue);
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace imageproc::queue
