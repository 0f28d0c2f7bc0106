#include "storage/local/local_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "core/logging.hpp"

namespace imageproc::storage {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kReservedPrefix = ".imageproc-";
constexpr std::string_view kMetaPrefix = ".imageproc-meta-";
constexpr std::string_view kTempPrefix = ".imageproc-tmp-";
constexpr const char* kDefaultContentType = "application/octet-stream";
// Objects are private: owner read/write, group read (an operator's backup user), nothing for others.
constexpr mode_t kFileMode = 0640;
constexpr mode_t kDirMode = 0750;
// A writer whose directory was pruned by a concurrent remove() starts over; more than a few in a row means
// something else is wrong.
constexpr int kWriteAttempts = 5;
constexpr std::size_t kCopyChunk = 1024 * 1024;
constexpr std::size_t kMaxMetaBytes = 4096;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

StorageErrorKind kind_for_errno(int err) {
  switch (err) {
    case ENOENT:
      return StorageErrorKind::NotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return StorageErrorKind::AccessDenied;
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EINTR:
    case EAGAIN:
    case EBUSY:
    case ETIMEDOUT:
    case ESTALE:
      return StorageErrorKind::Transient;
    default:
      return StorageErrorKind::Permanent;
  }
}

[[noreturn]] void fail_errno(int err, std::string_view what, std::string_view key) {
  throw StorageError(kind_for_errno(err),
                     fmt::format("local storage: {} failed for '{}': {}", what, key,
                                 std::error_code(err, std::generic_category()).message()));
}

[[noreturn]] void refuse_symlink(std::string_view key) {
  throw StorageError(StorageErrorKind::AccessDenied,
                     fmt::format("local storage: refusing '{}': its path contains a symbolic link", key));
}

// The key, checked (validate_key plus the local restrictions) and split into directories and file name.
struct KeyPath {
  std::vector<std::string> dirs;
  std::string name;
};

KeyPath checked_key_path(const std::string& key) {
  validate_key(key);
  KeyPath path;
  std::size_t start = 0;
  for (;;) {
    const auto slash = key.find('/', start);
    std::string segment = key.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment.size() > LocalObjectStore::kMaxSegmentBytes) {
      throw StorageError(StorageErrorKind::Permanent, "invalid object key: a path segment exceeds 200 bytes");
    }
    if (std::string_view(segment).starts_with(kReservedPrefix)) {
      throw StorageError(StorageErrorKind::Permanent,
                         "invalid object key: names starting with '.imageproc-' "
                         "are reserved by the local backend");
    }
    if (slash == std::string::npos) {
      path.name = std::move(segment);
      return path;
    }
    path.dirs.push_back(std::move(segment));
    start = slash + 1;
  }
}

std::string meta_name(const std::string& name) {
  return std::string(kMetaPrefix) + name;
}

Fd open_root(const fs::path& root, std::string_view key) {
  Fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) {
      throw StorageError(StorageErrorKind::Permanent,
                         fmt::format("local storage: the root {} does not exist", root.string()));
    }
    fail_errno(err, "opening the storage root", key);
  }
  return fd;
}

bool is_symlink_at(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Descriptors of the root and of every directory of the key, each opened relative to its parent without
// following symlinks. Without `create`, nullopt when a directory is missing (the object cannot exist).
std::optional<std::vector<Fd>> open_dirs(const fs::path& root, const KeyPath& path, bool create,
                                         const std::string& key) {
  std::vector<Fd> chain;
  chain.reserve(path.dirs.size() + 1);
  chain.push_back(open_root(root, key));
  constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  for (const auto& segment : path.dirs) {
    const int parent = chain.back().get();
    int fd = ::openat(parent, segment.c_str(), kDirFlags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(parent, segment.c_str(), kDirMode) != 0 && errno != EEXIST) {
        fail_errno(errno, "creating a directory", key);
      }
      fd = ::openat(parent, segment.c_str(), kDirFlags);
    }
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || is_symlink_at(parent, segment)) refuse_symlink(key);
      if (!create && (err == ENOENT || err == ENOTDIR)) return std::nullopt;
      if (err == ENOTDIR) {
        throw StorageError(
            StorageErrorKind::Permanent,
            fmt::format("local storage: cannot store '{}': '{}' is an object, and on local disk a "
                        "key cannot also be a prefix",
                        key, segment));
      }
      fail_errno(err, "opening a directory", key);
    }
    chain.emplace_back(fd);
  }
  return chain;
}

