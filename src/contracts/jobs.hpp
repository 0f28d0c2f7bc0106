#pragma once
// The job contracts shared by the API, the worker and the web UI (DESIGN §4–§7): status values and the one
// overall-status rule, the stage message on the work queues, the job event on `imageproc.events`, and the
// deterministic object keys. Pure: no database, broker or HTTP code, so every rule here is unit-tested alone.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imageproc::contracts {

inline constexpr int kMessageVersion = 1;

// --- statuses
// ------------------------------------------------------------------------------------------------

// `status` (image stage): Pending, Processing, Completed, Error. `aiStatus`: the same plus Skipped.
bool is_stage_status(std::string_view status);
bool is_ai_status(std::string_view status);

// DESIGN §4: Error if either stage is Error; else Processing while the image stage is Pending/Processing;
// else AiProcessing while the AI stage is Pending/Processing; else Completed.
std::string overall_status(std::string_view status, std::string_view ai_status);
// The values overall_status() can return (the `status` filter of GET /api/images accepts these).
const std::vector<std::string>& overall_statuses();

// --- stage message
// -----------------------------------------------------------------------------------------------

// Body of a message on image-jobs / image-ai-jobs: {"v":1, "jobId", "userId", "attempt", "traceId"}.
// The database row is the source of truth; the message only says "look at this job".
struct StageMessage {
  std::string job_id;
  std::string user_id;
  int attempt = 1;  // 1 for the first try; +1 for each retry through the retry queues
  std::string trace_id;
};

// A message that cannot be a StageMessage (wrong version, missing fields, not JSON). Consumers dead-letter
// it.
class MalformedMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode(const StageMessage& message);
StageMessage decode_stage_message(std::string_view body);  // throws MalformedMessage

// --- job event
// ---------------------------------------------------------------------------------------------------

// What the gallery needs about a job; published as the body of `job.{userId}` events on every state change
// and returned (with a signed thumbnail URL instead of the key) as JobSummary by the API.
struct JobSummaryData {
  std::string id;
  std::string user_id;
  std::string original_filename;
  std::int64_t file_size = 0;
  std::string status;
  std::string ai_status;
  std::string created_at;                   // RFC 3339
  std::optional<std::string> completed_at;  // RFC 3339
  std::optional<int> width;                 // oriented, once the image stage read the header
  std::optional<int> height;
  std::optional<std::string> thumbnail_key;  // set once thumbnails exist
  std::optional<std::string> blurhash;
  std::vector<std::string> tags;
};

std::string events_routing_key(std::string_view user_id);  // "job.{userId}"
nlohmann::json to_event(const JobSummaryData& summary);
JobSummaryData summary_from_event(const nlohmann::json& event);  // throws MalformedMessage

// --- object keys (DESIGN §7)
// -------------------------------------------------------------------------------------

std::string original_key(std::string_view user_id, std::string_view job_id);      // originals/{u}/{j}
std::string processed_prefix(std::string_view user_id, std::string_view job_id);  // processed/{u}/{j}/
std::string output_key(std::string_view user_id, std::string_view job_id, std::string_view name,
                       std::string_view format);  // processed/{u}/{j}/{name}.{format}
// The namespaces every job object lives under (the orphan sweep lists them).
inline constexpr std::string_view kOriginalsPrefix = "originals/";
inline constexpr std::string_view kProcessedPrefix = "processed/";

// The job an object key belongs to, read back from the layout above. nullopt for a key outside it (not a
// UUID where one belongs, a missing or extra segment): such a key under our prefixes belongs to no job.
struct KeyOwner {
  std::string user_id;
  std::string job_id;
};
std::optional<KeyOwner> owner_of_key(std::string_view key);

// The thumbnail the gallery shows.
inline constexpr std::string_view kGalleryThumbnail = "thumb-512";

}  // namespace imageproc::contracts
