#include <gtest/gtest.h>

#include "queue/amqp.hpp"
#include "queue/topology.hpp"

using namespace imageproc::queue;

namespace {

TEST(AmqpUrl, ParsesCredentialsHostPortAndEncodedVhost) {
  auto u = parse_amqp_url("amqp://app:s%40cret@broker.internal:5673/%2f");
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.password, "s@cret");
  EXPECT_EQ(u.host, "broker.internal");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.vhost, "/");
  auto d = parse_amqp_url("amqp://127.0.0.1");
  EXPECT_EQ(d.port, 5672);
  EXPECT_EQ(d.user, "guest");
  EXPECT_EQ(parse_amqp_url("amqp://h:1/prod").vhost, "prod");
  EXPECT_THROW(parse_amqp_url("http://h"), AmqpError);
  EXPECT_THROW(parse_amqp_url("amqp://h:notaport/"), AmqpError);
}

TEST(Topology, WorkQueuesAreQuorumWithDeliveryLimitAndDeadLetters) {
  const auto t = Topology::make();
  EXPECT_EQ(t.exchange, "imageproc");
  EXPECT_EQ(t.image_jobs.name, "image-jobs");
  EXPECT_EQ(t.image_jobs.dead_letter_queue, "image-jobs.dead");
  EXPECT_EQ(t.ai_jobs.dead_letter_queue, "image-ai-jobs.dead");
  bool found = false;
  for (const auto& q : t.queues) {
    if (q.name != "image-jobs") continue;
    found = true;
    EXPECT_EQ(std::get<std::string>(q.arguments.at("x-queue-type")), "quorum");
    EXPECT_EQ(std::get<std::int64_t>(q.arguments.at("x-delivery-limit")), 5);
    EXPECT_EQ(std::get<std::string>(q.arguments.at("x-dead-letter-exchange")), "imageproc.dlx");
  }
  EXPECT_TRUE(found);
}

TEST(Topology, RetryQueuesBackOffAndExpireIntoTheWorkQueue) {
  const auto t = Topology::make("", {std::chrono::seconds(2), std::chrono::seconds(10), std::chrono::seconds(60)});
  ASSERT_EQ(t.image_jobs.retry_queues.size(), 3u);
  EXPECT_EQ(t.retry_queue_for(t.image_jobs, 1), "image-jobs.retry.2000ms");
  EXPECT_EQ(t.retry_queue_for(t.image_jobs, 2), "image-jobs.retry.10000ms");
  EXPECT_EQ(t.retry_queue_for(t.image_jobs, 3), "image-jobs.retry.60000ms");
  EXPECT_EQ(t.retry_queue_for(t.image_jobs, 9), "image-jobs.retry.60000ms");
  for (const auto& q : t.queues) {
    if (q.name != "image-jobs.retry.10000ms") continue;
    EXPECT_EQ(std::get<std::int64_t>(q.arguments.at("x-message-ttl")), 10000);
    EXPECT_EQ(std::get<std::string>(q.arguments.at("x-dead-letter-exchange")), "imageproc");
    EXPECT_EQ(std::get<std::string>(q.arguments.at("x-dead-letter-routing-key")), "image-jobs");
  }
  EXPECT_EQ(Topology::make("it-1.").image_jobs.name, "it-1.image-jobs");
}

}  // namespace

namespace {

TEST(Topology, RetryAfterPicksTheFirstDelayThatIsLongEnough) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const auto t = Topology::make("", {seconds(2), seconds(10), seconds(60)});
  const auto& q = t.ai_jobs;
  EXPECT_EQ(t.retry_queue_for(q, 1, milliseconds(0)), q.retry_queues[0]);
  EXPECT_EQ(t.retry_queue_for(q, 1, seconds(2)), q.retry_queues[0]);
  EXPECT_EQ(t.retry_queue_for(q, 1, seconds(7)), q.retry_queues[1]);
  EXPECT_EQ(t.retry_queue_for(q, 1, seconds(30)), q.retry_queues[2]);
  EXPECT_EQ(t.retry_queue_for(q, 1, seconds(3600)), q.retry_queues[2]);  // the longest there is
  EXPECT_EQ(t.retry_queue_for(q, 3, seconds(1)), q.retry_queues[2]);     // never shorter than the attempt's own
}

}  // namespace
