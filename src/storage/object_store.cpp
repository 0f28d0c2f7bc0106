#include "storage/object_store.hpp"

namespace imageproc::storage {

std::size_t ObjectStore::remove_prefix(const std::string& prefix) {
  std::size_t deleted = 0;
  // Always list from the start: deleting while following a continuation token could skip keys on stores
  // whose tokens are positional.
  for (;;) {
    auto page = list(prefix, std::nullopt, 1000);
    if (page.objects.empty()) return deleted;
    std::vector<std::string> keys;
    keys.reserve(page.objects.size());
    for (const auto& o : page.objects) keys.push_back(o.key);
    remove_many(keys);
    deleted += keys.size();
  }
}

std::chrono::system_clock::time_point stable_signing_time(std::chrono::system_clock::time_point now,
                                                          std::chrono::seconds ttl) {
  const auto window = std::max<std::int64_t>(1, ttl.count() / 2);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs - secs % window));
}

void validate_key(std::string_view key) {
  auto refuse = [&](const char* why) {
    throw StorageError(StorageErrorKind::Permanent, std::string("invalid object key: ") + why);
  };
  if (key.empty() || key.size() > 1024) refuse("length must be 1-1024 bytes");
  if (key.front() == '/') refuse("absolute path");
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7f) refuse("control character");
    if (c == '\\') refuse("backslash");
  }
  // UTF-8 well-formedness (keys become URL paths and file names).
  for (std::size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    const int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || i + static_cast<std::size_t>(extra) >= key.size() + (extra == 0 ? 1 : 0)) {
      refuse("not valid UTF-8");
    }
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(key[i + static_cast<std::size_t>(k)]) & 0xc0) != 0x80) {
        refuse("not valid UTF-8");
      }
    }
    i += static_cast<std::size_t>(extra) + 1;
  }
  std::size_t start = 0;
  while (start <= key.size()) {
    const auto slash = key.find('/', start);
    const auto seg = key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) refuse("empty path segment");
    if (seg == "." || seg == "..") refuse("relative path segment");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

}  // namespace imageproc::storage
