#include "api/handlers/images.hpp"

#include <charconv>
#include <fstream>

#include "api/multipart.hpp"
#include "core/crypto.hpp"
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/logging.hpp"
#include "core/temp_file.hpp"
#include "core/text.hpp"
#include "imaging/probe.hpp"

namespace imageproc::api {

namespace {

constexpr int kMaxPageSize = 100;
constexpr int kMaxPage = 1'000'000;
constexpr std::size_t kMaxSearchChars = 200;

nlohmann::json optional_json(const auto& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// Parses a positive query integer strictly ("12", not "12abc" or "1e3"); 400 naming the parameter otherwise.
int int_param(const Request& request, const char* name, int fallback, int min, int max) {
  const auto raw = request.query_param(name);
  if (!raw) return fallback;
  int value = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), value);
  if (raw->empty() || ec != std::errc{} || ptr != raw->data() + raw->size() || value < min || value > max) {
    throw errors::validation(
        {{name, {std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                 std::to_string(max) + "."}}});
  }
  return value;
}

const std::string& job_id_param(const Request& request) {
  const auto& id = request.param("id");
  // A malformed id cannot name anyone's job: answer exactly like a missing one.
  if (!ids::is_uuid(id)) throw errors::not_found("The image does not exist.");
  return id;
}

std::string allowed_formats_text(const imaging::AllowedFormats& formats) {
  std::string text = "JPEG, PNG, WebP";
  if (formats.gif) text += ", GIF";
  if (formats.tiff) text += ", TIFF";
  if (formats.heif) text += ", HEIC";
  if (formats.avif) text += ", AVIF";
  return text;
}

// The uploaded file field, copied out of the spooled multipart body.
struct ReceivedFile {
  TempFile file;
  imaging::ImageFormat format = imaging::ImageFormat::Unknown;
  std::string sha256;
  std::string filename;
  std::uint64_t size = 0;
};

ReceivedFile receive_file(const Request& request, const UploadSettings& settings) {
  if (!request.body_file) throw errors::bad_request("The request has no body.");
  const auto content_type = request.headers.get("Content-Type");
  if (!content_type) throw errors::bad_request("The upload must be multipart/form-data with a field named 'file'.");
  const std::string boundary = boundary_from_content_type(*content_type);

  ReceivedFile received{TempFile::create(scratch_directory(settings.temp_dir), "original-")};
  std::ofstream out(received.file.path(), std::ios::binary | std::ios::trunc);
  crypto::Sha256 hash;
  std::string head;
  FileFieldCollector collector(
      boundary,
      [&](std::string_view chunk) {
        out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        hash.update(chunk);
        if (head.size() < imaging::kSniffBytes) head.append(chunk.substr(0, imaging::kSniffBytes - head.size()));
      },
      UploadLimits{.max_file_bytes = settings.max_file_bytes});

  std::ifstream in(request.body_file->path(), std::ios::binary);
  std::string buffer(64 * 1024, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (const auto n = in.gcount(); n > 0) collector.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  if (in.bad()) throw errors::internal("reading the spooled upload failed");
  const UploadedFile uploaded = collector.finish();
  out.close();
  if (!out) throw errors::internal("writing the uploaded file to scratch space failed");

  received.format = imaging::sniff_format(head);
  received.sha256 = hash.hex_digest();
  received.filename = imaging::sanitize_display_filename(uploaded.filename);
  received.size = uploaded.size;
  return received;
}

// The body of 202 answers (upload, retry): where the job stands now.
nlohmann::json job_state_json(const db::JobRecord& job) {
  return {{"id", job.id},
          {"status", job.status},
          {"aiStatus", job.ai_status},
          {"overallStatus", contracts::overall_status(job.status, job.ai_status)}};
}

AppError storage_unavailable(const storage::StorageError& e) {
  return errors::service_unavailable("The image store is unavailable. Please try again.", e.what());
}

}  // namespace

std::string UrlIssuer::url(const std::string& key) const {
  return store_.presign_get(key, ttl_, storage::stable_signing_time(std::chrono::system_clock::now(), ttl_)).url;
}

nlohmann::json job_summary_json(const contracts::JobSummaryData& s, const UrlIssuer& urls) {
  return {{"id", s.id},
          {"originalFilename", s.original_filename},
          {"fileSize", s.file_size},
          {"status", s.status},
          {"aiStatus", s.ai_status},
          {"overallStatus", contracts::overall_status(s.status, s.ai_status)},
          {"createdAt", s.created_at},
          {"completedAt", optional_json(s.completed_at)},
          {"width", optional_json(s.width)},
          {"height", optional_json(s.height)},
          {"thumbnailUrl", s.thumbnail_key ? nlohmann::json(urls.url(*s.thumbnail_key)) : nlohmann::json(nullptr)},
          {"blurhash", optional_json(s.blurhash)},
          {"tags", s.tags}};
}

nlohmann::json job_detail_json(db::JobRecord job, const UrlIssuer& urls) {
  nlohmann::json thumbnails = nlohmann::json::object();
  nlohmann::json optimized = nlohmann::json::object();
  nlohmann::json outputs = nlohmann::json::array();
  if (job.outputs.is_array()) {
    for (const auto& o : job.outputs) {
      const std::string name = o.value("name", "");
      const std::string format = o.value("format", "");
      const std::string url = urls.url(o.value("key", ""));
      if (name.rfind("thumb-", 0) == 0) thumbnails[name] = url;
      if (name == "optimized") optimized[format] = url;
      outputs.push_back({{"name", name},
                         {"format", format},
                         {"width", o.value("width", 0)},
                         {"height", o.value("height", 0)},
                         {"bytes", o.value("bytes", 0)},
                         {"url", url}});
    }
  }
  return {{"id", job.id},
          {"status", job.status},
          {"aiStatus", job.ai_status},
          {"overallStatus", contracts::overall_status(job.status, job.ai_status)},
          {"originalUrl", urls.url(job.original_key)},
          {"originalFilename", job.original_filename},
          {"fileSize", job.file_size},
          {"mimeType", job.mime_type},
          {"createdAt", job.created_at},
          {"startedAt", optional_json(job.started_at)},
          {"completedAt", optional_json(job.completed_at)},
          {"errorMessage", optional_json(job.error_message)},
          {"retryCount", job.retry_count},
          {"thumbnails", std::move(thumbnails)},
          {"optimized", std::move(optimized)},
          {"outputs", std::move(outputs)},
          {"metadata", std::move(job.metadata)},
          {"aiStartedAt", optional_json(job.ai_started_at)},
          {"aiCompletedAt", optional_json(job.ai_completed_at)},
          {"aiErrorMessage", optional_json(job.ai_error_message)},
          {"aiRetryCount", job.ai_retry_count},
          {"aiAnalysis", std::move(job.ai_analysis)}};
}

UploadSettings UploadSettings::from(const ImagesConfig& config) {
  UploadSettings s;
  s.max_file_bytes = config.upload_max_bytes;
  s.limits.max_pixels = config.max_pixels;
  s.limits.max_frames = config.max_frames;
  s.temp_dir = config.temp_dir;
  return s;
}

ImagesHandlers::ImagesHandlers(db::JobRepository& jobs, storage::ObjectStore& store, const UrlIssuer& urls,
                               UploadSettings upload, DeletionHook on_deleted)
    : jobs_(jobs), store_(store), urls_(urls), upload_(std::move(upload)), on_deleted_(std::move(on_deleted)) {}

void ImagesHandlers::register_routes(Router& router) {
  const RouteOptions read{.access = Access::User, .rate = RateClass::Read};
  router.add("POST", "/api/images/upload", [this](Request& r) { return upload(r); },
             {.access = Access::User,
              .rate = RateClass::Upload,
              .body_limit = upload_.body_limit(),
              .stream_body = true,
              .too_large_message = "The file exceeds the " + describe_byte_size(upload_.max_file_bytes) + " limit."});
  router.add("GET", "/api/images", [this](Request& r) { return list(r); }, read);
  router.add("GET", "/api/images/stats", [this](Request& r) { return stats(r); }, read);
  router.add("GET", "/api/images/{id}", [this](Request& r) { return detail(r); }, read);
  router.add("DELETE", "/api/images/{id}", [this](Request& r) { return remove(r); }, read);
  router.add("POST", "/api/images/{id}/retry", [this](Request& r) { return retry(r); }, read);
}

Response ImagesHandlers::upload(Request& request) {
  const std::string& user_id = request.principal->user_id;
  ReceivedFile received = receive_file(request, upload_);
  if (!imaging::is_allowed(received.format, upload_.formats)) {
    throw errors::unsupported_media_type("Only " + allowed_formats_text(upload_.formats) +
                                         " images are accepted; the file's content is not one of them.");
  }
  imaging::ProbeResult probe;
  try {
    probe = imaging::probe_image(received.file.path(), upload_.limits);
  } catch (const imaging::ImageRejected& e) {
    throw AppError(422, status_title(422), e.what(), e.detail());
  }

  const std::string job_id = ids::new_uuid();
  const std::string key = contracts::original_key(user_id, job_id);
  const std::string mime(imaging::mime_type(received.format));
  try {
    store_.put_file(key, received.file.path(), mime);
  } catch (const storage::StorageError& e) {
    throw storage_unavailable(e);
  }
  db::JobRecord job;
  try {
    job = jobs_.create({.id = job_id,
                        .user_id = user_id,
                        .original_key = key,
                        .original_filename = received.filename,
                        .mime_type = mime,
                        .file_size = static_cast<std::int64_t>(received.size),
                        .sha256 = received.sha256,
                        .width = probe.oriented_width(),
                        .height = probe.oriented_height()},
                       request.request_id);
  } catch (...) {
    try {
      store_.remove(key);
    } catch (const std::exception& e) {
      // The orphan sweep removes it later; the upload still fails visibly.
      log::warn("could not remove the original of a failed upload", {{"key", key}, {"error", e.what()}});
    }
    throw;
  }
  log::info("image uploaded", {{"jobId", job.id},
                               {"userId", user_id},
                               {"bytes", received.size},
                               {"format", imaging::format_name(received.format)},
                               {"width", probe.oriented_width()},
                               {"height", probe.oriented_height()}});
  auto body = job_state_json(job);
  body["originalUrl"] = urls_.url(job.original_key);
  Response response = Response::json(202, body);
  response.headers.set("Location", "/api/images/" + job.id);
  return response;
}

Response ImagesHandlers::list(Request& request) {
  db::JobListQuery query;
  query.page = int_param(request, "page", 1, 1, kMaxPage);
  query.page_size = int_param(request, "pageSize", 20, 1, kMaxPageSize);
  if (auto status = request.query_param("status"); status && !status->empty()) {
    const auto& allowed = contracts::overall_statuses();
    if (std::find(allowed.begin(), allowed.end(), *status) == allowed.end()) {
      throw errors::validation({{"status", {"status must be one of Processing, AiProcessing, Completed, Error."}}});
    }
    query.overall_status = *status;
  }
  if (auto q = request.query_param("q")) {
    std::string trimmed = text::trim(*q);
    if (trimmed.size() > kMaxSearchChars) {
      throw errors::validation({{"q", {"q must be at most 200 characters."}}});
    }
    if (!trimmed.empty()) query.search = std::move(trimmed);
  }
  const auto page = jobs_.list(request.principal->user_id, query);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& s : page.items) items.push_back(job_summary_json(s, urls_));
  const auto total_pages = (page.total + query.page_size - 1) / query.page_size;
  return Response::json(200, {{"items", items},
                              {"page", query.page},
                              {"pageSize", query.page_size},
                              {"totalCount", page.total},
                              {"totalPages", total_pages}});
}

