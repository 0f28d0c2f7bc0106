#include "api/handlers/files.hpp"

#include <fmt/format.h>

#include <chrono>

#include "api/pipeline.hpp"
#include "core/errors.hpp"

namespace imageproc::api {
namespace {

std::int64_t now_epoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The single query parameter `name`; nullopt when absent or repeated (a repeated signed field would leave
// doubt about which value was verified).
std::optional<std::string> single_param(const Request& request, const std::string& name) {
  if (request.query.count(name) != 1) return std::nullopt;
  return request.query.find(name)->second;
}

// Maps a storage failure to a response. Details go to the log only; for reads every non-transient failure
// is a plain 404 so a client learns nothing about the tree (symlinks, conflicts) behind the key.
AppError storage_failure(const storage::StorageError& e, bool reading) {
  using storage::StorageErrorKind;
  switch (e.kind()) {
    case StorageErrorKind::Transient:
      return errors::service_unavailable("The file store is temporarily unavailable.", e.what());
    case StorageErrorKind::NotFound:
      if (!reading) return errors::service_unavailable("The file could not be stored.", e.what());
      break;
    case StorageErrorKind::AccessDenied:
      if (!reading)
        return AppError(403, status_title(403), "The file cannot be stored under this name.", e.what());
      break;
    case StorageErrorKind::Permanent:
      if (!reading)
        return AppError(400, status_title(400), "The file cannot be stored under this name.", e.what());
      break;
  }
  return AppError(404, status_title(404), "The file does not exist.", e.what());
}

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeKind { Whole, Partial, Unsatisfiable };

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  const auto v = storage::parse_decimal(text);
  if (!v) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}

// RFC 9110 §14.2: one range of `bytes=a-b`, `bytes=a-` or `bytes=-n`. A header we do not understand, or one
// with several ranges (multipart/byteranges is not worth it for images), is ignored and the whole object is
// served, which the RFC allows.
RangeKind parse_range(std::optional<std::string_view> header, std::uint64_t size, ByteRange& out) {
  if (!header) return RangeKind::Whole;
  std::string_view spec = *header;
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.size() < 6 || !iequals(spec.substr(0, 6), "bytes=")) return RangeKind::Whole;
  spec.remove_prefix(6);
  if (spec.find(',') != std::string_view::npos) return RangeKind::Whole;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::Whole;
  const auto first_text = spec.substr(0, dash);
  const auto last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // suffix: the last n bytes
    const auto n = parse_u64(last_text);
    if (!n) return RangeKind::Whole;
    if (*n == 0 || size == 0) return RangeKind::Unsatisfiable;
    out = {size > *n ? size - *n : 0, size - 1};
    return RangeKind::Partial;
  }
  const auto first = parse_u64(first_text);
  if (!first) return RangeKind::Whole;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto parsed = parse_u64(last_text);
    if (!parsed || *parsed < *first) return RangeKind::Whole;  // invalid: ignore the header
    last = std::min(last, *parsed);
  }
  if (*first >= size) return RangeKind::Unsatisfiable;
  out = {*first, last};
  return RangeKind::Partial;
}

}  // namespace

FilesHandlers::FilesHandlers(storage::LocalObjectStore& store, const storage::UrlSigner& signer,
                             std::size_t max_upload_bytes)
    : store_(store), signer_(signer), max_upload_bytes_(max_upload_bytes) {}

void FilesHandlers::register_routes(Router& router) {
  router.add("GET", "/files/{key...}", [this](Request& r) { return get(r); },
             {Access::Public, RateClass::None, std::nullopt});
  router.add("PUT", "/files/{key...}", [this](Request& r) { return put(r); },
             {Access::Public, RateClass::None, max_upload_bytes_});
}

std::int64_t FilesHandlers::require_signature(const Request& request, const std::string& key,
                                              const std::optional<storage::UploadConstraints>& upload) const {
  const auto exp_text = single_param(request, "exp");
  const auto sig = single_param(request, "sig");
  if (!exp_text || !sig) throw errors::forbidden("This link is not signed.");
  const auto expires = storage::parse_decimal(*exp_text);
  const std::string_view method = upload ? "PUT" : "GET";
  if (!expires || !signer_.verify(method, key, *expires, *sig, upload)) {
    throw errors::forbidden("This link is invalid.");
  }
  if (*expires < now_epoch()) throw errors::forbidden("This link has expired.");
  return *expires;
}

