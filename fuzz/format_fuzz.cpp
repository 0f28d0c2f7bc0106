// Fuzzes format sniffing and display-name sanitising (src/imaging/format.hpp).
//
// The input is both the first bytes of an upload and a client-supplied filename. Checked:
//   - sniff_format looks at the first kSniffBytes only (trailing bytes never change the answer), is
//     deterministic, and every positive answer has its format's magic where it belongs;
//   - mime_type / format_name / is_allowed agree with the format (Unknown is never allowed, JPEG/PNG/WebP
//     always are, the optional ones only with their flag);
//   - sanitize_display_filename returns valid UTF-8 of 1..255 bytes without path separators, control or bidi
//     characters, never starting or ending with a space or a dot, and is idempotent.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "imaging/format.hpp"

namespace {

using imageproc::fuzz::printable;
using imageproc::imaging::AllowedFormats;
using imageproc::imaging::ImageFormat;
using imageproc::imaging::kSniffBytes;

bool has_magic(ImageFormat format, std::string_view d) {
  using namespace std::string_view_literals;
  switch (format) {
    case ImageFormat::Jpeg:
      return d.starts_with("\xFF\xD8\xFF"sv);
    case ImageFormat::Png:
      return d.starts_with("\x89PNG\r\n\x1A\n"sv);
    case ImageFormat::WebP:
      return d.starts_with("RIFF"sv) && d.size() >= 12 && d.substr(8, 4) == "WEBP"sv;
    case ImageFormat::Gif:
      return d.starts_with("GIF87a"sv) || d.starts_with("GIF89a"sv);
    case ImageFormat::Tiff:
      return d.starts_with("II"sv) || d.starts_with("MM"sv);
    case ImageFormat::Heif:
    case ImageFormat::Avif:
      return d.size() >= 16 && d.substr(4, 4) == "ftyp"sv;
    case ImageFormat::Unknown:
      return true;
  }
  return false;
}

// Decodes valid UTF-8 (checked before) to code points.
template <typename F>
void for_each_code_point(std::string_view s, F&& f) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = length == 1 ? c : length == 2 ? (c & 0x1F) : length == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    f(cp);
    i += length;
  }
}

void check_sanitized(std::string_view raw) {
  const std::string name = imageproc::imaging::sanitize_display_filename(raw);
  const std::string context = " for " + printable(raw) + " -> " + printable(name);
  FUZZ_CHECK(!name.empty() && name.size() <= imageproc::imaging::kMaxDisplayFilenameBytes,
             "length" + context);
  FUZZ_CHECK(imageproc::fuzz::is_valid_utf8(name), "invalid UTF-8" + context);
  FUZZ_CHECK(name.find_first_of("/\\") == std::string::npos, "a path separator survived" + context);
  FUZZ_CHECK(name.front() != ' ' && name.front() != '.' && name.back() != ' ' && name.back() != '.',
             "untrimmed" + context);
  for_each_code_point(name, [&](char32_t cp) {
    const bool removed = cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E ||
                         cp == 0x200F || cp == 0x061C || (cp >= 0x202A && cp <= 0x202E) ||
                         (cp >= 0x2066 && cp <= 0x2069);
    FUZZ_CHECK(!removed, "a control or bidi character survived" + context);
  });
  FUZZ_CHECK(imageproc::imaging::sanitize_display_filename(name) == name, "not idempotent" + context);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = imageproc::fuzz::as_view(data, size);

  const ImageFormat format = imageproc::imaging::sniff_format(input);
  FUZZ_CHECK(imageproc::imaging::sniff_format(input) == format, "sniff_format is not deterministic");
  FUZZ_CHECK(imageproc::imaging::sniff_format(input.substr(0, kSniffBytes)) == format,
             "bytes after kSniffBytes changed the answer");
  if (input.size() >= kSniffBytes) {
    std::string longer(input.substr(0, kSniffBytes));
    longer.append("\x00\xFF trailing bytes", 17);
    FUZZ_CHECK(imageproc::imaging::sniff_format(longer) == format, "appended bytes changed the answer");
  }
  FUZZ_CHECK(has_magic(format, input.substr(0, kSniffBytes)),
             std::string("no magic for ") + std::string(imageproc::imaging::format_name(format)) + ": " +
                 printable(input.substr(0, 32)));

  const std::string_view mime = imageproc::imaging::mime_type(format);
  const std::string_view short_name = imageproc::imaging::format_name(format);
  FUZZ_CHECK((format == ImageFormat::Unknown) == (mime == "application/octet-stream"),
             "mime type of Unknown");
  FUZZ_CHECK((format == ImageFormat::Unknown) == (short_name == "unknown"), "name of Unknown");
  FUZZ_CHECK(format == ImageFormat::Unknown || mime.starts_with("image/"), "mime type is not image/*");

  const AllowedFormats none{};
  const AllowedFormats all{true, true, true, true};
  const bool required =
      format == ImageFormat::Jpeg || format == ImageFormat::Png || format == ImageFormat::WebP;
  FUZZ_CHECK(imageproc::imaging::is_allowed(format, none) == required, "allowed without opting in");
  FUZZ_CHECK(imageproc::imaging::is_allowed(format, all) == (format != ImageFormat::Unknown),
             "allowed with every format on");

  check_sanitized(input);
  return 0;
}
