#pragma once
// /api/images/*: upload, list, stats, detail, delete and retry (DESIGN §4). Glue between HTTP, the image
// header checks, the object store and db::JobRepository.
//
// Upload: the server has already spooled the multipart body to a temp file (route option stream_body); here
// the file field is copied out of it into a second temp file while its SHA-256 is computed, the format is
// decided from the magic bytes alone (415), the header is read with libvips against the limits (422), the
// original is stored at originals/{userId}/{jobId}, and only then is the job inserted together with its
// outbox message. If storing fails no row exists; if the insert fails the object is removed (and the orphan
// sweep catches what even that misses), so no job is ever Pending with nothing queued.
//
// Reads only ever see the caller's jobs: another user's id answers exactly like a missing one (404).
// Thread-safe: handlers run concurrently and share only thread-safe collaborators.

#include <chrono>
#include <functional>
#include <string>

#include "api/http.hpp"
#include "api/router.hpp"
#include "contracts/jobs.hpp"
#include "core/config.hpp"
#include "db/jobs.hpp"
#include "imaging/format.hpp"
#include "imaging/limits.hpp"
#include "storage/object_store.hpp"

namespace imageproc::api {

// Signs read URLs for object keys, stable within a time window (DESIGN §4) so browsers can cache images.
class UrlIssuer {
 public:
  UrlIssuer(storage::ObjectStore& store, std::chrono::seconds ttl) : store_(store), ttl_(ttl) {}
  std::string url(const std::string& key) const;

 private:
  storage::ObjectStore& store_;
  std::chrono::seconds ttl_;
};

// JobSummary and JobDetail bodies (DESIGN §4).
nlohmann::json job_summary_json(const contracts::JobSummaryData& summary, const UrlIssuer& urls);
// Takes the record by value: its JSON columns move into the answer instead of being copied.
nlohmann::json job_detail_json(db::JobRecord job, const UrlIssuer& urls);

struct UploadSettings {
  std::uint64_t max_file_bytes = 50ULL * 1024 * 1024;
  imaging::ImageLimits limits;
  imaging::AllowedFormats formats{.gif = true};
  std::string temp_dir;  // "" = the system temp directory

  static UploadSettings from(const ImagesConfig& config);
  // The route's body limit: the file plus room for the multipart envelope and small fields.
  std::size_t body_limit() const { return static_cast<std::size_t>(max_file_bytes) + 256 * 1024; }
};

class ImagesHandlers {
 public:
  // Called after a job was marked deleted, to remove its objects and row in the background.
  using DeletionHook = std::function<void(const db::JobRecord&)>;

  ImagesHandlers(db::JobRepository& jobs, storage::ObjectStore& store, const UrlIssuer& urls,
                 UploadSettings upload, DeletionHook on_deleted);
  void register_routes(Router& router);

  Response upload(Request& request);
  Response list(Request& request);
  Response stats(Request& request);
  Response detail(Request& request);
  Response remove(Request& request);
  Response retry(Request& request);

 private:
  db::JobRepository& jobs_;
  storage::ObjectStore& store_;
  const UrlIssuer& urls_;
  UploadSettings upload_;
  DeletionHook on_deleted_;
};

}  // namespace imageproc::api
