#include "core/temp_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/crypto.hpp"

namespace imageproc {

namespace fs = std::filesystem;

fs::path scratch_directory(const std::string& configured) {
  return configured.empty() ? fs::temp_directory_path() : fs::path(configured);
}

TempFile TempFile::create(const fs::path& dir, std::string_view prefix) {
  fs::create_directories(dir);
  for (int attempt = 0;; ++attempt) {
    fs::path path = dir / (std::string(prefix) + crypto::random_token(12));
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      return TempFile(std::move(path));
    }
    if (errno != EEXIST || attempt >= 8) {
      throw fs::filesystem_error("cannot create a temporary file", path, std::error_code(errno, std::generic_category()));
    }
  }
}

TempFile::TempFile(TempFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempFile::~TempFile() {
  std::error_code ec;
  if (!path_.empty()) fs::remove(path_, ec);
}

TempDir TempDir::create(const fs::path& dir, std::string_view prefix) {
  fs::create_directories(dir);
  std::string pattern = (dir / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw fs::filesystem_error("cannot create a temporary directory", fs::path(pattern),
                               std::error_code(errno, std::generic_category()));
  }
  return TempDir(fs::path(pattern));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

}  // namespace imageproc
