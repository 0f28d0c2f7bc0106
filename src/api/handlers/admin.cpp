#include "api/handlers/admin.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "api/metrics.hpp"
#include "contracts/jobs.hpp"
#include "core/errors.hpp"
#include "core/logging.hpp"
#include "core/text.hpp"

namespace imageproc::api {

namespace {

nlohmann::json optional_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nullptr;
}

// Every status appears, zero included, so clients and dashboards need no special cases.
nlohmann::json zeroed(std::initializer_list<const char*> names) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* n : names) out[n] = 0;
  return out;
}


void gauge_header(std::string& out, const char* name, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
}

}  // namespace

nlohmann::json schedule_json(const db::ScheduleRecord& r) {
  return {{"name", r.name},
          {"cron", r.cron},
          {"enabled", r.enabled},
          {"nextRunAt", optional_json(r.next_run_at)},
          {"lastRunAt", optional_json(r.last_run_at)},
          {"lastStatus", optional_json(r.last_status)},
          {"runRequestedAt", optional_json(r.run_requested_at)}};
}

nlohmann::json overview_json(const OperationsSnapshot& s, const std::string& generated_at) {
  nlohmann::json by_status = zeroed({"Pending", "Processing", "Completed", "Error"});
  nlohmann::json by_ai = zeroed({"Pending", "Processing", "Completed", "Error", "Skipped"});
  nlohmann::json by_overall = nlohmann::json::object();
  for (const auto& o : contracts::overall_statuses()) by_overall[o] = 0;
  std::int64_t total = 0;
  for (const auto& c : s.jobs.live) {
    by_status[c.status] = by_status.value(c.status, std::int64_t{0}) + c.count;
    by_ai[c.ai_status] = by_ai.value(c.ai_status, std::int64_t{0}) + c.count;
    const auto overall = contracts::overall_status(c.status, c.ai_status);
    by_overall[overall] = by_overall.value(overall, std::int64_t{0}) + c.count;
    total += c.count;
  }

  nlohmann::json queues = nlohmann::json::array();
  for (const auto& q : s.queues.value_or(std::vector<queue::QueueReport>{})) {
    queues.push_back({{"name", q.name},
                      {"messages", q.work.messages},
                      {"consumers", q.work.consumers},
                      {"retrying", q.retrying},
                      {"deadLetterQueue", q.dead_letter_queue},
                      {"deadLetters", q.dead_letters}});
  }
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& w : s.workers) {
    workers.push_back({{"instance", w.instance},
                       {"kind", w.kind},
                       {"startedAt", w.started_at},
                       {"seenAt", w.seen_at},
                       {"inFlight", w.in_flight},
                       {"alive", w.alive}});
  }
  nlohmann::json schedules = nlohmann::json::array();
  for (const auto& r : s.schedules) schedules.push_back(schedule_json(r));
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : s.recent_runs) {
    runs.push_back({{"id", r.id},
                    {"name", r.name},
                    {"trigger", r.trigger},
                    {"instance", r.instance},
                    {"scheduledFor", optional_json(r.scheduled_for)},
                    {"startedAt", r.started_at},
                    {"finishedAt", optional_json(r.finished_at)},
                    {"status", r.status},
                    {"stats", r.stats},
                    {"error", optional_json(r.error)}});
  }
  return {{"generatedAt", generated_at},
          {"jobs",
           {{"total", total},
            {"byStatus", by_status},
            {"byAiStatus", by_ai},
            {"byOverallStatus", by_overall},
            {"deletedPending", s.jobs.deleted_pending}}},
          {"queues", queues},
          {"queuesError", optional_json(s.queues_error)},
          {"workers", workers},
          {"schedules", schedules},
          {"recentRuns", runs}};
}