Response FilesHandlers::get(Request& request) {
  const std::string& key = request.param("key");
  const auto expires = require_signature(request, key, std::nullopt);

  std::optional<storage::ObjectReader> reader;
  try {
    reader = store_.open(key);
  } catch (const storage::StorageError& e) {
    throw storage_failure(e, true);
  }
  if (!reader) throw errors::not_found("The file does not exist.");
  const auto& info = reader->info();

  Response response;
  auto& h = response.headers;
  // The browser may keep the bytes exactly as long as the link itself is valid, and only for this user.
  h.set("Cache-Control",
        fmt::format("private, max-age={}", std::max<std::int64_t>(0, expires - now_epoch())));
  h.set("X-Content-Type-Options", "nosniff");
  h.set("Content-Security-Policy", "default-src 'none'; sandbox");
  h.set("Accept-Ranges", "bytes");
  h.set("ETag", "\"" + info.etag + "\"");

  ByteRange range;
  const auto kind = parse_range(request.headers.get("Range"), info.size, range);
  if (kind == RangeKind::Unsatisfiable) {
    Response problem = problem_response(
        AppError(416, status_title(416), "The requested range is outside the file."), request.request_id);
    for (const auto& [name, value] : h.items()) problem.headers.set(name, value);
    problem.headers.set("Content-Range", fmt::format("bytes */{}", info.size));
    return problem;
  }
  if (kind == RangeKind::Whole) range = {0, info.size == 0 ? 0 : info.size - 1};
  const std::uint64_t length = info.size == 0 ? 0 : range.last - range.first + 1;
  if (length > kMaxResponseBytes) {
    throw errors::internal(
        fmt::format("object '{}' ({} bytes) exceeds the in-memory response cap", key, info.size));
  }
  if (kind == RangeKind::Partial) {
    response.status = 206;
    h.set("Content-Range", fmt::format("bytes {}-{}/{}", range.first, range.last, info.size));
  }
  h.set("Content-Type", info.content_type);
  try {
    // HEAD: the server derives Content-Length from the body and then drops it, so a placeholder of the right
    // size saves reading the file (see the report on Response for a cleaner way).
    response.body = request.method == "HEAD" ? std::string(static_cast<std::size_t>(length), '\0')
                                             : reader->read(range.first, static_cast<std::size_t>(length));
  } catch (const storage::StorageError& e) {
    throw storage_failure(e, true);
  }
  return response;
}

Response FilesHandlers::put(Request& request) {
  const std::string& key = request.param("key");
  const auto content_type = single_param(request, "ct");
  const auto max_text = single_param(request, "max");
  const auto max_bytes = max_text ? storage::parse_decimal(*max_text) : std::nullopt;
  if (!content_type || !max_bytes) throw errors::forbidden("This upload link is invalid.");
  require_signature(request, key,
                    storage::UploadConstraints{*content_type, static_cast<std::uint64_t>(*max_bytes)});
  // The signature binds the type, as S3 does for a signed Content-Type; a different one is refused the same
  // way.
  const auto sent_type = request.headers.get("Content-Type");
  if (!sent_type || *sent_type != *content_type) {
    throw errors::forbidden("The Content-Type does not match the signed upload.");
  }
  if (request.body.size() > static_cast<std::uint64_t>(*max_bytes)) {
    throw errors::payload_too_large(fmt::format("This upload link accepts at most {} bytes.", *max_bytes));
  }
  std::optional<storage::ObjectInfo> stored;
  try {
    store_.put_buffer(key, request.body, *content_type);
    stored = store_.head(key);
  } catch (const storage::StorageError& e) {
    throw storage_failure(e, false);
  }
  Response response;
  response.status = 201;
  if (stored) response.headers.set("ETag", "\"" + stored->etag + "\"");
  return response;
}

}  // namespace imageproc::api
