#include "worker/ai_stage.hpp"

#include <fmt/format.h>

#include <thread>

#include "core/logging.hpp"
#include "core/temp_file.hpp"
#include "imaging/pipeline.hpp"

namespace imageproc::worker {

// What the analysis came to: an answer to record, or a failure (permanent, or transient with a wait).
struct AiStage::Outcome {
  enum class Kind { Completed, Permanent, Transient } kind = Kind::Completed;
  std::string public_message;
  std::chrono::milliseconds retry_after{0};
  ai::Analysis analysis;
};

AiStage::AiStage(db::JobRepository& jobs, storage::ObjectStore& store, queue::Topology topology,
                 ai::Analyzer* analyzer, AiStageSettings settings)
    : jobs_(jobs),
      store_(store),
      flow_(jobs, std::move(topology), db::Stage::Ai, settings.lease_seconds),
      analyzer_(analyzer),
      settings_(std::move(settings)) {}

std::optional<std::string> AiStage::budget_exhausted(const db::JobRecord& job) {
  if (settings_.daily_budget_usd <= 0) return std::nullopt;
  const double spent = jobs_.ai_spent_today(job.user_id);
  if (spent < settings_.daily_budget_usd) return std::nullopt;
  log::info("AI stage skipped: daily budget reached",
            {{"jobId", job.id}, {"spentUsd", spent}, {"budgetUsd", settings_.daily_budget_usd}});
  const double budget = settings_.daily_budget_usd;
  return fmt::format("The daily AI budget of ${} is used up; the analysis was skipped.",
                     budget >= 0.01 ? fmt::format("{:.2f}", budget) : fmt::format("{:g}", budget));
}

AiStage::Outcome AiStage::analyze(const db::JobRecord& job) {
  Outcome outcome;
  ai::AnalysisInput input;
  try {
    const TempDir work = TempDir::create(scratch_directory(settings_.temp_dir), "ai-");
    const auto original = work.path() / "original";
    store_.get_to_file(job.original_key, original);
    auto jpeg = imaging::analysis_jpeg(original, analyzer_->input_max_dimension());
    input = ai::AnalysisInput{std::move(jpeg.bytes), jpeg.mime_type, jpeg.width, jpeg.height};
  } catch (const storage::StorageError& e) {
    log::warn("AI stage storage failure", {{"jobId", job.id}, {"error", e.what()}});
    outcome.kind = e.kind() == storage::StorageErrorKind::Transient ? Outcome::Kind::Transient
                                                                    : Outcome::Kind::Permanent;
    outcome.public_message = e.kind() == storage::StorageErrorKind::NotFound    ? "The original file is missing from storage."
                             : e.kind() == storage::StorageErrorKind::Transient ? "The image store was unavailable."
                                                                                : "The original could not be read from storage.";
    return outcome;
  } catch (const imaging::ImageRejected& e) {
    outcome.kind = Outcome::Kind::Permanent;
    outcome.public_message = e.what();
    return outcome;
  } catch (const std::exception& e) {
    log::warn("AI stage input preparation failed", {{"jobId", job.id}, {"error", e.what()}});
    outcome.kind = Outcome::Kind::Transient;
    outcome.public_message = "The analysis failed because of a temporary problem on the server.";
    return outcome;
  }

  try {
    outcome.analysis = ai::normalized(analyzer_->analyze(input));
  } catch (const ai::AnalysisError& e) {
    log::warn("AI provider call failed", {{"jobId", job.id},
                                          {"transient", e.transient()},
                                          {"error", e.what()},
                                          {"detail", e.detail()}});
    outcome.kind = e.transient() ? Outcome::Kind::Transient : Outcome::Kind::Permanent;
    outcome.public_message = e.what();
    if (e.retry_after()) outcome.retry_after = *e.retry_after();
  } catch (const std::exception& e) {
    log::warn("AI analysis failed", {{"jobId", job.id}, {"error", e.what()}});
    outcome.kind = Outcome::Kind::Transient;
    outcome.public_message = "The analysis failed because of a temporary problem on the server.";
  }
  return outcome;
}

bool AiStage::record(const db::JobRecord& job, const ai::Analysis& analysis) {
  // The provider has answered (and charged): keep the answer through a short database outage instead of
  // letting the consumer redeliver the message, which would ask again. Bounded: after the last attempt the
  // error propagates and the consumer's own retry takes over.
  constexpr int kAttempts = 5;
  auto delay = std::chrono::milliseconds(500);
  for (int attempt = 1;; ++attempt) {
    try {
      return jobs_.complete_ai_stage(job.id, ai::to_json(analysis), analysis.meta.estimated_cost_usd).has_value();
    } catch (const std::exception& e) {
      if (attempt == kAttempts) throw;
      log::warn("recording the analysis failed; retrying", {{"jobId", job.id}, {"attempt", attempt}, {"error", e.what()}});
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  }
}

queue::Disposition AiStage::handle(const queue::Delivery& delivery) {
  const auto start = flow_.begin(delivery);
  if (!start.job) return start.disposition;
  const contracts::StageMessage& message = start.message;
  const db::JobRecord& job = *start.job;

  if (analyzer_ == nullptr) {
    jobs_.skip_ai_stage(job.id, "AI analysis is disabled.");
    return queue::Disposition::Ack;
  }
  if (auto reason = budget_exhausted(job)) {
    jobs_.skip_ai_stage(job.id, *reason);
    return queue::Disposition::Ack;
  }

  log::info("AI stage started", {{"jobId", job.id}, {"attempt", message.attempt}, {"traceId", message.trace_id}});
  const Outcome outcome = analyze(job);
  switch (outcome.kind) {
    case Outcome::Kind::Completed:
      if (record(job, outcome.analysis)) {
        log::info("AI stage completed", {{"jobId", job.id},
                                         {"provider", outcome.analysis.meta.provider},
                                         {"model", outcome.analysis.meta.model},
                                         {"latencyMs", outcome.analysis.meta.latency_ms},
                                         {"costUsd", outcome.analysis.meta.estimated_cost_usd}});
      } else {
        log::info("AI stage result not recorded: job deleted or finished by another delivery", {{"jobId", job.id}});
      }
      break;
    case Outcome::Kind::Permanent:
      jobs_.fail_stage(db::Stage::Ai, job.id, outcome.public_message);
      break;
    case Outcome::Kind::Transient:
      flow_.retry_or_fail(message, outcome.public_message, outcome.retry_after);
      break;
  }
  return queue::Disposition::Ack;
}

}  // namespace imageproc::worker
