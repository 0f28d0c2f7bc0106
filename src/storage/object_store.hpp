#pragma once
// Private object storage (DESIGN §2, §4). Two backends implement ObjectStore: S3-compatible stores (AWS S3,
// Cloudflare R2, MinIO, s3rver) and the local disk (the default of `imageproc up`). Objects are never public:
// browsers read them through short-lived signed URLs from presign_get().
//
// Contract for every backend (tests/integration/storage_contract.hpp runs the same suite against each):
// - Keys are relative paths such as "originals/{userId}/{jobId}"; invalid keys ("..", absolute, NUL,
//   backslash, empty segments) are refused with StorageErrorKind::Permanent before any I/O.
// - put_* replaces an existing object atomically: a reader sees the old or the new object, never a mix.
// - remove() of a missing key succeeds (deletes are idempotent, as in S3).
// - Failures are StorageErrors whose kind tells the caller whether a retry can help.
// Implementations are thread-safe.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imageproc::storage {

enum class StorageErrorKind {
  NotFound,      // the object does not exist
  AccessDenied,  // credentials or policy refuse the operation
  Transient,     // network, timeout, throttling, 5xx: retrying later can succeed
  Permanent,     // invalid key, bad request, misconfiguration: retrying will not help
};

class StorageError : public std::runtime_error {
 public:
  StorageError(StorageErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  StorageErrorKind kind() const { return kind_; }
  bool retryable() const { return kind_ == StorageErrorKind::Transient; }

 private:
  StorageErrorKind kind_;
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string content_type;  // may be empty in listings (S3 does not return it there)
  std::string etag;
  std::chrono::system_clock::time_point last_modified;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::optional<std::string> next_token;  // pass to list() for the next page; nullopt on the last page
};

// A signed, time-limited way for a client to upload one object directly.
struct PresignedUpload {
  std::string method;  // "PUT"
  std::string url;
  std::map<std::string, std::string> headers;  // headers the client must send as given (e.g. Content-Type)
  std::chrono::system_clock::time_point expires_at;
};

// A signed read URL and when it stops working.
struct PresignedUrl {
  std::string url;
  std::chrono::system_clock::time_point expires_at;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual void put_file(const std::string& key, const std::filesystem::path& file,
                        const std::string& content_type) = 0;
  virtual void put_buffer(const std::string& key, std::string_view data, const std::string& content_type) = 0;
  // Streams the object into `destination` (replaced atomically). Throws NotFound when missing.
  virtual ObjectInfo get_to_file(const std::string& key, const std::filesystem::path& destination) = 0;
  // Reads a whole object into memory; Permanent error when it is larger than `max_bytes`.
  virtual std::string get_to_buffer(const std::string& key, std::size_t max_bytes) = 0;
  virtual std::optional<ObjectInfo> head(const std::string& key) = 0;
  virtual void remove(const std::string& key) = 0;
  // Deletes many keys (S3: DeleteObjects in batches of 1000). Missing keys are fine.
  virtual void remove_many(const std::vector<std::string>& keys) = 0;
  // One page of keys under `prefix`, in lexicographic order, at most `max_keys` (≤ 1000).
  virtual ListPage list(const std::string& prefix, const std::optional<std::string>& continuation,
                        int max_keys = 1000) = 0;
  // Signed GET URL valid until the returned expiry. Callers pass the signing time (see stable_signing_time).
  virtual PresignedUrl presign_get(const std::string& key, std::chrono::seconds ttl,
                                   std::chrono::system_clock::time_point signing_time) = 0;
  virtual PresignedUpload presign_put(const std::string& key, const std::string& content_type,
                                      std::uint64_t max_bytes, std::chrono::seconds ttl,
                                      std::chrono::system_clock::time_point signing_time) = 0;
  // Throws when the store cannot be used (readiness probe).
  virtual void check_ready() = 0;

  // Deletes every object under `prefix`, page by page; returns how many were deleted.
  std::size_t remove_prefix(const std::string& prefix);
};

// Signed URLs are stable within a window so browsers can cache images (DESIGN §4): the signing time is `now`
// rounded down to a multiple of half the TTL. A URL therefore stays valid for at least TTL/2 after it is
// handed out, and every API read inside one window returns byte-identical URLs.
std::chrono::system_clock::time_point stable_signing_time(std::chrono::system_clock::time_point now,
                                                          std::chrono::seconds ttl);

// Throws StorageError(Permanent) unless `key` is a safe relative object key: 1–1024 bytes of valid UTF-8,
// no NUL or control characters, no backslash, not absolute, no empty, "." or ".." segments.
void validate_key(std::string_view key);

}  // namespace imageproc::storage
