#include "worker/image_stage.hpp"

#include <variant>

#include "core/logging.hpp"
#include "core/temp_file.hpp"

namespace imageproc::worker {

namespace {

std::string mime_of(const std::string& format) { return "image/" + format; }

}  // namespace

// What processing produced: results to record, a permanent failure, or a transient one worth retrying.
struct ImageStage::Outcome {
  enum class Kind { Completed, Permanent, Transient } kind = Kind::Completed;
  std::string public_message;  // for Permanent/Transient: safe to show to the owner
  nlohmann::json outputs = nlohmann::json::array();
  nlohmann::json metadata;
  int width = 0;
  int height = 0;
};

ImageStage::ImageStage(db::JobRepository& jobs, storage::ObjectStore& store, queue::Topology topology,
                       ImageStageSettings settings)
    : jobs_(jobs), store_(store), topology_(std::move(topology)), settings_(std::move(settings)) {}

ImageStage::Outcome ImageStage::process(const db::JobRecord& job) {
  Outcome outcome;
  try {
    const TempDir work = TempDir::create(scratch_directory(settings_.temp_dir), "stage-");
    const auto input = work.path() / "original";
    store_.get_to_file(job.original_key, input);
    const auto result = imaging::process_image(input, settings_.imaging, work.path() / "out");
    for (const auto& output : result.outputs) {
      const auto key = contracts::output_key(job.user_id, job.id, output.name, output.format);
      store_.put_file(key, output.path, mime_of(output.format));
      outcome.outputs.push_back({{"name", output.name},
                                 {"format", output.format},
                                 {"width", output.width},
                                 {"height", output.height},
                                 {"bytes", output.bytes},
                                 {"key", key}});
    }
    outcome.metadata = result.metadata;
    outcome.width = result.metadata.value("width", 0);
    outcome.height = result.metadata.value("height", 0);
  } catch (const imaging::ImageRejected& e) {
    log::info("image rejected by the image stage", {{"jobId", job.id}, {"reason", e.what()}, {"detail", e.detail()}});
    outcome.kind = Outcome::Kind::Permanent;
    outcome.public_message = e.what();
  } catch (const storage::StorageError& e) {
    log::warn("image stage storage failure", {{"jobId", job.id}, {"error", e.what()}});
    if (e.kind() == storage::StorageErrorKind::NotFound) {
      outcome.kind = Outcome::Kind::Permanent;
      outcome.public_message = "The original file is missing from storage.";
    } else if (e.kind() == storage::StorageErrorKind::Permanent) {
      outcome.kind = Outcome::Kind::Permanent;
      outcome.public_message = "The image could not be stored.";
    } else {
      outcome.kind = Outcome::Kind::Transient;
      outcome.public_message = "The image store was unavailable.";
    }
  } catch (const std::exception& e) {
    // Disk full, unwritable scratch space, out of memory: the environment, not the image.
    log::warn("image stage failed", {{"jobId", job.id}, {"error", e.what()}});
    outcome.kind = Outcome::Kind::Transient;
    outcome.public_message = "Processing failed because of a temporary problem on the server.";
  }
  return outcome;
}

void ImageStage::retry_or_fail(const contracts::StageMessage& message, const std::string& reason) {
  const int max_attempts = static_cast<int>(topology_.retry_delays.size()) + 1;
  if (message.attempt >= max_attempts) {
    jobs_.fail_image_stage(message.job_id,
                           reason + " Gave up after " + std::to_string(max_attempts) + " attempts.");
    log::warn("image stage gave up", {{"jobId", message.job_id}, {"attempts", max_attempts}});
    return;
  }
  contracts::StageMessage next = message;
  next.attempt = message.attempt + 1;
  const auto& retry_queue = topology_.retry_queue_for(topology_.image_jobs, message.attempt);
  jobs_.schedule_image_retry(message.job_id, next, topology_.retry_exchange, retry_queue,
                             reason + " Retrying (attempt " + std::to_string(next.attempt) + " of " +
                                 std::to_string(max_attempts) + ").");
  log::info("image stage retry scheduled",
            {{"jobId", message.job_id}, {"attempt", next.attempt}, {"queue", retry_queue}});
}

queue::Disposition ImageStage::handle(const queue::Delivery& delivery) {
  contracts::StageMessage message;
  try {
    message = contracts::decode_stage_message(delivery.body);
  } catch (const contracts::MalformedMessage& e) {
    log::error("malformed image-stage message dead-lettered", {{"error", e.what()}});
    return queue::Disposition::DeadLetter;
  }

  const bool redelivered = delivery.redelivered || delivery.delivery_count > 0;
  const auto claim = jobs_.claim_image_stage(message.job_id, redelivered, settings_.lease_seconds);
  switch (claim.outcome) {
    case db::ClaimOutcome::Gone:
      log::info("message for a deleted or unknown job dropped", {{"jobId", message.job_id}});
      return queue::Disposition::Ack;
    case db::ClaimOutcome::AlreadyDone:
    case db::ClaimOutcome::InProgress:
      log::info("duplicate image-stage delivery skipped", {{"jobId", message.job_id}});
      return queue::Disposition::Ack;
    case db::ClaimOutcome::Claimed: break;
  }
  const db::JobRecord& job = *claim.job;

  // The broker dead-letters a message after its delivery limit; if earlier deliveries of this one all died
  // mid-processing (crash, OOM kill), stop here with a visible Error instead of letting it vanish.
  if (delivery.delivery_count >= topology_.delivery_limit - 1) {
    jobs_.fail_image_stage(job.id, "Processing stopped unexpectedly several times; the image cannot be processed.");
    log::error("image stage abandoned after repeated interrupted deliveries",
               {{"jobId", job.id}, {"deliveries", delivery.delivery_count + 1}});
    return queue::Disposition::Ack;
  }

  log::info("image stage started", {{"jobId", job.id}, {"attempt", message.attempt}, {"traceId", message.trace_id}});
  const auto started = std::chrono::steady_clock::now();
  const Outcome outcome = process(job);
  switch (outcome.kind) {
    case Outcome::Kind::Completed: {
      const auto done = jobs_.complete_image_stage(job.id, outcome.width, outcome.height, outcome.outputs,
                                                   outcome.metadata, message.trace_id);
      if (!done) {
        const auto now = jobs_.find(job.id);
        if (!now || now->deleted_at) {
          // Deleted while we worked: its purge may already have run, so remove what we just wrote.
          store_.remove_prefix(contracts::processed_prefix(job.user_id, job.id));
          log::info("job deleted during processing; outputs removed", {{"jobId", job.id}});
        } else {
          // Another delivery of the same message finished first; the outputs (same keys) are its outputs.
          log::info("image stage already finished by another delivery", {{"jobId", job.id}, {"status", now->status}});
        }
        return queue::Disposition::Ack;
      }
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
      log::info("image stage completed", {{"jobId", job.id}, {"durationMs", ms}, {"outputs", outcome.outputs.size()}});
      break;
    }
    case Outcome::Kind::Permanent:
      jobs_.fail_image_stage(job.id, outcome.public_message);
      break;
    case Outcome::Kind::Transient:
      retry_or_fail(message, outcome.public_message);
      break;
  }
  return queue::Disposition::Ack;
}

}  // namespace imageproc::worker
