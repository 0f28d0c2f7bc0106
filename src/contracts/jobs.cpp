#include "contracts/jobs.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

#include "core/ids.hpp"

namespace imageproc::contracts {

namespace {
constexpr std::array<std::string_view, 4> kStageStatuses = {"Pending", "Processing", "Completed", "Error"};

// A JSON integer that fits int64, exactly; nullopt for anything else. nlohmann's get<int>() would convert
// silently: 1.9 becomes 1, 4294967297 becomes 1 as an int, and 1e300 as an integer is undefined behaviour.
std::optional<std::int64_t> exact_integer(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

bool is_current_version(const nlohmann::json& object) {
  const auto version = object.find("v");
  return version != object.end() && exact_integer(*version) == kMessageVersion;
}
}  // namespace

bool is_stage_status(std::string_view status) {
  return std::find(kStageStatuses.begin(), kStageStatuses.end(), status) != kStageStatuses.end();
}

bool is_ai_status(std::string_view status) {
  return status == "Skipped" || is_stage_status(status);
}

std::string overall_status(std::string_view status, std::string_view ai_status) {
  if (status == "Error" || ai_status == "Error") return "Error";
  if (status == "Pending" || status == "Processing") return "Processing";
  if (ai_status == "Pending" || ai_status == "Processing") return "AiProcessing";
  return "Completed";
}

const std::vector<std::string>& overall_statuses() {
  static const std::vector<std::string> values = {"Processing", "AiProcessing", "Completed", "Error"};
  return values;
}

std::string encode(const StageMessage& m) {
  return nlohmann::json{{"v", kMessageVersion},
                        {"jobId", m.job_id},
                        {"userId", m.user_id},
                        {"attempt", m.attempt},
                        {"traceId", m.trace_id}}
      .dump();
}

StageMessage decode_stage_message(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw MalformedMessage("message body is not a JSON object");
  if (!is_current_version(j)) throw MalformedMessage("unsupported message version");
  auto text = [&](const char* name) -> std::string {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_string()) throw MalformedMessage(std::string("message lacks ") + name);
    return it->get<std::string>();
  };
  StageMessage m;
  m.job_id = text("jobId");
  m.user_id = text("userId");
  if (!ids::is_uuid(m.job_id) || !ids::is_uuid(m.user_id))
    throw MalformedMessage("message ids are not UUIDs");
  const auto attempt = j.find("attempt");
  if (attempt != j.end()) {
    const auto value = exact_integer(*attempt);
    if (!value || *value < 1 || *value > 1000) throw MalformedMessage("message attempt is out of range");
    m.attempt = static_cast<int>(*value);
  }
  if (const auto trace = j.find("traceId"); trace != j.end() && trace->is_string()) m.trace_id = *trace;
  return m;
}

std::string events_routing_key(std::string_view user_id) {
  return "job." + std::string(user_id);
}

nlohmann::json to_event(const JobSummaryData& s) {
  auto optional = [](const auto& v) -> nlohmann::json {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"v", kMessageVersion},
          {"id", s.id},
          {"userId", s.user_id},
          {"originalFilename", s.original_filename},
          {"fileSize", s.file_size},
          {"status", s.status},
          {"aiStatus", s.ai_status},
          {"createdAt", s.created_at},
          {"completedAt", optional(s.completed_at)},
          {"width", optional(s.width)},
          {"height", optional(s.height)},
          {"thumbnailKey", optional(s.thumbnail_key)},
          {"blurhash", optional(s.blurhash)},
          {"tags", s.tags}};
}

JobSummaryData summary_from_event(const nlohmann::json& e) {
  if (!e.is_object() || !is_current_version(e)) throw MalformedMessage("unsupported event version");
  try {
    JobSummaryData s;
    s.id = e.at("id").get<std::string>();
    s.user_id = e.at("userId").get<std::string>();
    s.original_filename = e.at("originalFilename").get<std::string>();
    const auto file_size = exact_integer(e.at("fileSize"));
    if (!file_size) throw MalformedMessage("malformed job event: fileSize is not an integer");
    s.file_size = *file_size;
    s.status = e.at("status").get<std::string>();
    s.ai_status = e.at("aiStatus").get<std::string>();
    s.created_at = e.at("createdAt").get<std::string>();
    auto opt_string = [&](const char* k) -> std::optional<std::string> {
      const auto it = e.find(k);
      return it == e.end() || it->is_null() ? std::nullopt : std::optional(it->get<std::string>());
    };
    auto opt_int = [&](const char* k) -> std::optional<int> {
      const auto it = e.find(k);
      if (it == e.end() || it->is_null()) return std::nullopt;
      const auto value = exact_integer(*it);
      if (!value || *value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
        throw MalformedMessage(std::string("malformed job event: ") + k + " is not an int");
      }
      return static_cast<int>(*value);
    };
    s.completed_at = opt_string("completedAt");
    s.width = opt_int("width");
    s.height = opt_int("height");
    s.thumbnail_key = opt_string("thumbnailKey");
    s.blurhash = opt_string("blurhash");
    if (const auto tags = e.find("tags"); tags != e.end() && tags->is_array()) {
      s.tags = tags->get<std::vector<std::string>>();
    }
    return s;
  } catch (const nlohmann::json::exception& ex) {
    throw MalformedMessage(std::string("malformed job event: ") + ex.what());
  }
}

std::string original_key(std::string_view user_id, std::string_view job_id) {
  return std::string(kOriginalsPrefix) + std::string(user_id) + "/" + std::string(job_id);
}

std::string processed_prefix(std::string_view user_id, std::string_view job_id) {
  return std::string(kProcessedPrefix) + std::string(user_id) + "/" + std::string(job_id) + "/";
}

std::optional<KeyOwner> owner_of_key(std::string_view key) {
  const bool original = key.starts_with(kOriginalsPrefix);
  if (!original && !key.starts_with(kProcessedPrefix)) return std::nullopt;
  key.remove_prefix(original ? kOriginalsPrefix.size() : kProcessedPrefix.size());
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto user = key.substr(0, slash);
  auto rest = key.substr(slash + 1);
  std::string_view job = rest;
  if (!original) {  // processed/{u}/{j}/{file}: one file name, no deeper directories
    const auto next = rest.find('/');
    if (next == std::string_view::npos) return std::nullopt;
    job = rest.substr(0, next);
    const auto file = rest.substr(next + 1);
    if (file.empty() || file.find('/') != std::string_view::npos) return std::nullopt;
  }
  // Keys are written with canonical lower-case ids only.
  const auto canonical = [](std::string_view id) {
    return ids::is_uuid(id) &&
           std::none_of(id.begin(), id.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  };
  if (!canonical(user) || !canonical(job)) return std::nullopt;
  return KeyOwner{std::string(user), std::string(job)};
}

std::string output_key(std::string_view user_id, std::string_view job_id, std::string_view name,
                       std::string_view format) {
  return processed_prefix(user_id, job_id) + std::string(name) + "." + std::string(format);
}

}  // namespace imageproc::contracts
