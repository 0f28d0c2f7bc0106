#pragma once
// ObjectStore over the S3 REST API (AWS S3, Cloudflare R2, MinIO, s3rver), with libcurl for HTTP and the
// project's own SigV4 signer (storage/s3/sigv4.hpp).
//
// Addressing: virtual-host style (https://{bucket}.{endpoint host}/{key}) by default, path style
// ({endpoint}/{bucket}/{key}) when S3_FORCE_PATH_STYLE is set (MinIO, s3rver, IP endpoints). The endpoint
// defaults to https://s3.{region}.amazonaws.com; region "auto" (Cloudflare R2) needs an explicit endpoint.
//
// Payloads are signed with their real SHA-256 (files are hashed before the upload), never with aws-chunked
// streaming signatures, which R2 does not support.
//
// Failures: every attempt is bounded by S3_CONNECT_TIMEOUT_MS / S3_REQUEST_TIMEOUT_MS. Network errors,
// timeouts, 5xx, 429 and S3's throttling codes (SlowDown, RequestTimeout, InternalError) are retried up to
// S3_MAX_ATTEMPTS times in all, with full-jitter exponential backoff (100 ms base, 5 s cap); the body is
// re-sent from its start (buffers as they are, files reopened), so a retry never sends half a stream. Then
// 404 → NotFound, 403 → AccessDenied, still-failing transient errors → Transient, other 4xx → Permanent.
// Messages carry S3's error Code and Message, never credentials or signatures.
// A circuit breaker fails fast ("storage circuit open", Transient) after `breaker_threshold` consecutive
// operations ended in transient failures, for `breaker_cooldown`; then a single probe operation is let
// through (half-open) and its outcome closes or re-opens the circuit.
//
// Presigned PUTs: the Content-Type is a signed header (the client must send exactly the value returned in
// PresignedUpload::headers), but `max_bytes` CANNOT be enforced by a presigned PUT — S3 only enforces sizes
// with POST policies (content-length-range), which R2 does not support. Callers that accept direct uploads
// must check the object's size (head()) afterwards and delete oversized objects.
//
// Thread-safety: all public methods may be called concurrently. The configuration is immutable after
// construction; CURL easy handles (which keep their connections alive for reuse) live in a mutex-guarded
// pool; the circuit breaker state is mutex-guarded.

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "storage/object_store.hpp"
#include "storage/s3/sigv4.hpp"

namespace imageproc::storage {

// Knobs that are not operator configuration (tests shorten them).
struct S3Tuning {
  int breaker_threshold = 5;                          // consecutive transient operation failures that open it
  std::chrono::milliseconds breaker_cooldown{10000};  // how long it stays open before one probe
  std::chrono::milliseconds backoff_base{100};  // full jitter: sleep U(0, min(cap, base * 2^(attempt-1)))
  std::chrono::milliseconds backoff_cap{5000};
  std::size_t max_idle_handles = 16;  // CURL handles (and their connections) kept for reuse
};

class S3ObjectStore final : public ObjectStore {
 public:
  // Throws StorageError(Permanent) on an unusable configuration (bad endpoint, missing bucket/credentials).
  // Performs no I/O.
  explicit S3ObjectStore(StorageConfig config, S3Tuning tuning = {});
  ~S3ObjectStore() override;
  S3ObjectStore(const S3ObjectStore&) = delete;
  S3ObjectStore& operator=(const S3ObjectStore&) = delete;

  void put_file(const std::string& key, const std::filesystem::path& file,
                const std::string& content_type) override;
  void put_buffer(const std::string& key, std::string_view data, const std::string& content_type) override;
  ObjectInfo get_to_file(const std::string& key, const std::filesystem::path& destination) override;
  std::string get_to_buffer(const std::string& key, std::size_t max_bytes) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(const std::string& key) override;
  void remove_many(const std::vector<std::string>& keys) override;
  ListPage list(const std::string& prefix, const std::optional<std::string>& continuation,
                int max_keys = 1000) override;
  PresignedUrl presign_get(const std::string& key, std::chrono::seconds ttl,
                           std::chrono::system_clock::time_point signing_time) override;
  // See the header comment: max_bytes is NOT enforced by S3 for a presigned PUT.
  PresignedUpload presign_put(const std::string& key, const std::string& content_type,
                              std::uint64_t max_bytes, std::chrono::seconds ttl,
                              std::chrono::system_clock::time_point signing_time) override;
  // HEAD on the bucket: throws unless the bucket exists and the credentials may use it.
  void check_ready() override;

  struct Target {
    std::string host;  // Host header (with :port when not the scheme's default)
    std::string path;  // decoded path
  };
  struct Request;
  struct Response;

 private:
  class HandlePool;
  class CircuitBreaker;

  Target object_target(const std::string& key) const;
  // A request for one object: operation name (for messages), HTTP method, key and its target.
  Request object_request(const char* operation, const char* method, const std::string& key) const;
  Target bucket_target() const;
  // Runs `request` with retries and the circuit breaker. Returns the final response for any status that is
  // not retryable (including 4xx: the caller maps them); throws Transient when retries are exhausted.
  Response execute(const Request& request);
  Response perform_once(const Request& request);
  [[noreturn]] void throw_error(const Request& request, const Response& response) const;

  StorageConfig config_;
  S3Tuning tuning_;
  std::string scheme_;         // "https" / "http"
  std::string endpoint_host_;  // "s3.eu-central-1.amazonaws.com", "127.0.0.1:9000"
  sigv4::Credentials credentials_;
  sigv4::Scope scope_;
  std::unique_ptr<HandlePool> handles_;
  std::unique_ptr<CircuitBreaker> breaker_;
};

// Minimal reading of S3's XML responses (flat, machine-written documents), exposed for unit tests.
namespace s3xml {
// Decodes &amp; &lt; &gt; &quot; &apos; and numeric references (&#233; &#xE9;) to UTF-8; anything else is
// kept as written.
std::string decode(std::string_view text);
// The raw (still encoded) inner text of every <name>…</name> or <name/> in document order, at any depth.
// Matches the exact name only (<KeyCount> is not <Key>).
std::vector<std::string_view> elements(std::string_view xml, std::string_view name);
}  // namespace s3xml

}  // namespace imageproc::storage
