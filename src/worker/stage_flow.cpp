#include "worker/stage_flow.hpp"

#include "core/logging.hpp"

namespace imageproc::worker {

StageFlow::StageFlow(db::JobRepository& jobs, queue::Topology topology, db::Stage stage, int lease_seconds)
    : jobs_(jobs), topology_(std::move(topology)), stage_(stage), lease_seconds_(lease_seconds) {}

const queue::WorkQueue& StageFlow::work_queue() const {
  return stage_ == db::Stage::Image ? topology_.image_jobs : topology_.ai_jobs;
}

StageFlow::Start StageFlow::begin(const queue::Delivery& delivery) {
  const char* stage = db::stage_name(stage_);
  Start start;
  try {
    start.message = contracts::decode_stage_message(delivery.body);
  } catch (const contracts::MalformedMessage& e) {
    log::error("malformed stage message dead-lettered", {{"stage", stage}, {"error", e.what()}});
    start.disposition = queue::Disposition::DeadLetter;
    return start;
  }
  const auto& job_id = start.message.job_id;

  const bool redelivered = delivery.redelivered || delivery.delivery_count > 0;
  auto claim = jobs_.claim_stage(stage_, job_id, redelivered, lease_seconds_);
  switch (claim.outcome) {
    case db::ClaimOutcome::Gone:
      log::info("message for a deleted or unknown job dropped", {{"stage", stage}, {"jobId", job_id}});
      return start;
    case db::ClaimOutcome::AlreadyDone:
    case db::ClaimOutcome::InProgress:
      log::info("duplicate stage delivery skipped", {{"stage", stage}, {"jobId", job_id}});
      return start;
    case db::ClaimOutcome::Claimed: break;
  }

  // The broker dead-letters a message after its delivery limit; if earlier deliveries of this one all died
  // mid-work, stop here with a visible Error instead of letting it vanish.
  if (delivery.delivery_count >= topology_.delivery_limit - 1) {
    jobs_.fail_stage(stage_, job_id,
                     stage_ == db::Stage::Image
                         ? "Processing stopped unexpectedly several times; the image cannot be processed."
                         : "The analysis stopped unexpectedly several times; it was abandoned.");
    log::error("stage abandoned after repeated interrupted deliveries",
               {{"stage", stage}, {"jobId", job_id}, {"deliveries", delivery.delivery_count + 1}});
    return start;
  }
  start.job = std::move(claim.job);
  return start;
}

void StageFlow::retry_or_fail(const contracts::StageMessage& message, const std::string& reason,
                              std::chrono::milliseconds at_least) {
  const char* stage = db::stage_name(stage_);
  const int max_attempts = static_cast<int>(topology_.retry_delays.size()) + 1;
  if (message.attempt >= max_attempts) {
    jobs_.fail_stage(stage_, message.job_id,
                     reason + " Gave up after " + std::to_string(max_attempts) + " attempts.");
    log::warn("stage gave up", {{"stage", stage}, {"jobId", message.job_id}, {"attempts", max_attempts}});
    return;
  }
  contracts::StageMessage next = message;
  next.attempt = message.attempt + 1;
  const auto& retry_queue = topology_.retry_queue_for(work_queue(), message.attempt, at_least);
  jobs_.schedule_retry(stage_, message.job_id, next, topology_.retry_exchange, retry_queue,
                       reason + " Retrying (attempt " + std::to_string(next.attempt) + " of " +
                           std::to_string(max_attempts) + ").");
  log::info("stage retry scheduled",
            {{"stage", stage}, {"jobId", message.job_id}, {"attempt", next.attempt}, {"queue", retry_queue}});
}

}  // namespace imageproc::worker