std::string operations_metrics_text(const OperationsSnapshot& s, const db::ScheduleMetrics& m) {
  std::string out;
  std::map<std::string, std::int64_t> overall;
  for (const auto& o : contracts::overall_statuses()) overall[o] = 0;
  for (const auto& c : s.jobs.live) overall[contracts::overall_status(c.status, c.ai_status)] += c.count;
  gauge_header(out, "imageproc_jobs", "Jobs by overall status (whole deployment).");
  for (const auto& [status, count] : overall)
    out += fmt::format("imageproc_jobs{{status=\"{}\"}} {}\n", status, count);
  gauge_header(out, "imageproc_jobs_deleted_pending",
               "Jobs deleted by their owner whose objects await purging.");
  out += fmt::format("imageproc_jobs_deleted_pending {}\n", s.jobs.deleted_pending);

  gauge_header(out, "imageproc_broker_up", "1 when the queue depths below could be read from RabbitMQ.");
  out += fmt::format("imageproc_broker_up {}\n", s.queues ? 1 : 0);
  if (s.queues) {
    gauge_header(out, "imageproc_queue_messages", "Ready messages in a work queue.");
    for (const auto& q : *s.queues)
      out +=
          fmt::format("imageproc_queue_messages{{queue=\"{}\"}} {}\n", escape_label(q.name), q.work.messages);
    gauge_header(out, "imageproc_queue_consumers", "Consumers of a work queue.");
    for (const auto& q : *s.queues)
      out += fmt::format("imageproc_queue_consumers{{queue=\"{}\"}} {}\n", escape_label(q.name),
                         q.work.consumers);
    gauge_header(out, "imageproc_queue_retrying", "Messages of a work queue waiting in its retry queues.");
    for (const auto& q : *s.queues)
      out += fmt::format("imageproc_queue_retrying{{queue=\"{}\"}} {}\n", escape_label(q.name), q.retrying);
    gauge_header(out, "imageproc_queue_dead_letters", "Messages in a work queue's dead-letter queue.");
    for (const auto& q : *s.queues)
      out += fmt::format("imageproc_queue_dead_letters{{queue=\"{}\"}} {}\n", escape_label(q.name),
                         q.dead_letters);
  }

  int alive = 0;
  for (const auto& w : s.workers) alive += w.alive ? 1 : 0;
  gauge_header(out, "imageproc_workers", "Worker heartbeat rows, by whether they are current.");
  out += fmt::format("imageproc_workers{{state=\"alive\"}} {}\n", alive);
  out += fmt::format("imageproc_workers{{state=\"stale\"}} {}\n", static_cast<int>(s.workers.size()) - alive);

  gauge_header(out, "imageproc_schedule_runs",
               "Runs kept in schedule_runs (SCHEDULE_HISTORY_DAYS), by outcome.");
  for (const auto& t : m.totals) {
    out += fmt::format("imageproc_schedule_runs{{schedule=\"{}\",status=\"{}\"}} {}\n", escape_label(t.name),
                       t.status, t.runs);
  }
  gauge_header(out, "imageproc_schedule_run_seconds",
               "Summed duration of the kept finished runs, by outcome.");
  for (const auto& t : m.totals) {
    out += fmt::format("imageproc_schedule_run_seconds{{schedule=\"{}\",status=\"{}\"}} {}\n",
                       escape_label(t.name), t.status, t.seconds);
  }
  gauge_header(out, "imageproc_schedule_last_duration_seconds", "Duration of the last finished run.");
  for (const auto& l : m.last) {
    if (l.last_duration_seconds) {
      out += fmt::format("imageproc_schedule_last_duration_seconds{{schedule=\"{}\"}} {}\n",
                         escape_label(l.name), *l.last_duration_seconds);
    }
  }
  gauge_header(out, "imageproc_schedule_last_success_timestamp_seconds",
               "When the last successful run finished.");
  for (const auto& l : m.last) {
    if (l.last_success_epoch) {
      out += fmt::format("imageproc_schedule_last_success_timestamp_seconds{{schedule=\"{}\"}} {}\n",
                         escape_label(l.name), *l.last_success_epoch);
    }
  }
  gauge_header(out, "imageproc_schedule_items",
               "Items handled by the kept runs (e.g. jobsDeleted), by schedule.");
  for (const auto& i : m.items) {
    out += fmt::format("imageproc_schedule_items{{schedule=\"{}\",item=\"{}\"}} {}\n", escape_label(i.name),
                       escape_label(i.item), i.total);
  }
  return out;
}

AdminHandlers::AdminHandlers(db::JobRepository& jobs, db::HeartbeatRepository& heartbeats,
                             db::ScheduleRepository& schedules, QueueProbe queues, int worker_stale_seconds)
    : jobs_(jobs),
      heartbeats_(heartbeats),
      schedules_(schedules),
      queues_(std::move(queues)),
      worker_stale_seconds_(worker_stale_seconds) {}

void AdminHandlers::register_routes(Router& router) {
  RouteOptions admin;
  admin.access = Access::Admin;
  admin.rate = RateClass::Read;
  router.add(
      "GET", "/api/admin/overview", [this](Request& r) { return overview(r); }, admin);
  router.add(
      "POST", "/api/admin/schedules/{name}/run", [this](Request& r) { return run_schedule(r); }, admin);
}

OperationsSnapshot AdminHandlers::snapshot(int recent_runs) {
  OperationsSnapshot s;
  s.jobs = jobs_.counts();
  try {
    s.queues = queues_();
  } catch (const std::exception& e) {
    log::warn("could not read queue depths", {{"error", e.what()}});
    s.queues_error = "RabbitMQ could not be asked for queue depths.";
  }
  s.workers = heartbeats_.list(worker_stale_seconds_);
  s.schedules = schedules_.list();
  if (recent_runs > 0) s.recent_runs = schedules_.recent_runs(recent_runs);
  return s;
}

Response AdminHandlers::overview(Request&) {
  return Response::json(
      200, overview_json(snapshot(kRecentRuns), text::rfc3339(std::chrono::system_clock::now())));
}

Response AdminHandlers::run_schedule(Request& request) {
  const auto& name = request.param("name");
  const auto requested_at = schedules_.request_run(name);
  if (!requested_at) throw errors::not_found("There is no schedule named '" + name + "'.");
  log::info("schedule run requested",
            {{"schedule", name}, {"requestId", request.request_id}, {"by", request.principal->user_id}});
  return Response::json(202, {{"name", name}, {"requestedAt", *requested_at}});
}

std::string AdminHandlers::metrics_text() {
  return operations_metrics_text(snapshot(0), schedules_.metrics());
}

}  // namespace imageproc::api
