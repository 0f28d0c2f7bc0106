#include "db/pool.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

#include "core/errors.hpp"
#include "core/logging.hpp"

namespace imageproc::db {

namespace {
AppError unavailable(const std::string& internal) {
  return errors::service_unavailable("The database is unavailable; try again shortly.", internal);
}
}  // namespace

Result::Result(pg_result* res) : res_(res, PQclear) {}
int Result::rows() const {
  return PQntuples(res_.get());
}
int Result::affected() const {
  const char* n = PQcmdTuples(res_.get());
  return n && *n ? std::atoi(n) : 0;
}
bool Result::is_null(int row, int col) const {
  return PQgetisnull(res_.get(), row, col) == 1;
}
std::string Result::get(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(res_.get(), row, col)));
}
std::optional<std::string> Result::get_opt(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return get(row, col);
}
std::int64_t Result::get_int(int row, int col) const {
  return std::stoll(get(row, col));
}
bool Result::get_bool(int row, int col) const {
  return get(row, col) == "t";
}
int Result::column(std::string_view name) const {
  const int c = PQfnumber(res_.get(), std::string(name).c_str());
  if (c < 0) throw std::logic_error(fmt::format("no column {}", name));
  return c;
}

Connection::Connection(const std::string& url, std::chrono::milliseconds statement_timeout,
                       const std::string& app_name) {
  const std::string options =
      fmt::format("-c statement_timeout={} -c TimeZone=UTC", statement_timeout.count());
  const char* keys[] = {"dbname", "options", "application_name", "connect_timeout", nullptr};
  const char* values[] = {url.c_str(), options.c_str(), app_name.c_str(), "5", nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw unavailable("connect: " + message);
  }
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::ok() const {
  return conn_ && !broken_ && PQstatus(conn_) == CONNECTION_OK;
}

Result Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return check(PQexecParams(conn_, std::string(sql).c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
}

void Connection::exec_script(std::string_view sql) {
  check(PQexec(conn_, std::string(sql).c_str()));
}

void Connection::listen(std::string_view channel) {
  exec(std::string("LISTEN ") + std::string(channel));
}

bool Connection::wait_for_notification(std::chrono::milliseconds timeout) {
  auto drain = [this] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (drain()) return true;
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) {
    broken_ = true;
    throw unavailable("poll on the notification connection failed");
  }
  if (ready > 0 && PQconsumeInput(conn_) == 0) {
    broken_ = true;
    throw unavailable(std::string("notification connection lost: ") + PQerrorMessage(conn_));
  }
  return drain();
}

Result Connection::check(pg_result* res) {
  Result result(res);
  const auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    throw unavailable(std::string("connection lost: ") + PQerrorMessage(conn_));
  }
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  const std::string message = res ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
  if (sqlstate == "57014") throw unavailable("statement timeout: " + message);
  // Class 08 (connection exception), 53 (insufficient resources), 57P (shutdown): the database, not the
  // query.
  if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("53", 0) == 0 || sqlstate.rfind("57P", 0) == 0) {
    broken_ = true;
    throw unavailable(message);
  }
  throw DbError(sqlstate, message);
}

Transaction::Transaction(Connection& conn) : conn_(conn) {
  conn_.exec("BEGIN");
}
Transaction::~Transaction() {
  if (done_) return;
  try {
    if (conn_.ok()) conn_.exec("ROLLBACK");
  } catch (...) {
    // The connection is marked broken and will be discarded by the pool.
  }
}
void Transaction::commit() {
  conn_.exec("COMMIT");
  done_ = true;
}

Pool::Pool(DatabaseConfig config, std::string app_name)
    : config_(std::move(config)), app_name_(std::move(app_name)) {}
Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + config_.acquire_timeout;
  for (;;) {
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    if (open_ < config_.pool_size) {
      ++open_;
      lock.unlock();
      try {
        return Lease(*this, std::make_unique<Connection>(config_.url, config_.statement_timeout, app_name_));
      } catch (...) {
        lock.lock();
        --open_;
        available_.notify_one();
        throw;
      }
    }
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= config_.pool_size) {
      throw errors::service_unavailable("The server is busy; try again shortly.",
                                        "timed out waiting for a database connection");
    }
  }
}

void Pool::release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mutex_);
  if (conn->ok()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;  // discarded; a fresh one is opened on demand
  }
  available_.notify_one();
}

std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string iso_timestamp(std::string_view pg) {
  // "YYYY-MM-DD HH:MM:SS[.ffffff]+00" → "YYYY-MM-DDTHH:MM:SS.mmmZ"
  if (pg.size() < 19) return std::string(pg);
  std::string out(pg.substr(0, 10));
  out += 'T';
  out += pg.substr(11, 8);
  std::size_t i = 19;
  std::string frac;
  if (i < pg.size() && pg[i] == '.') {
    ++i;
    while (i < pg.size() && std::isdigit(static_cast<unsigned char>(pg[i]))) frac += pg[i++];
  }
  frac.resize(3, '0');
  out += '.' + frac + 'Z';
  return out;
}

}  // namespace imageproc::db
