#pragma once
// A small RAII wrapper over rabbitmq-c (only amqp.cpp includes it). One AmqpConnection = one TCP connection
// with one channel. Not thread-safe: give each thread (publisher, each consumer) its own connection.
// Any broker or network failure throws AmqpError; the owner drops the connection and reconnects with backoff.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "queue/topology.hpp"

namespace imageproc::queue {

class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AmqpUrl {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};

// Parses amqp://user:password@host:port/vhost (vhost percent-decoded; "%2f" is "/"). Throws AmqpError.
AmqpUrl parse_amqp_url(std::string_view url);

enum class PublishOutcome {
  Confirmed,  // the broker took responsibility for the message (routed and persisted)
  Returned,   // mandatory and unroutable: no queue is bound for the routing key
  Nacked,     // the broker refused it (internal error); safe to retry
};

struct QueueStats {
  std::uint32_t messages = 0;  // ready (not yet delivered or returned) messages
  std::uint32_t consumers = 0;
};

struct Delivery {
  std::uint64_t delivery_tag = 0;
  std::string exchange;
  std::string routing_key;
  std::string body;
  bool redelivered = false;
  std::int64_t delivery_count = 0;  // quorum queues: x-delivery-count (0 on first delivery)
};

class AmqpConnection {
 public:
  // Connects and opens channel 1. `heartbeat` keeps half-open TCP connections from lingering.
  AmqpConnection(const AmqpUrl& url, std::string connection_name,
                 std::chrono::seconds heartbeat = std::chrono::seconds(30),
                 std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  void declare(const Topology& topology);
  // A server-named exclusive, auto-delete queue bound to `exchange` with `binding_key`; returns its name.
  std::string declare_private_queue(const std::string& exchange, const std::string& binding_key);
  QueueStats queue_stats(const std::string& queue);     // passive declare; throws AmqpError if missing
  std::uint32_t queue_depth(const std::string& queue);  // queue_stats().messages
  // Drops every ready message of the queue; returns how many (operators and tests that simulate a lost
  // message).
  std::uint32_t purge(const std::string& queue);

  // Puts the channel in confirm mode (once) and publishes a persistent message, waiting for the broker's
  // confirm. With `mandatory`, an unroutable message comes back as Returned instead of vanishing.
  PublishOutcome publish(const std::string& exchange, const std::string& routing_key, std::string_view body,
                         bool mandatory = true,
                         std::chrono::milliseconds confirm_timeout = std::chrono::seconds(10));

  void set_prefetch(std::uint16_t count);
  void consume(const std::string& queue, bool exclusive = false);
  // Waits up to `timeout` for a delivery; nullopt on timeout. Throws AmqpError if the connection failed.
  std::optional<Delivery> next_delivery(std::chrono::milliseconds timeout);
  void ack(std::uint64_t delivery_tag);
  // requeue=false dead-letters the message (if the queue has a DLX), requeue=true returns it to the queue.
  void nack(std::uint64_t delivery_tag, bool requeue);

  bool ok() const { return ok_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  bool ok_ = false;
  bool confirm_mode_ = false;
  std::uint64_t next_publish_tag_ = 1;
};

}  // namespace imageproc::queue
