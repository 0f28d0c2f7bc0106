#pragma once
// The local-disk ObjectStore (the default of `imageproc up`; DESIGN §3). An object with key "a/b/c" is the
// plain file <root>/a/b/c, so operators can inspect and back up the tree with ordinary tools.
//
// On-disk layout and why:
// - Content type lives in a sidecar JSON file `.imageproc-meta-<name>` next to the object. A sidecar works on
//   every filesystem (user xattrs do not: older tmpfs, some overlay and network mounts refuse them).
// - Writes go to a unique `.imageproc-tmp-<random>` file in the destination directory, are fsynced, and are
//   renamed over the object; then the sidecar is renamed likewise and the directory fsynced. Both renames
//   happen under an exclusive flock() on the directory, and readers open object + sidecar under a shared
//   lock, so a reader never pairs new bytes with an old content type. The lock is held only for the two
//   renames, never while data is copied. flock works across processes (api and worker share the tree).
// - Every name starting with ".imageproc-" is reserved: keys with such a segment are refused, list() hides
//   them. Segments are limited to 200 bytes so that the sidecar name stays under NAME_MAX.
// - Paths are resolved one component at a time with openat(O_NOFOLLOW) from the root, so a symlink anywhere
//   below the root (planted, or swapped in mid-operation) is refused (AccessDenied) rather than followed.
//   All later operations use the directory descriptor, never the path string again.
// - remove() deletes the object and its sidecar, then removes now-empty parent directories (best effort; a
//   writer that loses its directory to this race retries).
//
// Local-only limitation, unlike S3: a key cannot be both an object and a prefix ("a" and "a/b"), because "a"
// cannot be a file and a directory at once; writing the second one fails with a Permanent error.
//
// Thread-safety: all methods may be called concurrently, also from several processes over the same root.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "storage/local/url_signer.hpp"
#include "storage/object_store.hpp"

namespace imageproc::storage {

// An object opened for reading. Holds a descriptor, so it keeps reading the same version even if the key is
// replaced or removed meanwhile. Move-only; not for concurrent use (one reader per thread).
class ObjectReader {
 public:
  ObjectReader(int fd, ObjectInfo info);
  ~ObjectReader();
  ObjectReader(ObjectReader&& other) noexcept;
  ObjectReader& operator=(ObjectReader&& other) noexcept;
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  const ObjectInfo& info() const { return info_; }
  // Reads exactly `length` bytes at `offset` (pread: only that range leaves the disk). Throws StorageError
  // when the range is outside the object.
  std::string read(std::uint64_t offset, std::size_t length) const;

 private:
  int fd_ = -1;
  ObjectInfo info_;
};

class LocalObjectStore : public ObjectStore {
 public:
  // Test-only: called with the operation ("put", "get", "head", "remove", "list", "presign", "ready") and the
  // key after the key was validated and before any I/O. It may throw a StorageError to simulate a failure
  // (chaos tests of callers). Never set in production.
  using FaultHook = std::function<void(std::string_view operation, const std::string& key)>;

  static constexpr std::size_t kMaxSegmentBytes = 200;
  static constexpr std::chrono::seconds kMaxPresignTtl{7 * 24 * 3600};

  // Creates `root` (and parents) when missing. Throws StorageError when it cannot.
  LocalObjectStore(std::filesystem::path root, UrlSigner signer);

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
  PresignedUpload presign_put(const std::string& key, const std::string& content_type,
                              std::uint64_t max_bytes, std::chrono::seconds ttl,
                              std::chrono::system_clock::time_point signing_time) override;
  void check_ready() override;

  // Local-only: opens an object for ranged reads (the /files endpoint). nullopt when it does not exist.
  std::optional<ObjectReader> open(const std::string& key);

  const std::filesystem::path& root() const { return root_; }
  const UrlSigner& signer() const { return signer_; }

  // Test-only, see FaultHook. Pass an empty function to clear it.
  void set_fault_hook(FaultHook hook);

 private:
  void fault(std::string_view operation, const std::string& key) const;
  void write_object(const std::string& key, const std::string& content_type,
                    const std::function<void(int fd)>& write_data);

  std::filesystem::path root_;
  UrlSigner signer_;
  mutable std::mutex hook_mutex_;
  std::shared_ptr<const FaultHook> hook_;
};

// Throws StorageError(Permanent) unless `content_type` is usable as a header value: at most 255 printable
// ASCII characters. Shared with the upload endpoint.
void validate_content_type(std::string_view content_type);

}  // namespace imageproc::storage
