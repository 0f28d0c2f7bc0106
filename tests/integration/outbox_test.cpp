// The outbox relay against the real PostgreSQL and RabbitMQ from scripts/services.

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "core/ids.hpp"
#include "db/migrations.hpp"
#include "db/outbox.hpp"
#include "harness.hpp"
#include "queue/outbox_relay.hpp"

using namespace imageproc;
using namespace std::chrono_literals;

namespace {

class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest() {
    db::Connection conn(db_.url(), 30s, "it-migrate");
    db::run_migrations(conn, db::embedded_migrations());
    config_.url = db_.url();
    config_.pool_size = 4;
  }

  void enqueue(const std::string& routing_key, const std::string& payload) {
    auto conn = pool_.acquire();
    db::Transaction tx(*conn);
    db::OutboxRepository::enqueue(*conn, topology_.exchange, routing_key, payload);
    tx.commit();
  }

  std::vector<std::string> receive(std::size_t count, std::chrono::seconds patience) {
    std::vector<std::string> bodies;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (bodies.size() < count && std::chrono::steady_clock::now() < deadline) {
      if (auto d = consumer_.next_delivery(200ms)) {
        bodies.push_back(d->body);
        consumer_.ack(d->delivery_tag);
      }
    }
    return bodies;
  }

  imageproc::testing::TestDatabase db_;
  DatabaseConfig config_;
  db::Pool pool_{[this] {
                   DatabaseConfig c;
                   c.url = db_.url();
                   c.pool_size = 4;
                   return c;
                 }(),
                 "it-outbox"};
  queue::AmqpUrl broker_ = queue::parse_amqp_url(imageproc::testing::required_env("IMAGEPROC_TEST_AMQP_URL"));
  queue::Topology topology_ = queue::Topology::make("it-" + ids::new_request_id() + ".", {200ms}, 3);
  queue::AmqpConnection consumer_{broker_, "it-outbox-consumer"};
  db::OutboxRepository outbox_{pool_};

  void SetUp() override {
    consumer_.declare(topology_);
    consumer_.consume(topology_.image_jobs.name);
  }
};

TEST_F(OutboxRelayTest, PublishesCommittedRowsInOrderAndMarksThemPublished) {
  for (int i = 0; i < 3; ++i) enqueue(topology_.image_jobs.name, "{\"n\":" + std::to_string(i) + "}");
  queue::OutboxRelay relay(pool_, config_, broker_, topology_);
  EXPECT_EQ(relay.drain(), 3);
  EXPECT_EQ(outbox_.unpublished_count(), 0);
  EXPECT_EQ(receive(3, 10s), (std::vector<std::string>{R"({"n": 0})", R"({"n": 1})", R"({"n": 2})"}));
}

TEST_F(OutboxRelayTest, RolledBackTransactionsPublishNothing) {
  {
    auto conn = pool_.acquire();
    db::Transaction tx(*conn);
    db::OutboxRepository::enqueue(*conn, topology_.exchange, topology_.image_jobs.name, "{}");
    // no commit: the state change failed, so its message must not exist either
  }
  queue::OutboxRelay relay(pool_, config_, broker_, topology_);
  EXPECT_EQ(relay.drain(), 0);
  EXPECT_TRUE(receive(1, 1s).empty());
}

TEST_F(OutboxRelayTest, NotifyWakesTheRelayLongBeforeItsPoll) {
  queue::OutboxRelay relay(pool_, config_, broker_, topology_, {std::chrono::minutes(10), 100, 1s});
  ShutdownSignal stop;
  std::thread runner([&] { relay.run(stop); });
  std::this_thread::sleep_for(500ms);  // the relay is now idle, waiting on LISTEN
  enqueue(topology_.image_jobs.name, R"({"wake":true})");
  const auto got = receive(1, 30s);  // far below the 10-minute poll: only NOTIFY can explain delivery
  stop.request();
  runner.join();
  EXPECT_EQ(got, std::vector<std::string>{R"({"wake": true})"});
}

TEST_F(OutboxRelayTest, MessagesWrittenWhileTheBrokerIsAwayAreDeliveredWhenItReturns) {
  for (int i = 0; i < 2; ++i) enqueue(topology_.image_jobs.name, "{}");
  queue::AmqpUrl dead = broker_;
  dead.port = 1;  // nothing listens there: the broker is "down"
  queue::OutboxRelay down(pool_, config_, dead, topology_);
  EXPECT_THROW(down.drain(), queue::AmqpError);
  EXPECT_EQ(outbox_.unpublished_count(), 2);

  queue::OutboxRelay up(pool_, config_, broker_, topology_);
  EXPECT_EQ(up.drain(), 2);
  EXPECT_EQ(receive(2, 10s).size(), 2u);
}

TEST_F(OutboxRelayTest, UnroutableMessageIsDroppedWithoutBlockingTheRest) {
  enqueue("no-such-queue", R"({"lost":true})");
  enqueue(topology_.image_jobs.name, R"({"ok":true})");
  queue::OutboxRelay relay(pool_, config_, broker_, topology_);
  EXPECT_EQ(relay.drain(), 2);
  EXPECT_EQ(receive(1, 10s), std::vector<std::string>{R"({"ok": true})"});
  EXPECT_EQ(db_.scalar("SELECT last_error FROM outbox WHERE routing_key = 'no-such-queue'"), "unroutable");
}

TEST_F(OutboxRelayTest, ConcurrentRelaysPublishEachRowOnce) {
  constexpr int kRows = 200;
  for (int i = 0; i < kRows; ++i) enqueue(topology_.image_jobs.name, std::to_string(i));
  queue::OutboxRelay a(pool_, config_, broker_, topology_, {5s, 10, 1s});
  queue::OutboxRelay b(pool_, config_, broker_, topology_, {5s, 10, 1s});
  int published_a = 0, published_b = 0;
  std::thread ta([&] { published_a = a.drain(); });
  std::thread tb([&] { published_b = b.drain(); });
  ta.join();
  tb.join();
  EXPECT_EQ(published_a + published_b, kRows);
  const auto bodies = receive(kRows, 30s);
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kRows));
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), static_cast<std::size_t>(kRows));
  EXPECT_TRUE(receive(1, 1s).empty()) << "a row was published twice";
}

}  // namespace
