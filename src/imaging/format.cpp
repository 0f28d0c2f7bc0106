#include "imaging/format.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cstdint>

namespace imageproc::imaging {

namespace {

bool starts_with_bytes(std::string_view data, std::string_view magic) {
  return data.size() >= magic.size() && data.substr(0, magic.size()) == magic;
}

std::uint32_t read_be32(std::string_view data, std::size_t offset) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(data[offset])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(data[offset + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(data[offset + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(data[offset + 3]));
}

enum class BrandKind { Avif, HeifSpecific, HeifGeneric, Other };

BrandKind classify_brand(std::string_view brand) {
  if (brand == "avif" || brand == "avis") return BrandKind::Avif;
  if (brand == "heic" || brand == "heix" || brand == "hevc" || brand == "hevx") {
    return BrandKind::HeifSpecific;
  }
  // mif1/msf1 only say "HEIF image / image sequence" without naming the codec; AVIF files carry them too,
  // so they decide only when no codec-specific brand is present.
  if (brand == "mif1" || brand == "msf1") return BrandKind::HeifGeneric;
  return BrandKind::Other;
}

// ISO/IEC 14496-12 §4.3: [size:u32][type:'ftyp'][major_brand:4][minor_version:u32][compatible_brands:4*n].
// The box must be the first one, as HEIF (ISO/IEC 23008-12) and AVIF require.
ImageFormat sniff_iso_bmff(std::string_view data) {
  constexpr std::size_t kFixedPart = 16;
  // An ftyp box is tiny; a huge declared size means this is not one (and keeps the arithmetic honest).
  constexpr std::uint32_t kMaxFtypSize = 4096;
  if (data.size() < kFixedPart || data.substr(4, 4) != "ftyp") return ImageFormat::Unknown;
  // size 0 ("to end of file") and 1 (64-bit largesize) are legal for boxes in general but never for a real
  // ftyp; a size that does not hold whole brands is corrupt.
  const std::uint32_t box_size = read_be32(data, 0);
  if (box_size < kFixedPart || box_size > kMaxFtypSize || (box_size - kFixedPart) % 4 != 0) {
    return ImageFormat::Unknown;
  }

  const BrandKind major = classify_brand(data.substr(8, 4));
  if (major == BrandKind::Avif) return ImageFormat::Avif;
  if (major == BrandKind::HeifSpecific) return ImageFormat::Heif;

  // Only brands inside both the declared box and the bytes we were given; never the minor version field.
  const std::size_t end = std::min<std::size_t>(box_size, data.size());
  bool any_avif = false;
  bool any_heif_specific = false;
  bool any_heif_generic = major == BrandKind::HeifGeneric;
  for (std::size_t offset = kFixedPart; offset + 4 <= end; offset += 4) {
    switch (classify_brand(data.substr(offset, 4))) {
      case BrandKind::Avif:
        any_avif = true;
        break;
      case BrandKind::HeifSpecific:
        any_heif_specific = true;
        break;
      case BrandKind::HeifGeneric:
        any_heif_generic = true;
        break;
      case BrandKind::Other:
        break;
    }
  }
  if (any_avif) return ImageFormat::Avif;
  if (any_heif_specific || any_heif_generic) return ImageFormat::Heif;
  return ImageFormat::Unknown;
}

constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes one code point at `pos` and advances `pos`. Invalid input yields U+FFFD and skips the maximal
// subpart of an ill-formed sequence (Unicode §3.9, "U+FFFD substitution of maximal subparts"), so
// "\xE2\x82" is one replacement, not two, and a stray lead byte never swallows the next valid character.
char32_t decode_utf8(std::string_view s, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;  // no overlongs
    if (lead == 0xED) second_max = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;  // no overlongs
    if (lead == 0xF4) second_max = 0x8F;  // nothing above U+10FFFF
  } else {
    ++pos;  // continuation byte without a lead, C0/C1 overlong leads, F5..FF
    return kReplacementChar;
  }
  std::size_t i = pos + 1;
  for (std::size_t k = 1; k < length; ++k, ++i) {
    const unsigned char min = k == 1 ? second_min : 0x80;
    const unsigned char max = k == 1 ? second_max : 0xBF;
    if (i >= s.size() || byte(i) < min || byte(i) > max) {
      pos = i;  // the valid prefix is the maximal subpart
      return kReplacementChar;
    }
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  pos = i;
  return cp;
}

bool is_removed_code_point(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return true;       // C0 controls (incl. NUL, CR, LF, TAB) and DEL
  if (cp >= 0x80 && cp <= 0x9F) return true;      // C1 controls
  if (cp == 0x200E || cp == 0x200F) return true;  // LRM, RLM
  if (cp == 0x061C) return true;                  // Arabic letter mark (a bidi mark like LRM/RLM)
  if (cp >= 0x202A && cp <= 0x202E) return true;  // LRE, RLE, PDF, LRO, RLO: can reverse the extension
  if (cp >= 0x2066 && cp <= 0x2069) return true;  // LRI, RLI, FSI, PDI
  return false;
}

bool is_trimmed(char c) {
  return c == ' ' || c == '.';
}

std::string_view trim_ends(std::string_view s) {
  while (!s.empty() && is_trimmed(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_trimmed(s.back())) s.remove_suffix(1);
  return s;
}

// Longest prefix of valid UTF-8 `s` that is at most `max_bytes` long and ends on a code point boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace

ImageFormat sniff_format(std::string_view first_bytes) {
  const std::string_view data = first_bytes.substr(0, std::min(first_bytes.size(), kSniffBytes));
  using namespace std::string_view_literals;
  if (starts_with_bytes(data, "\xFF\xD8\xFF"sv)) return ImageFormat::Jpeg;
  if (starts_with_bytes(data, "\x89PNG\r\n\x1A\n"sv)) return ImageFormat::Png;
  if (data.size() >= 12 && starts_with_bytes(data, "RIFF"sv) && data.substr(8, 4) == "WEBP"sv) {
    return ImageFormat::WebP;
  }
  if (starts_with_bytes(data, "GIF87a"sv) || starts_with_bytes(data, "GIF89a"sv)) return ImageFormat::Gif;
  // Classic TIFF (42) and BigTIFF (43), both byte orders; libvips reads all four.
  if (starts_with_bytes(data, "II\x2A\x00"sv) || starts_with_bytes(data, "MM\x00\x2A"sv) ||
      starts_with_bytes(data, "II\x2B\x00"sv) || starts_with_bytes(data, "MM\x00\x2B"sv)) {
    return ImageFormat::Tiff;
  }
  return sniff_iso_bmff(data);
}

std::string_view mime_type(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg:
      return "image/jpeg";
    case ImageFormat::Png:
      return "image/png";
    case ImageFormat::WebP:
      return "image/webp";
    case ImageFormat::Gif:
      return "image/gif";
    case ImageFormat::Tiff:
      return "image/tiff";
    case ImageFormat::Heif:
      return "image/heif";
    case ImageFormat::Avif:
      return "image/avif";
    case ImageFormat::Unknown:
      break;
  }
  return "application/octet-stream";
}

std::string_view format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg:
      return "jpeg";
    case ImageFormat::Png:
      return "png";
    case ImageFormat::WebP:
      return "webp";
    case ImageFormat::Gif:
      return "gif";
    case ImageFormat::Tiff:
      return "tiff";
    case ImageFormat::Heif:
      return "heif";
    case ImageFormat::Avif:
      return "avif";
    case ImageFormat::Unknown:
      break;
  }
  return "unknown";
}

bool is_allowed(ImageFormat format, const AllowedFormats& allowed) {
  switch (format) {
    case ImageFormat::Jpeg:
    case ImageFormat::Png:
    case ImageFormat::WebP:
      return true;
    case ImageFormat::Gif:
      return allowed.gif;
    case ImageFormat::Tiff:
      return allowed.tiff;
    case ImageFormat::Heif:
      return allowed.heif;
    case ImageFormat::Avif:
      return allowed.avif;
    case ImageFormat::Unknown:
      break;
  }
  return false;
}

std::string sanitize_display_filename(std::string_view raw) {
  // '/' and '\' are ASCII and never occur inside a multi-byte UTF-8 sequence, so cutting on raw bytes is
  // safe; an overlong encoding of '/' is not a separator and becomes U+FFFD below.
  if (const auto slash = raw.find_last_of("/\\"); slash != std::string_view::npos) {
    raw.remove_prefix(slash + 1);
  }

  std::string cleaned;
  cleaned.reserve(std::min(raw.size(), std::size_t{4096}));
  for (std::size_t pos = 0; pos < raw.size();) {
    const char32_t cp = decode_utf8(raw, pos);
    if (!is_removed_code_point(cp)) text::append_utf8(cleaned, cp);
  }

  std::string_view name = trim_ends(cleaned);
  if (name.size() > kMaxDisplayFilenameBytes) {
    // Keep a short extension so "very long name….jpg" still reads as a JPEG to the user.
    constexpr std::size_t kMaxKeptExtensionBytes = 16;
    const auto dot = name.rfind('.');
    const bool keep_extension =
        dot != std::string_view::npos && dot > 0 && name.size() - dot <= kMaxKeptExtensionBytes;
    if (keep_extension) {
      const std::string_view extension = name.substr(dot);
      const std::string_view stem =
          trim_ends(utf8_prefix(name.substr(0, dot), kMaxDisplayFilenameBytes - extension.size()));
      std::string result;
      result.reserve(stem.size() + extension.size());
      result.append(stem).append(extension);
      return result;  // stem is non-empty: the name started with neither a space nor a dot
    }
    name = trim_ends(utf8_prefix(name, kMaxDisplayFilenameBytes));
  }
  if (name.empty()) return "upload";
  return std::string(name);
}

}  // namespace imageproc::imaging
