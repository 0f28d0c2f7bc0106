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
    : jobs_(jobs),
      store_(store),
      flow_(jobs, std::move(topology), db::Stage::Image, settings.lease_seconds),
      settings_(std::move(settings)) {}

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

queue::Disposition ImageStage::handle(const queue::Delivery& delivery) {
  const auto start = flow_.begin(delivery);
  if (!start.job) return start.disposition;
  const contracts::StageMessage& message = start.message;
  const db::JobRecord& job = *start.job;

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
      jobs_.fail_stage(db::Stage::Image, job.id, outcome.public_message);
      break;
    case Outcome::Kind::Transient:
      flow_.retry_or_fail(message, outcome.public_message);
      break;
  }
  return queue::Disposition::Ack;
}

}  // namespace imageproc::worker
