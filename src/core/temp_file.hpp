#pragma once
// Scratch files and directories that remove themselves: upload spools in the API, stage work areas in the
// worker. Names are random and created exclusively (O_EXCL / mkdtemp) with owner-only permissions, so two
// requests never share one and other local users cannot read uploads. Movable, not copyable; thread-safe in
// the sense that distinct objects share nothing.

#include <filesystem>
#include <string_view>

namespace imageproc {

// The directory for scratch files: `configured` when set, else the system temp directory.
std::filesystem::path scratch_directory(const std::string& configured);

class TempFile {
 public:
  // Creates an empty file `<dir>/<prefix><random>` (mode 0600). Throws std::filesystem_error on failure.
  static TempFile create(const std::filesystem::path& dir, std::string_view prefix);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();  // removes the file (errors ignored)

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

class TempDir {
 public:
  // Creates `<dir>/<prefix><random>/` (mode 0700). Throws std::filesystem_error on failure.
  static TempDir create(const std::filesystem::path& dir, std::string_view prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();  // removes the directory and everything in it (errors ignored)

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace imageproc