Response ImagesHandlers::stats(Request& request) {
  const auto s = jobs_.stats(request.principal->user_id);
  return Response::json(200, {{"jobsToday", s.jobs_today},
                              {"inProgress", s.in_progress},
                              {"successRate", optional_json(s.success_rate)},
                              {"avgProcessingMs", optional_json(s.avg_processing_ms)},
                              {"total", s.total}});
}

Response ImagesHandlers::detail(Request& request) {
  const auto job = jobs_.find_for_user(job_id_param(request), request.principal->user_id);
  if (!job) throw errors::not_found("The image does not exist.");
  return Response::json(200, job_detail_json(std::move(*job), urls_));
}

Response ImagesHandlers::remove(Request& request) {
  const auto job = jobs_.mark_deleted(job_id_param(request), request.principal->user_id);
  if (!job) throw errors::not_found("The image does not exist.");
  log::info("image deleted", {{"jobId", job->id}, {"userId", job->user_id}});
  on_deleted_(*job);
  return Response::no_content();
}

Response ImagesHandlers::retry(Request& request) {
  const auto result = jobs_.retry_failed_stage(job_id_param(request), request.principal->user_id, request.request_id);
  switch (result.outcome) {
    case db::RetryRequest::Requeued: return Response::json(202, job_state_json(*result.job));
    case db::RetryRequest::NotFailed: throw errors::conflict("Only a failed stage can be retried.");
    case db::RetryRequest::NotFound: break;
  }
  throw errors::not_found("The image does not exist.");
}

}  // namespace imageproc::api
