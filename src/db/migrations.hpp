#pragma once
// Versioned SQL migrations (src/db/migrations/NNNN_name.sql, compiled into the binary). run_migrations() takes a
// session advisory lock so any number of processes may call it at once: one applies, the others wait and then
// find nothing to do. Each migration runs in its own transaction together with its row in schema_migrations,
// so a failure leaves the schema at the previous version. An applied migration whose text changed is refused.

#include <string>
#include <vector>

namespace imageproc::db {

class Connection;

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

const std::vector<Migration>& embedded_migrations();

struct MigrationReport {
  std::vector<int> applied;  // versions applied by this call
  int current_version = 0;
};

MigrationReport run_migrations(Connection& conn, const std::vector<Migration>& migrations);

}  // namespace imageproc::db
