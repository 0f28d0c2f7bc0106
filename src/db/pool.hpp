#pragma once
// PostgreSQL access over libpq (only pool.cpp includes libpq). A Connection runs parameterised statements
// ($1, $2, … only — never string concatenation); every session has `statement_timeout` set, so no statement
// can hang a handler. The Pool is bounded: acquire() waits up to DB_ACQUIRE_TIMEOUT_MS and then fails with
// 503. Connections that fail are discarded and replaced lazily, so the pool heals after a database restart.
// Pool is thread-safe; a Connection is used by one thread at a time (the lease holder).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

struct pg_conn;
struct pg_result;

namespace imageproc::db {

// A statement failed in the database (constraint, syntax, …). Connection problems become AppError 503
// instead.
class DbError : public std::runtime_error {
 public:
  DbError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool is_unique_violation() const { return sqlstate_ == "23505"; }

 private:
  std::string sqlstate_;
};

using Param = std::optional<std::string>;

inline Param param(std::string_view v) {
  return std::string(v);
}
inline Param param(const char* v) {
  return std::string(v);
}
inline Param param(const std::string& v) {
  return v;
}
inline Param param(std::int64_t v) {
  return std::to_string(v);
}
inline Param param(int v) {
  return std::to_string(v);
}
inline Param param(bool v) {
  return v ? "true" : "false";
}
inline Param param(std::nullopt_t) {
  return std::nullopt;
}
inline Param param(const std::optional<std::string>& v) {
  return v;
}

template <typename... Args>
std::vector<Param> params(Args&&... args) {
  return {param(std::forward<Args>(args))...};
}

class Result {
 public:
  explicit Result(pg_result* res);
  int rows() const;
  int affected() const;  // rows changed by INSERT/UPDATE/DELETE
  bool is_null(int row, int col) const;
  std::string get(int row, int col) const;
  std::optional<std::string> get_opt(int row, int col) const;
  std::int64_t get_int(int row, int col) const;
  bool get_bool(int row, int col) const;
  int column(std::string_view name) const;  // throws if absent

 private:
  std::shared_ptr<pg_result> res_;
};

struct Notification {
  std::string channel;
  std::string payload;
};

class Connection {
 public:
  Connection(const std::string& url, std::chrono::milliseconds statement_timeout,
             const std::string& app_name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result exec(std::string_view sql, const std::vector<Param>& params = {});
  // Runs several ;-separated statements without parameters (migration files only; never user input).
  void exec_script(std::string_view sql);
  // LISTEN on a channel (a constant of ours, never input). Notifications are then read by
  // wait_for_notification.
  void listen(std::string_view channel);
  // Waits up to `timeout` for at least one notification; drains every pending one. True when any arrived.
  bool wait_for_notification(std::chrono::milliseconds timeout);
  bool ok() const;

 private:
  Result check(pg_result* res);

  pg_conn* conn_ = nullptr;
  bool broken_ = false;
};

// RAII transaction: rolls back unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& conn);
  ~Transaction();
  void commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

class Pool {
 public:
  Pool(DatabaseConfig config, std::string app_name);
  ~Pool();

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Lease acquire();
  const DatabaseConfig& config() const { return config_; }

 private:
  void release(std::unique_ptr<Connection> conn);

  DatabaseConfig config_;
  std::string app_name_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections created and not yet discarded (idle + leased)
};

// A PostgreSQL array literal ("{\"a\",\"b\"}") of `items`, for a `$n::text[]` (or `::uuid[]`) parameter.
std::string array_literal(const std::vector<std::string>& items);

// PostgreSQL timestamptz text ("2026-11-22 02:38:15.123+00", sessions run in UTC) → RFC 3339 ("…T…Z").
std::string iso_timestamp(std::string_view pg_text);

}  // namespace imageproc::db
