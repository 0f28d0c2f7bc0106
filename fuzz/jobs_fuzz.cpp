// Fuzzes the job contracts' decoding (src/contracts/jobs.hpp): the stage message on the work queues, the job
// event on imageproc.events, object-key ownership and the overall-status rule.
//
// The input is read as a stage message body, as a job event (when it is JSON), as an object key, and as the
// source of generated messages and events. Checked:
//   - decode_stage_message throws only MalformedMessage; what it accepts has "v" exactly 1, UUID ids, an
//     attempt of exactly the value sent (1..1000, 1 when absent) and round-trips through encode();
//   - summary_from_event throws only MalformedMessage; what it accepts has "v" exactly 1 and every field
//     exactly as sent (no number silently truncated or rounded), and round-trips through to_event();
//   - generated messages and events survive encode → text → decode unchanged;
//   - owner_of_key accepts only keys that original_key / processed_prefix produce, and reads them back;
//   - overall_status always gives one of overall_statuses().

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "contracts/jobs.hpp"
#include "core/ids.hpp"
#include "fuzz_support.hpp"

namespace {

namespace contracts = imageproc::contracts;
using contracts::JobSummaryData;
using contracts::MalformedMessage;
using contracts::StageMessage;
using imageproc::fuzz::printable;
using imageproc::fuzz::Rng;
using nlohmann::json;

bool same(const StageMessage& a, const StageMessage& b) {
  return a.job_id == b.job_id && a.user_id == b.user_id && a.attempt == b.attempt && a.trace_id == b.trace_id;
}

bool same(const JobSummaryData& a, const JobSummaryData& b) {
  return a.id == b.id && a.user_id == b.user_id && a.original_filename == b.original_filename &&
         a.file_size == b.file_size && a.status == b.status && a.ai_status == b.ai_status &&
         a.created_at == b.created_at && a.completed_at == b.completed_at && a.width == b.width &&
         a.height == b.height && a.thumbnail_key == b.thumbnail_key && a.blurhash == b.blurhash &&
         a.tags == b.tags;
}

// Exactly the integer 1: not 1.0, not 4294967297 read as an int.
bool is_version_one(const json& v) {
  return v.is_number_integer() && v == json(1);
}

void check_stage_message(std::string_view input) {
  StageMessage m;
  try {
    m = contracts::decode_stage_message(input);
  } catch (const MalformedMessage&) {
    return;
  }
  const json j = json::parse(input);  // it was accepted, so it is JSON
  FUZZ_CHECK(is_version_one(j.at("v")), "accepted version " + j.at("v").dump());
  FUZZ_CHECK(imageproc::ids::is_uuid(m.job_id) && j.at("jobId") == m.job_id, "jobId");
  FUZZ_CHECK(imageproc::ids::is_uuid(m.user_id) && j.at("userId") == m.user_id, "userId");
  FUZZ_CHECK(m.attempt >= 1 && m.attempt <= 1000, "attempt " + std::to_string(m.attempt));
  FUZZ_CHECK(j.contains("attempt") ? j.at("attempt").is_number_integer() && j.at("attempt") == json(m.attempt)
                                   : m.attempt == 1,
             "attempt " + std::to_string(m.attempt) + " read from " + printable(input));
  const auto trace = j.find("traceId");
  FUZZ_CHECK(trace != j.end() && trace->is_string() ? *trace == m.trace_id : m.trace_id.empty(), "traceId");
  FUZZ_CHECK(same(contracts::decode_stage_message(contracts::encode(m)), m), "encode/decode round trip");
}

void check_event(const json& event) {
  JobSummaryData s;
  try {
    s = contracts::summary_from_event(event);
  } catch (const MalformedMessage&) {
    return;
  }
  const auto context = " in " + printable(event.dump(), 400);
  FUZZ_CHECK(is_version_one(event.at("v")), "accepted version" + context);
  FUZZ_CHECK(event.at("id") == s.id && event.at("userId") == s.user_id &&
                 event.at("originalFilename") == s.original_filename && event.at("status") == s.status &&
                 event.at("aiStatus") == s.ai_status && event.at("createdAt") == s.created_at,
             "a string field changed" + context);
  FUZZ_CHECK(event.at("fileSize").is_number_integer() && event.at("fileSize") == json(s.file_size),
             "fileSize read as " + std::to_string(s.file_size) + context);
  const auto optional_equal = [&](const char* key, const auto& value) {
    const auto it = event.find(key);
    if (it == event.end() || it->is_null()) return !value.has_value();
    if (!value) return false;
    if (it->is_number()) return it->is_number_integer() && *it == json(*value);
    return *it == json(*value);
  };
  FUZZ_CHECK(optional_equal("completedAt", s.completed_at) &&
                 optional_equal("thumbnailKey", s.thumbnail_key) && optional_equal("blurhash", s.blurhash),
             "an optional string field changed" + context);
  FUZZ_CHECK(optional_equal("width", s.width) && optional_equal("height", s.height),
             "width/height read as " + (s.width ? std::to_string(*s.width) : "null") + "/" +
                 (s.height ? std::to_string(*s.height) : "null") + context);
  const auto tags = event.find("tags");
  FUZZ_CHECK(tags != event.end() && tags->is_array() ? *tags == json(s.tags) : s.tags.empty(),
             "tags" + context);

  const std::string text = contracts::to_event(s).dump();
  FUZZ_CHECK(same(contracts::summary_from_event(json::parse(text)), s), "to_event round trip" + context);
}

std::string uuid_from(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    id.push_back(kHex[rng.next() % 16]);
  }
  return id;
}

