#include "imaging/exif.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>

namespace imageproc::imaging {
namespace {

constexpr std::size_t kMaxUndefinedBytes = 64;
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\0' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T value{};
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// "a/b" (or a bare integer) as a numerator/denominator pair.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_fraction(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    auto n = parse_number<std::int64_t>(text);
    if (!n) return std::nullopt;
    return std::pair{*n, std::int64_t{1}};
  }
  auto n = parse_number<std::int64_t>(text.substr(0, slash));
  auto d = parse_number<std::int64_t>(text.substr(slash + 1));
  if (!n || !d || *d == 0) return std::nullopt;
  return std::pair{*n, *d};
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

double round_to(double v, int decimals) {
  // Doubles this large have no fractional digits left, and scaling them up could overflow to infinity.
  if (std::abs(v) >= 1e15) return v;
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

bool is_printable_text(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

// A JSON string must be valid UTF-8 (nlohmann throws on dump otherwise); EXIF ASCII is often Latin-1 junk.
// Well-formed sequences are kept; every byte of anything else (stray continuation bytes, overlong forms,
// surrogates, lead bytes F5..FF, code points above U+10FFFF, truncated sequences) becomes U+FFFD.
std::string to_safe_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  const auto byte = [&s](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = byte(i);
    std::size_t len = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) second_min = 0xA0;  // overlong
      if (c == 0xED) second_max = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) second_min = 0x90;  // overlong
      if (c == 0xF4) second_max = 0x8F;  // above U+10FFFF
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const unsigned char min = k == 1 ? second_min : 0x80;
      const unsigned char max = k == 1 ? second_max : 0xBF;
      ok = byte(i + k) >= min && byte(i + k) <= max;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

bool is_integer_format(std::string_view f) {
  return f == "Byte" || f == "Short" || f == "Long" || f == "SByte" || f == "SShort" || f == "SLong";
}
bool is_rational_format(std::string_view f) {
  return f == "Rational" || f == "SRational";
}

std::optional<nlohmann::json> tag_value(std::string_view tag, const ExifFieldText& field) {
  const std::string_view raw = trim(field.raw);
  if (field.format == "ASCII") {
    if (raw.empty()) return std::nullopt;
    return nlohmann::json(to_safe_text(raw));
  }
  if (tag == "ExposureTime") {
    if (auto text = exposure_time_text(raw)) return nlohmann::json(*text);
    return std::nullopt;
  }
  if (is_integer_format(field.format) || is_rational_format(field.format) || field.format == "Float" ||
      field.format == "Double") {
    std::vector<double> values;
    const bool integers = is_integer_format(field.format);
    // Byte arrays such as GPSVersionID come as "2.3.0.0"; everything else is space separated.
    for (auto part : split_spaces(raw)) {
      if (integers && part.find('.') != std::string_view::npos) {
        const bool dotted_numbers =
            std::all_of(part.begin(), part.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
        if (!dotted_numbers) return std::nullopt;
        return nlohmann::json(std::string(part));
      }
      auto v =
          (integers || is_rational_format(field.format)) ? parse_rational(part) : parse_number<double>(part);
      if (!v || !std::isfinite(*v)) return std::nullopt;
      // EXIF integers are at most 32 bits; a value beyond what converts exactly to int64 is garbage (and
      // converting it would be undefined behaviour).
      if (integers && std::abs(*v) > kMaxExactInteger) return std::nullopt;
      values.push_back(round_to(*v, 4));
    }
    if (values.empty()) return std::nullopt;
    auto as_json = [integers](double v) {
      return integers ? nlohmann::json(static_cast<std::int64_t>(v)) : nlohmann::json(v);
    };
    if (values.size() == 1) return as_json(values.front());
    nlohmann::json array = nlohmann::json::array();
    for (double v : values) array.push_back(as_json(v));
    return array;
  }
  // Undefined (and anything unknown): keep short, printable renderings ("Exif Version 2.1"); drop blobs.
  if (static_cast<std::size_t>(field.bytes) > kMaxUndefinedBytes || raw.empty() || !is_printable_text(raw)) {
    return std::nullopt;
  }
  return nlohmann::json(to_safe_text(raw));
}

// libexif's tag names are CamelCase ASCII ("ExposureTime"); anything else did not come from it, and a key
// that is not UTF-8 would make the whole metadata object impossible to serialise.
bool is_tag_name(std::string_view tag) {
  return !tag.empty() && std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

const std::string* find_field(const ExifFields& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace

std::optional<ExifFieldText> parse_vips_exif_field(std::string_view value) {
  // Parse from the right: ", M bytes)", ", N components", ", Format"; what is left is "raw (human".
  if (value.size() < 2 || value.back() != ')') return std::nullopt;
  std::string_view rest = value.substr(0, value.size() - 1);

  auto take_last_item = [&rest]() -> std::optional<std::string_view> {
    const auto comma = rest.rfind(", ");
    if (comma == std::string_view::npos) return std::nullopt;
    std::string_view item = rest.substr(comma + 2);
    rest = rest.substr(0, comma);
    return item;
  };
  auto bytes_item = take_last_item();
  auto components_item = take_last_item();
  auto format_item = take_last_item();
  if (!bytes_item || !components_item || !format_item) return std::nullopt;

  constexpr std::string_view kBytes = " bytes";
  constexpr std::string_view kComponents = " components";
  if (!bytes_item->ends_with(kBytes) || !components_item->ends_with(kComponents)) return std::nullopt;
  auto bytes = parse_number<long>(bytes_item->substr(0, bytes_item->size() - kBytes.size()));
  auto components =
      parse_number<long>(components_item->substr(0, components_item->size() - kComponents.size()));
  if (!bytes || !components || format_item->empty()) return std::nullopt;

  // `rest` is raw + " (" + human. Text may itself contain " (", so prefer the split where both halves agree
  // (true for ASCII tags), otherwise the first " (" (numeric raw values never contain one).
  std::optional<std::size_t> split;
  for (auto pos = rest.find(" ("); pos != std::string_view::npos; pos = rest.find(" (", pos + 1)) {
    if (!split) split = pos;
    if (rest.substr(0, pos) == rest.substr(pos + 2)) {
      split = pos;
      break;
    }
  }
  if (!split) return std::nullopt;

  ExifFieldText out;
  out.raw = std::string(rest.substr(0, *split));
  out.human = std::string(rest.substr(*split + 2));
  out.format = std::string(*format_item);
  out.components = *components;
  out.bytes = *bytes;
  return out;
}

std::optional<double> parse_rational(std::string_view text) {
  auto fraction = parse_fraction(text);
  if (!fraction) return std::nullopt;
  return static_cast<double>(fraction->first) / static_cast<double>(fraction->second);
}

std::optional<std::vector<double>> parse_rationals(std::string_view text) {
  std::vector<double> values;
  for (auto part : split_spaces(text)) {
    auto v = parse_rational(part);
    if (!v) return std::nullopt;
    values.push_back(*v);
  }
  if (values.empty()) return std::nullopt;
  return values;
}

std::optional<std::string> exposure_time_text(std::string_view rational) {
  auto fraction = parse_fraction(rational);
  if (!fraction || fraction->first < 0 || fraction->second < 0) return std::nullopt;
  auto [n, d] = *fraction;
  if (n == 0) return "0";
  const std::int64_t g = std::gcd(n, d);
  n /= g;
  d /= g;
  if (d == 1) return std::to_string(n);
  if (n == 1) return "1/" + std::to_string(d);
  const double value = static_cast<double>(n) / static_cast<double>(d);
  if (value < 1.0) {
    // e.g. 3/800 → "1/267": photographers read sub-second exposures as 1/x.
    return "1/" + std::to_string(static_cast<std::int64_t>(std::llround(1.0 / value)));
  }
  nlohmann::json number = round_to(value, 4);
  return number.dump();
}

std::optional<double> gps_to_decimal(std::string_view dms_rationals, std::string_view ref, bool latitude) {
  auto parts = parse_rationals(dms_rationals);
  if (!parts || parts->size() > 3) return std::nullopt;
  const double degrees = (*parts)[0];
  const double minutes = parts->size() > 1 ? (*parts)[1] : 0.0;
  const double seconds = parts->size() > 2 ? (*parts)[2] : 0.0;
  if (degrees < 0 || minutes < 0 || minutes >= 60 || seconds < 0 || seconds >= 60) return std::nullopt;
  double value = degrees + minutes / 60.0 + seconds / 3600.0;

  ref = trim(ref);
  if (ref.size() != 1) return std::nullopt;
  const char r = static_cast<char>(ref[0] & ~0x20);  // upper-case ASCII
  if (latitude ? (r != 'N' && r != 'S') : (r != 'E' && r != 'W')) return std::nullopt;
  if (r == 'S' || r == 'W') value = -value;
  if (std::abs(value) > (latitude ? 90.0 : 180.0)) return std::nullopt;
  return value;
}

std::optional<GpsCoordinate> gps_from_exif(std::string_view lat, std::string_view lat_ref,
                                           std::string_view lon, std::string_view lon_ref) {
  auto la = gps_to_decimal(lat, lat_ref, true);
  auto lo = gps_to_decimal(lon, lon_ref, false);
  if (!la || !lo) return std::nullopt;
  return GpsCoordinate{*la, *lo};
}

nlohmann::json exif_to_json(const ExifFields& fields) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : fields) {
    constexpr std::string_view kPrefix = "exif-ifd";
    std::string_view key = name;
    if (!key.starts_with(kPrefix) || key.size() < kPrefix.size() + 3 || key[kPrefix.size() + 1] != '-')
      continue;
    const char ifd = key[kPrefix.size()];
    if (ifd != '0' && ifd != '2') continue;  // 1: thumbnail, 3: GPS (see gps_from_fields), 4: interop
    std::string_view tag = key.substr(kPrefix.size() + 2);
    if (!is_tag_name(tag) || tag == "MakerNote") continue;

    auto field = parse_vips_exif_field(value);
    if (!field) continue;
    auto json_value = tag_value(tag, *field);
    if (!json_value) continue;
    const std::string out_tag =
        (tag == "ISOSpeedRatings" || tag == "PhotographicSensitivity") ? "ISO" : std::string(tag);
    out[out_tag] = std::move(*json_value);
  }
  return out;
}

std::optional<GpsCoordinate> gps_from_fields(const ExifFields& fields) {
  auto raw = [&fields](std::string_view tag) -> std::optional<std::string> {
    const std::string* value = find_field(fields, std::string("exif-ifd3-") + std::string(tag));
    if (!value) return std::nullopt;
    auto field = parse_vips_exif_field(*value);
    if (!field) return std::nullopt;
    return field->raw;
  };
  auto lat = raw("GPSLatitude");
  auto lat_ref = raw("GPSLatitudeRef");
  auto lon = raw("GPSLongitude");
  auto lon_ref = raw("GPSLongitudeRef");
  if (!lat || !lat_ref || !lon || !lon_ref) return std::nullopt;
  return gps_from_exif(*lat, *lat_ref, *lon, *lon_ref);
}

}  // namespace imageproc::imaging
