#include "db/outbox.hpp"

namespace imageproc::db {
namespace {

constexpr const char* kInsert =
    "INSERT INTO outbox (exchange, routing_key, payload) VALUES ($1, $2, $3::jsonb)";
constexpr const char* kClaim = R"(
SELECT id, exchange, routing_key, payload::text FROM outbox
WHERE published_at IS NULL ORDER BY id LIMIT $1
FOR UPDATE SKIP LOCKED)";
constexpr const char* kMarkPublished =
    "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = $2 WHERE id = $1";
constexpr const char* kMarkFailed = "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1";
constexpr const char* kCountUnpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL";
constexpr const char* kPrunePublished = R"(
DELETE FROM outbox WHERE id IN (
  SELECT id FROM outbox WHERE published_at < now() - make_interval(hours => $1::int) ORDER BY published_at LIMIT $2))";

}  // namespace

void OutboxRepository::enqueue(Connection& tx_conn, const std::string& exchange,
                               const std::string& routing_key, const std::string& payload_json) {
  tx_conn.exec(kInsert, params(exchange, routing_key, payload_json));
}

int OutboxRepository::process_batch(int limit,
                                    const std::function<PublishResult(const OutboxMessage&)>& publish) {
  auto conn = pool_.acquire();
  Transaction tx(*conn);
  const auto rows = conn->exec(kClaim, params(limit));
  int marked = 0;
  try {
    for (int i = 0; i < rows.rows(); ++i) {
      const OutboxMessage m{rows.get_int(i, 0), rows.get(i, 1), rows.get(i, 2), rows.get(i, 3)};
      const auto result = publish(m);
      if (result == PublishResult::Failed) {
        conn->exec(kMarkFailed, params(m.id));
        break;
      }
      conn->exec(kMarkPublished,
                 params(m.id, result == PublishResult::Dropped ? std::optional<std::string>("unroutable")
                                                               : std::nullopt));
      ++marked;
    }
  } catch (...) {
    // Keep what the broker already confirmed; the rest stays unpublished for the next round.
    if (conn->ok()) tx.commit();
    throw;
  }
  tx.commit();
  return marked;
}

std::int64_t OutboxRepository::unpublished_count() {
  auto conn = pool_.acquire();
  return conn->exec(kCountUnpublished).get_int(0, 0);
}

int OutboxRepository::prune_published(int older_than_hours, int limit) {
  auto conn = pool_.acquire();
  return conn->exec(kPrunePublished, params(older_than_hours, limit)).affected();
}

}  // namespace imageproc::db