// The input as a JSON-safe string: our own code never publishes invalid UTF-8.
std::string text_from(std::string_view input) {
  return imageproc::fuzz::is_valid_utf8(input) ? std::string(input) : printable(input, 400);
}

void check_generated(std::string_view input, Rng& rng) {
  const StageMessage m{uuid_from(rng), uuid_from(rng), static_cast<int>(rng.between(1, 1000)),
                       text_from(input.substr(0, 64))};
  FUZZ_CHECK(same(contracts::decode_stage_message(contracts::encode(m)), m), "generated message round trip");

  JobSummaryData s;
  s.id = uuid_from(rng);
  s.user_id = uuid_from(rng);
  s.original_filename = text_from(input);
  s.file_size = static_cast<std::int64_t>(rng.next());
  s.status = rng.next() % 2 ? "Completed" : text_from(input.substr(0, 12));
  s.ai_status = "Pending";
  s.created_at = "2026-12-01T00:00:00Z";
  if (rng.next() % 2) s.completed_at = "2026-12-01T00:00:05Z";
  if (rng.next() % 2) s.width = static_cast<int>(static_cast<std::uint32_t>(rng.next()));
  if (rng.next() % 2) s.height = static_cast<int>(static_cast<std::uint32_t>(rng.next()));
  if (rng.next() % 2) s.thumbnail_key = contracts::output_key(s.user_id, s.id, "thumb-512", "webp");
  if (rng.next() % 2) s.blurhash = text_from(input.substr(0, 30));
  const std::size_t tag_count = rng.next() % 4;
  for (std::size_t i = 0; i < tag_count; ++i)
    s.tags.push_back(text_from(input.substr(std::min(i, input.size()), 10)));
  const std::string text = contracts::to_event(s).dump();
  FUZZ_CHECK(same(contracts::summary_from_event(json::parse(text)), s), "generated event round trip");
  FUZZ_CHECK(contracts::events_routing_key(s.user_id) == "job." + s.user_id, "routing key");
}

bool is_canonical_uuid(std::string_view id) {
  return imageproc::ids::is_uuid(id) &&
         std::none_of(id.begin(), id.end(), [](char c) { return c >= 'A' && c <= 'F'; });
}

void check_keys(std::string_view key, Rng& rng) {
  if (const auto owner = contracts::owner_of_key(key)) {
    FUZZ_CHECK(is_canonical_uuid(owner->user_id) && is_canonical_uuid(owner->job_id), "owner ids");
    const std::string original = contracts::original_key(owner->user_id, owner->job_id);
    const std::string prefix = contracts::processed_prefix(owner->user_id, owner->job_id);
    const bool is_original = key == original;
    const bool is_output = key.starts_with(prefix) && key.size() > prefix.size() &&
                           key.substr(prefix.size()).find('/') == std::string_view::npos;
    FUZZ_CHECK(is_original || is_output, "owner_of_key accepted " + printable(key));
  }
  const std::string user = uuid_from(rng);
  const std::string job = uuid_from(rng);
  for (const std::string& k :
       {contracts::original_key(user, job), contracts::output_key(user, job, "thumb-128", "webp")}) {
    const auto owner = contracts::owner_of_key(k);
    FUZZ_CHECK(owner && owner->user_id == user && owner->job_id == job, "key round trip " + k);
  }
}

void check_overall(std::string_view input) {
  const auto half = input.size() / 2;
  const std::string overall = contracts::overall_status(input.substr(0, half), input.substr(half));
  const auto& all = contracts::overall_statuses();
  FUZZ_CHECK(std::find(all.begin(), all.end(), overall) != all.end(), "overall status " + overall);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = imageproc::fuzz::as_view(data, size);
  Rng rng(imageproc::fuzz::hash_bytes(input));
  check_stage_message(input);
  const json parsed = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) check_event(parsed);
  check_generated(input, rng);
  check_keys(input, rng);
  check_overall(input);
  return 0;
}
