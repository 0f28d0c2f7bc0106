#include "db/migrations.hpp"

#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/logging.hpp"
#include "db/pool.hpp"

namespace imageproc::db {
namespace {

// Arbitrary constant shared by every imageproc process: the advisory lock serialising migrations.
constexpr const char* kLockKey = "7243011";

constexpr const char* kCreateTable = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))";
constexpr const char* kSelectApplied = "SELECT version, checksum FROM schema_migrations ORDER BY version";
constexpr const char* kInsertApplied =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";

}  // namespace

MigrationReport run_migrations(Connection& conn, const std::vector<Migration>& migrations) {
  // Waiting for another runner's lock and the migrations themselves may take longer than the session's
  // statement timeout; lift it for this call and restore it afterwards (the connection goes back to a pool).
  const std::string saved_timeout = conn.exec("SHOW statement_timeout").get(0, 0);
  conn.exec("SET statement_timeout = 0");
  conn.exec("SELECT pg_advisory_lock($1)", params(kLockKey));
  struct Restore {
    Connection& c;
    const std::string& timeout;
    ~Restore() {
      try {
        if (!c.ok()) return;
        c.exec("SELECT pg_advisory_unlock($1)", params(kLockKey));
        c.exec("SELECT set_config('statement_timeout', $1, false)", params(timeout));
      } catch (...) {
        // A broken connection is discarded by the pool; the lock dies with the session.
      }
    }
  } restore{conn, saved_timeout};

  conn.exec(kCreateTable);
  std::map<int, std::string> applied;
  auto rows = conn.exec(kSelectApplied);
  for (int i = 0; i < rows.rows(); ++i) applied[static_cast<int>(rows.get_int(i, 0))] = rows.get(i, 1);

  MigrationReport report;
  for (const auto& m : migrations) {
    const std::string checksum = crypto::sha256_hex(m.sql);
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second != checksum) {
        throw std::runtime_error(fmt::format(
            "migration {:04d}_{} was changed after it was applied; add a new migration instead", m.version,
            m.name));
      }
      report.current_version = m.version;
      continue;
    }
    Transaction tx(conn);
    conn.exec_script(m.sql);
    conn.exec(kInsertApplied, params(m.version, m.name, checksum));
    tx.commit();
    report.applied.push_back(m.version);
    report.current_version = m.version;
    log::info("migration applied", {{"version", m.version}, {"name", m.name}});
  }
  return report;
}

}  // namespace imageproc::db
