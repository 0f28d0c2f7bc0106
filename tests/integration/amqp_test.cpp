// The AMQP wrapper against the real RabbitMQ node that scripts/services started. Each test declares its own
// prefixed copy of the topology so tests never see each other's messages.

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "harness.hpp"
#include "queue/amqp.hpp"

using namespace imageproc::queue;
using namespace std::chrono_literals;

namespace {

class AmqpTest : public ::testing::Test {
 protected:
  AmqpUrl url_ = parse_amqp_url(imageproc::testing::required_env("IMAGEPROC_TEST_AMQP_URL"));
  Topology topology_ = Topology::make("it-" + imageproc::ids::new_request_id() + ".", {300ms, 600ms}, 2);
  AmqpConnection publisher_{url_, "it-publisher"};
  AmqpConnection consumer_{url_, "it-consumer"};

  void SetUp() override { publisher_.declare(topology_); }
};

TEST_F(AmqpTest, DeclaringTheTopologyTwiceIsIdempotent) {
  EXPECT_NO_THROW(publisher_.declare(topology_));
  EXPECT_EQ(publisher_.queue_depth(topology_.image_jobs.name), 0u);
}

TEST_F(AmqpTest, ConfirmedPublishIsDeliveredAndAckedOnce) {
  ASSERT_EQ(publisher_.publish(topology_.exchange, topology_.image_jobs.name, R"({"v":1})"),
            PublishOutcome::Confirmed);
  consumer_.set_prefetch(1);
  consumer_.consume(topology_.image_jobs.name);
  auto d = consumer_.next_delivery(5s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, R"({"v":1})");
  EXPECT_EQ(d->routing_key, topology_.image_jobs.name);
  consumer_.ack(d->delivery_tag);
  EXPECT_FALSE(consumer_.next_delivery(300ms).has_value());
}

TEST_F(AmqpTest, UnroutableMandatoryPublishComesBackAsReturned) {
  EXPECT_EQ(publisher_.publish(topology_.exchange, "no-such-queue", "{}"), PublishOutcome::Returned);
  // The connection stays usable for the next publish.
  EXPECT_EQ(publisher_.publish(topology_.exchange, topology_.image_jobs.name, "{}"), PublishOutcome::Confirmed);
}

TEST_F(AmqpTest, RejectedMessageIsDeadLettered) {
  ASSERT_EQ(publisher_.publish(topology_.exchange, topology_.image_jobs.name, "poison"), PublishOutcome::Confirmed);
  consumer_.consume(topology_.image_jobs.name);
  auto d = consumer_.next_delivery(5s);
  ASSERT_TRUE(d.has_value());
  consumer_.nack(d->delivery_tag, /*requeue=*/false);
  AmqpConnection dead(url_, "it-dead");
  dead.consume(topology_.image_jobs.dead_letter_queue);
  auto dl = dead.next_delivery(5s);
  ASSERT_TRUE(dl.has_value());
  EXPECT_EQ(dl->body, "poison");
  dead.ack(dl->delivery_tag);
}

TEST_F(AmqpTest, RetryQueueReturnsTheMessageAfterItsDelay) {
  const auto& retry = topology_.retry_queue_for(topology_.image_jobs, 1);
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(publisher_.publish(topology_.retry_exchange, retry, "later"), PublishOutcome::Confirmed);
  consumer_.consume(topology_.image_jobs.name);
  auto d = consumer_.next_delivery(10s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "later");
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 250ms);  // it waited in the retry queue
  consumer_.ack(d->delivery_tag);
}

TEST_F(AmqpTest, UnackedMessageIsRedeliveredToTheNextConsumer) {
  ASSERT_EQ(publisher_.publish(topology_.exchange, topology_.image_jobs.name, "work"), PublishOutcome::Confirmed);
  {
    AmqpConnection crashed(url_, "it-crashing-consumer");
    crashed.consume(topology_.image_jobs.name);
    ASSERT_TRUE(crashed.next_delivery(5s).has_value());
    // Connection closes without an ack, as when a worker dies.
  }
  consumer_.consume(topology_.image_jobs.name);
  auto d = consumer_.next_delivery(5s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "work");
  EXPECT_TRUE(d->redelivered);
  consumer_.ack(d->delivery_tag);
}

TEST_F(AmqpTest, PrivateQueueReceivesTopicEventsForItsBinding) {
  AmqpConnection listener(url_, "it-events");
  const auto queue = listener.declare_private_queue(topology_.events_exchange, "job.user-1");
  listener.consume(queue, /*exclusive=*/true);
  EXPECT_EQ(publisher_.publish(topology_.events_exchange, "job.user-2", "other", false), PublishOutcome::Confirmed);
  EXPECT_EQ(publisher_.publish(topology_.events_exchange, "job.user-1", "mine", false), PublishOutcome::Confirmed);
  auto d = listener.next_delivery(5s);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "mine");
  listener.ack(d->delivery_tag);
  EXPECT_FALSE(listener.next_delivery(300ms).has_value());
}

TEST(AmqpConnect, UnreachableBrokerFailsWithAClearError) {
  AmqpUrl url;
  url.port = 1;  // nothing listens on port 1 of loopback
  try {
    AmqpConnection c(url, "it-unreachable", std::chrono::seconds(5), 2s);
    FAIL() << "connected to nothing";
  } catch (const AmqpError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to RabbitMQ"), std::string::npos) << e.what();
  }
}

}  // namespace
