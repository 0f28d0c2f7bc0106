#pragma once
// Shared by the libFuzzer targets: invariant checks that abort with a readable message (libFuzzer then keeps
// the input as a crash artifact), and a small deterministic generator seeded from the input, for decisions
// that must be reproducible from the crashing file alone (chunk sizes, clock values).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace imageproc::fuzz {

[[noreturn]] inline void invariant_failed(const char* condition, const char* file, int line,
                                          const std::string& detail) {
  std::fprintf(stderr, "\n==== fuzz invariant violated: %s\n     at %s:%d\n     %s\n", condition, file, line,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// FUZZ_CHECK(condition, detail): `detail` is any expression convertible to std::string, evaluated only on
// failure.
#define FUZZ_CHECK(condition, detail)                                                                \
  do {                                                                                               \
    if (!(condition)) ::imageproc::fuzz::invariant_failed(#condition, __FILE__, __LINE__, (detail)); \
  } while (false)

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Printable rendering of arbitrary bytes for failure messages (bounded length).
inline std::string printable(std::string_view bytes, std::size_t limit = 200) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  if (bytes.size() > limit) out += "...";
  return out;
}

// FNV-1a: a seed that follows every byte of the input.
inline std::uint64_t hash_bytes(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64: tiny, fast, and good enough to vary chunk sizes and times.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [low, high] (high - low small compared with 2^64).
  std::uint64_t between(std::uint64_t low, std::uint64_t high) { return low + next() % (high - low + 1); }

 private:
  std::uint64_t state_;
};

// Strict UTF-8 validity (no overlongs, surrogates or code points above U+10FFFF), written independently of
// the code under test so the two can be compared.
inline bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const std::uint32_t min = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

}  // namespace imageproc::fuzz
