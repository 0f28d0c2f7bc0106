#pragma once
// The RabbitMQ topology of DESIGN §6, as data. Declaring it is idempotent (AmqpConnection::declare).
//
//   imageproc (direct)  ──image-jobs──►  image-jobs (quorum, delivery limit, DLX imageproc.dlx)
//                       ──image-ai-jobs► image-ai-jobs (same)
//   imageproc.retry (direct) ──image-jobs.retry.<delay>──► image-jobs.retry.<delay> (TTL = delay; when it
//                       expires the message is dead-lettered back to imageproc / image-jobs) — one per delay
//   imageproc.dlx (direct) ──image-jobs──► image-jobs.dead, ──image-ai-jobs──► image-ai-jobs.dead
//   imageproc.events (topic): job.{userId}; every API instance binds its own exclusive queue
//
// Work queues are quorum queues (replicated, at-least-once dead-lettering); retry queues are durable classic
// queues because they only hold delayed copies and need per-queue message TTL. A `prefix` isolates tests that
// share one broker.

#include <chrono>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace imageproc::queue {

using ArgValue = std::variant<std::string, std::int64_t>;
using Arguments = std::map<std::string, ArgValue>;

struct ExchangeSpec {
  std::string name;
  std::string type;  // direct | topic
};

struct QueueSpec {
  std::string name;
  Arguments arguments;
};

struct BindingSpec {
  std::string queue;
  std::string exchange;
  std::string routing_key;
};

struct WorkQueue {
  std::string name;                      // also the routing key on the main exchange
  std::string dead_letter_queue;
  std::vector<std::string> retry_queues;  // one per delay, shortest first (routing key = queue name)
};

struct Topology {
  std::string exchange;         // main direct exchange
  std::string retry_exchange;
  std::string dead_letter_exchange;
  std::string events_exchange;  // topic
  WorkQueue image_jobs;
  WorkQueue ai_jobs;
  std::vector<std::chrono::milliseconds> retry_delays;
  int delivery_limit = 5;       // deliveries of one message before the broker dead-letters it
  std::vector<ExchangeSpec> exchanges;
  std::vector<QueueSpec> queues;
  std::vector<BindingSpec> bindings;

  // The production topology (prefix "") or an isolated copy for tests.
  static Topology make(const std::string& prefix = "",
                       std::vector<std::chrono::milliseconds> retry_delays = {std::chrono::seconds(2),
                                                                               std::chrono::seconds(10),
                                                                               std::chrono::seconds(60)},
                       int delivery_limit = 5);

  // The retry queue for the given attempt (1-based; attempts past the last delay use the last one).
  const std::string& retry_queue_for(const WorkQueue& queue, int attempt) const;
  // The same, but waiting at least `at_least` (a provider's Retry-After) when a configured delay is that long;
  // otherwise the longest delay.
  const std::string& retry_queue_for(const WorkQueue& queue, int attempt, std::chrono::milliseconds at_least) const;
};

}  // namespace imageproc::queue