// flock() on a directory descriptor; released on destruction (see the header for the protocol).
class DirLock {
 public:
  DirLock(int dir, int operation, std::string_view key) : dir_(dir) {
    while (::flock(dir_, operation) != 0) {
      if (errno != EINTR) fail_errno(errno, "locking a directory", key);
    }
  }
  ~DirLock() { ::flock(dir_, LOCK_UN); }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int dir_;
};

void write_all(int fd, std::string_view data, std::string_view key) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(errno, "writing", key);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads up to `size` bytes; fewer only at end of file.
std::size_t read_some(int fd, char* buffer, std::size_t size, std::string_view key) {
  for (;;) {
    const ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) fail_errno(errno, "reading", key);
  }
}

void fsync_or_fail(int fd, std::string_view what, std::string_view key) {
  if (::fsync(fd) != 0) fail_errno(errno, what, key);
}

// A uniquely named file in `dir`, removed on destruction unless commit() was called after renaming it.
class TempFile {
 public:
  TempFile(int dir, std::string_view key)
      : dir_(dir), name_(std::string(kTempPrefix) + crypto::hex_encode(crypto::random_bytes(12))) {
    fd_ = Fd(::openat(dir_, name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode));
    if (!fd_) fail_errno(errno, "creating a temporary file", key);
  }
  ~TempFile() {
    fd_.reset();
    if (!committed_) ::unlinkat(dir_, name_.c_str(), 0);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // Makes the bytes durable before the rename publishes them (otherwise a crash could publish an empty file).
  void sync_and_close(std::string_view key) {
    fsync_or_fail(fd_.get(), "flushing a temporary file", key);
    if (::close(fd_.release()) != 0) fail_errno(errno, "closing a temporary file", key);
  }
  void commit() { committed_ = true; }

 private:
  int dir_;
  std::string name_;
  Fd fd_;
  bool committed_ = false;
};

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
  const auto since_epoch =
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

ObjectInfo info_from_stat(const std::string& key, const struct stat& st, std::string content_type) {
  ObjectInfo info;
  info.key = key;
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.content_type = std::move(content_type);
  // Every write creates a new inode with a new mtime, so (inode, size, mtime) changes whenever the bytes do,
  // without hashing the content on every read (the same idea as nginx's ETag).
  info.etag = crypto::sha256_hex(fmt::format("{}:{}:{}.{}", static_cast<unsigned long long>(st.st_ino),
                                             static_cast<long long>(st.st_size),
                                             static_cast<long long>(st.st_mtim.tv_sec),
                                             static_cast<long>(st.st_mtim.tv_nsec)))
                  .substr(0, 32);
  info.last_modified = mtime_of(st);
  return info;
}

std::optional<nlohmann::json> read_meta(int dir, const std::string& name) {
  Fd fd(::openat(dir, meta_name(name).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text(kMaxMetaBytes, '\0');
  std::size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  text.resize(used);
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

// Opens the object and reads its sidecar under a shared directory lock (see the header). nullopt when the
// key names no regular file.
std::optional<ObjectReader> open_object(const fs::path& root, const std::string& key) {
  const auto path = checked_key_path(key);
  auto chain = open_dirs(root, path, false, key);
  if (!chain) return std::nullopt;
  const int dir = chain->back().get();
  Fd fd;
  struct stat st {};
  std::optional<nlohmann::json> meta;
  {
    DirLock lock(dir, LOCK_SH, key);
    // O_NONBLOCK: a FIFO planted in the tree must not hang the reader; regular files ignore the flag.
    fd = Fd(::openat(dir, path.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      const int err = errno;
      if (err == ENOENT) return std::nullopt;
      if (err == ELOOP) refuse_symlink(key);
      fail_errno(err, "opening the object", key);
    }
    if (::fstat(fd.get(), &st) != 0) fail_errno(errno, "reading object attributes", key);
    if (!S_ISREG(st.st_mode)) return std::nullopt;  // a directory (a prefix), not an object
    meta = read_meta(dir, path.name);
  }
  std::string content_type = kDefaultContentType;
  // The size check catches a sidecar left from another version by a crash between the two renames.
  if (meta && meta->contains("contentType") && (*meta)["contentType"].is_string() && meta->contains("size") &&
      (*meta)["size"].is_number_integer() && (*meta)["size"].get<std::int64_t>() == st.st_size) {
    content_type = (*meta)["contentType"].get<std::string>();
  }
  return ObjectReader(fd.release(), info_from_stat(key, st, std::move(content_type)));
}

void check_ttl(std::chrono::seconds ttl) {
  if (ttl < std::chrono::seconds(1) || ttl > LocalObjectStore::kMaxPresignTtl) {
    throw StorageError(StorageErrorKind::Permanent,
                       "presigned URL lifetime must be between 1 second and 7 days");
  }
}

std::int64_t expiry_epoch(std::chrono::system_clock::time_point signing_time, std::chrono::seconds ttl) {
  return std::chrono::floor<std::chrono::seconds>(signing_time.time_since_epoch() + ttl).count();
}

struct ListState {
  const std::string& prefix;
  const std::optional<std::string>& after;
  std::size_t wanted;
  std::vector<ObjectInfo> found;
};

// Depth-first walk in full-key byte order. Sorting each directory by name + "/" for subdirectories (and the
// bare name for files) yields exactly the lexicographic order of whole keys, as S3 lists them: "a-c" comes
// before "a/b" because '-' < '/'.
void list_dir(int dir, const std::string& dir_prefix, ListState& state) {
  struct Entry {
    std::string full;  // key for files, key prefix ending in '/' for directories
    std::string name;
    bool is_dir;
    struct stat st;
  };
  std::vector<Entry> entries;
  {
    const int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) fail_errno(errno, "listing", dir_prefix);
    DIR* stream = ::fdopendir(dup);
    if (stream == nullptr) {
      const int err = errno;
      ::close(dup);
      fail_errno(err, "listing", dir_prefix);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> closer(stream, ::closedir);
    while (const dirent* ent = ::readdir(stream)) {
      const std::string_view name = ent->d_name;
      if (name == "." || name == ".." || name.starts_with(kReservedPrefix)) continue;
      Entry e{dir_prefix + std::string(name), std::string(name), false, {}};
      if (::fstatat(dir, e.name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // removed meanwhile
      if (S_ISDIR(e.st.st_mode)) {
        e.is_dir = true;
        e.full += '/';
        // Skip subtrees that cannot hold a key under the prefix, or only keys at or before the token.
        if (!e.full.starts_with(state.prefix) && !state.prefix.starts_with(e.full)) continue;
        if (state.after && e.full < *state.after && !state.after->starts_with(e.full)) continue;
      } else if (S_ISREG(e.st.st_mode)) {
        if (!e.full.starts_with(state.prefix)) continue;
        if (state.after && e.full <= *state.after) continue;
      } else {
        if (S_ISLNK(e.st.st_mode)) log::warn("local storage: ignoring a symbolic link", {{"path", e.full}});
        continue;
      }
      entries.push_back(std::move(e));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.full < b.full; });
  for (auto& e : entries) {
    if (state.found.size() >= state.wanted) return;
    if (e.is_dir) {
      Fd sub(::openat(dir, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) list_dir(sub.get(), e.full, state);
      continue;
    }
    try {
      validate_key(e.full);  // a file put there by hand may not be a valid key; never hand it out
    } catch (const StorageError&) {
      continue;
    }
    state.found.push_back(info_from_stat(e.full, e.st, {}));
  }
}

}  // namespace

// --- ObjectReader
// -------------------------------------------------------------------------------------------

ObjectReader::ObjectReader(int fd, ObjectInfo info) : fd_(fd), info_(std::move(info)) {}

ObjectReader::~ObjectReader() {
  if (fd_ >= 0) ::close(fd_);
}

ObjectReader::ObjectReader(ObjectReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), info_(std::move(other.info_)) {}

ObjectReader& ObjectReader::operator=(ObjectReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    info_ = std::move(other.info_);
  }
  return *this;
}

std::string ObjectReader::read(std::uint64_t offset, std::size_t length) const {
  if (offset > info_.size || length > info_.size - offset) {
    throw StorageError(StorageErrorKind::Permanent,
                       "local storage: read outside the object '" + info_.key + "'");
  }
  std::string out(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(errno, "reading", info_.key);
    }
    if (n == 0) {
      throw StorageError(StorageErrorKind::Transient,
                         "local storage: '" + info_.key + "' is shorter than expected (modified in place?)");
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

// --- LocalObjectStore
// ---------------------------------------------------------------------------------------

LocalObjectStore::LocalObjectStore(fs::path root, UrlSigner signer)
    : root_(fs::absolute(std::move(root)).lexically_normal()), signer_(std::move(signer)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_, ec)) {
    throw StorageError(StorageErrorKind::Permanent, "local storage: cannot create the root directory " +
                                                        root_.string() + ": " + ec.message());
  }
}

void LocalObjectStore::set_fault_hook(FaultHook hook) {
  std::lock_guard lock(hook_mutex_);
  hook_ = hook ? std::make_shared<const FaultHook>(std::move(hook)) : nullptr;
}

void LocalObjectStore::fault(std::string_view operation, const std::string& key) const {
  std::shared_ptr<const FaultHook> hook;
  {
    std::lock_guard lock(hook_mutex_);
    hook = hook_;
  }
  if (hook) (*hook)(operation, key);
}

void validate_content_type(std::string_view content_type) {
  if (content_type.empty() || content_type.size() > 255) {
    throw StorageError(StorageErrorKind::Permanent, "content type must be 1-255 characters");
  }
  for (const char c : content_type) {
    if (c < 0x20 || c > 0x7e) {
      throw StorageError(StorageErrorKind::Permanent, "content type must be printable ASCII");
    }
  }
}

void LocalObjectStore::write_object(const std::string& key, const std::string& content_type,
                                    const std::function<void(int fd)>& write_data) {
  const auto path = checked_key_path(key);
  const std::string type = content_type.empty() ? kDefaultContentType : content_type;
  validate_content_type(type);
  fault("put", key);
  for (int attempt = 1;; ++attempt) {
    try {
      auto chain = open_dirs(root_, path, true, key);
      const int dir = chain->back().get();
      if (is_symlink_at(dir, path.name)) refuse_symlink(key);

      TempFile data(dir, key);
      write_data(data.fd());
      struct stat st {};
      if (::fstat(data.fd(), &st) != 0) fail_errno(errno, "reading object attributes", key);
      data.sync_and_close(key);

      TempFile meta(dir, key);
      write_all(meta.fd(), nlohmann::json{{"contentType", type}, {"size", st.st_size}}.dump(), key);
      meta.sync_and_close(key);

      {
        DirLock lock(dir, LOCK_EX, key);
        if (::renameat(dir, data.name().c_str(), dir, path.name.c_str()) != 0) {
          const int err = errno;
          if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
            throw StorageError(
                StorageErrorKind::Permanent,
                fmt::format("local storage: cannot store '{}': it is a prefix of other objects, "
                            "and on local disk a key cannot be both",
                            key));
          }
          fail_errno(err, "publishing the object", key);
        }
        data.commit();
        if (::renameat(dir, meta.name().c_str(), dir, meta_name(path.name).c_str()) != 0) {
          fail_errno(errno, "publishing the object metadata", key);
        }
        meta.commit();
      }
      fsync_or_fail(dir, "flushing the directory", key);  // makes the renames themselves durable
      return;
    } catch (const StorageError& e) {
      // NotFound while writing means a concurrent remove() pruned a directory we had opened: start over.
      if (e.kind() != StorageErrorKind::NotFound || attempt == kWriteAttempts) throw;
    }
  }
}

void LocalObjectStore::put_buffer(const std::string& key, std::string_view data,
                                  const std::string& content_type) {
  write_object(key, content_type, [&](int fd) { write_all(fd, data, key); });
}

void LocalObjectStore::put_file(const std::string& key, const fs::path& file,
                                const std::string& content_type) {
  checked_key_path(key);  // refuse an invalid key before touching the source file
  Fd source(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source) {
    const int err = errno;
    // A missing source file is the caller's bug, not a missing object.
    throw StorageError(err == ENOENT ? StorageErrorKind::Permanent : kind_for_errno(err),
                       fmt::format("local storage: cannot read {} to store '{}': {}", file.string(), key,
                                   std::error_code(err, std::generic_category()).message()));
  }
  write_object(key, content_type, [&](int fd) {
    if (::lseek(source.get(), 0, SEEK_SET) < 0) fail_errno(errno, "rewinding the source file", key);
    std::vector<char> buffer(kCopyChunk);
    for (;;) {
      const std::size_t n = read_some(source.get(), buffer.data(), buffer.size(), key);
      if (n == 0) return;
      write_all(fd, std::string_view(buffer.data(), n), key);
    }
  });
}

std::optional<ObjectReader> LocalObjectStore::open(const std::string& key) {
  checked_key_path(key);
  fault("get", key);
  return open_object(root_, key);
}

ObjectInfo LocalObjectStore::get_to_file(const std::string& key, const fs::path& destination) {
  auto reader = open(key);
  if (!reader) throw StorageError(StorageErrorKind::NotFound, "local storage: no object '" + key + "'");
  const auto parent = destination.parent_path().empty() ? fs::path(".") : destination.parent_path();
  const auto file_name = destination.filename().string();
  Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    // A missing destination directory is the caller's mistake; NotFound would claim the object is missing.
    const int err = errno;
    throw StorageError(err == ENOENT ? StorageErrorKind::Permanent : kind_for_errno(err),
                       "local storage: cannot write to " + destination.string());
  }
  TempFile temp(dir.get(), key);
  const auto size = reader->info().size;
  for (std::uint64_t offset = 0; offset < size;) {
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(kCopyChunk, size - offset));
    write_all(temp.fd(), reader->read(offset, chunk), key);
    offset += chunk;
  }
  temp.sync_and_close(key);
  if (::renameat(dir.get(), temp.name().c_str(), dir.get(), file_name.c_str()) != 0) {
    fail_errno(errno, "replacing " + destination.string(), key);
  }
  temp.commit();
  return reader->info();
}

std::string LocalObjectStore::get_to_buffer(const std::string& key, std::size_t max_bytes) {
  auto reader = open(key);
  if (!reader) throw StorageError(StorageErrorKind::NotFound, "local storage: no object '" + key + "'");
  if (reader->info().size > max_bytes) {
    throw StorageError(StorageErrorKind::Permanent,
                       fmt::format("local storage: '{}' is {} bytes, more than the {} allowed", key,
                                   reader->info().size, max_bytes));
  }
  return reader->read(0, static_cast<std::size_t>(reader->info().size));
}

std::optional<ObjectInfo> LocalObjectStore::head(const std::string& key) {
  checked_key_path(key);
  fault("head", key);
  auto reader = open_object(root_, key);
  if (!reader) return std::nullopt;
  return reader->info();
}

void LocalObjectStore::remove(const std::string& key) {
  const auto path = checked_key_path(key);
  fault("remove", key);
  auto chain = open_dirs(root_, path, false, key);
  if (!chain) return;
  const int dir = chain->back().get();
  {
    DirLock lock(dir, LOCK_EX, key);
    if (is_symlink_at(dir, path.name)) refuse_symlink(key);
    // EISDIR: the key names a prefix, not an object; like S3, deleting a missing object succeeds.
    if (::unlinkat(dir, path.name.c_str(), 0) != 0 && errno != ENOENT && errno != EISDIR) {
      fail_errno(errno, "deleting the object", key);
    }
    if (::unlinkat(dir, meta_name(path.name).c_str(), 0) != 0 && errno != ENOENT) {
      fail_errno(errno, "deleting the object metadata", key);
    }
  }
  fsync_or_fail(dir, "flushing the directory", key);
  // Prune directories left empty, deepest first; the first non-empty one (ENOTEMPTY) ends it. Never the root.
  for (std::size_t i = chain->size() - 1; i >= 1; --i) {
    if (::unlinkat((*chain)[i - 1].get(), path.dirs[i - 1].c_str(), AT_REMOVEDIR) != 0) break;
  }
}

void LocalObjectStore::remove_many(const std::vector<std::string>& keys) {
  // All keys are checked first so that one invalid key fails the call before anything is deleted.
  for (const auto& key : keys) checked_key_path(key);
  for (const auto& key : keys) remove(key);
}

ListPage LocalObjectStore::list(const std::string& prefix, const std::optional<std::string>& continuation,
                                int max_keys) {
  if (max_keys < 1) throw StorageError(StorageErrorKind::Permanent, "max_keys must be at least 1");
  max_keys = std::min(max_keys, 1000);  // as S3 does
  if (prefix.size() > 1024 || (continuation && continuation->size() > 1024)) {
    throw StorageError(StorageErrorKind::Permanent,
                       "list prefix and continuation token are at most 1024 bytes");
  }
  fault("list", prefix);
  ListPage page;
  // Start in the deepest directory the prefix names completely ("a/b/c" → "a/b/"): nothing outside can match.
  KeyPath start;
  std::string dir_prefix;
  if (const auto slash = prefix.rfind('/'); slash != std::string::npos) {
    std::string_view dirs(prefix.data(), slash);
    while (!dirs.empty()) {
      const auto next = dirs.find('/');
      const auto segment = dirs.substr(0, next);
      // Such a directory never holds objects (see checked_key_path), so nothing can match.
      if (segment.empty() || segment == "." || segment == ".." || segment.starts_with(kReservedPrefix)) {
        return page;
      }
      start.dirs.emplace_back(segment);
      dirs = next == std::string_view::npos ? std::string_view{} : dirs.substr(next + 1);
    }
    dir_prefix = prefix.substr(0, slash + 1);
  }
  auto chain = open_dirs(root_, start, false, prefix);
  if (!chain) return page;
  ListState state{prefix, continuation, static_cast<std::size_t>(max_keys) + 1, {}};
  list_dir(chain->back().get(), dir_prefix, state);
  if (state.found.size() > static_cast<std::size_t>(max_keys)) {
    state.found.resize(static_cast<std::size_t>(max_keys));
    page.next_token = state.found.back().key;
  }
  page.objects = std::move(state.found);
  return page;
}

PresignedUrl LocalObjectStore::presign_get(const std::string& key, std::chrono::seconds ttl,
                                           std::chrono::system_clock::time_point signing_time) {
  checked_key_path(key);
  check_ttl(ttl);
  fault("presign", key);
  const auto expires = expiry_epoch(signing_time, ttl);
  return {signer_.get_url(key, expires),
          std::chrono::system_clock::time_point(std::chrono::seconds(expires))};
}

PresignedUpload LocalObjectStore::presign_put(const std::string& key, const std::string& content_type,
                                              std::uint64_t max_bytes, std::chrono::seconds ttl,
                                              std::chrono::system_clock::time_point signing_time) {
  checked_key_path(key);
  validate_content_type(content_type);
  check_ttl(ttl);
  if (max_bytes == 0) throw StorageError(StorageErrorKind::Permanent, "max_bytes must be at least 1");
  fault("presign", key);
  const auto expires = expiry_epoch(signing_time, ttl);
  PresignedUpload upload;
  upload.method = "PUT";
  upload.url = signer_.put_url(key, expires, {content_type, max_bytes});
  upload.headers["Content-Type"] = content_type;
  upload.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(expires));
  return upload;
}

void LocalObjectStore::check_ready() {
  fault("ready", "");
  const Fd root = open_root(root_, "<readiness probe>");
  TempFile probe(root.get(), "<readiness probe>");
  write_all(probe.fd(), "ok", "<readiness probe>");
  probe.sync_and_close("<readiness probe>");
  if (::unlinkat(root.get(), probe.name().c_str(), 0) != 0) {
    fail_errno(errno, "removing the readiness probe", "<readiness probe>");
  }
  probe.commit();
}

}  // namespace imageproc::storage
