#pragma once
// EXIF values as libvips exposes them, turned into clean JSON values (DESIGN §4 `metadata.exif`,
// `metadata.gps`).
//
// libvips parses the EXIF block at header time and sets one string field per tag, named "exif-ifd<N>-<Tag>"
// (IFD 0 = main image, 1 = embedded thumbnail, 2 = Exif sub-IFD, 3 = GPS, 4 = interoperability), with values
// shaped like
//     "14/5 (f/2.8, Rational, 1 components, 8 bytes)"
//     "Canon (Canon, ASCII, 6 components, 6 bytes)"
//     "51/1 30/1 666/25 (51, 30, 26.64, Rational, 3 components, 24 bytes)"
// i.e. `raw (human-readable, Format, N components, M bytes)`. Everything here is pure (no libvips include),
// thread-safe and never throws on malformed input: bad values are skipped, not guessed.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imageproc::imaging {

// One libvips EXIF field value, split into its parts.
struct ExifFieldText {
  std::string raw;     // "14/5", "Canon", "51/1 30/1 666/25"
  std::string human;   // libexif's rendering: "f/2.8", "Canon", "51, 30, 26.64"
  std::string format;  // "ASCII", "Short", "Long", "Rational", "SRational", "Byte", "Undefined", ...
  long components = 0;
  long bytes = 0;
};

// Splits a libvips EXIF string; nullopt when it does not have the `raw (human, Format, N components, M
// bytes)` shape.
std::optional<ExifFieldText> parse_vips_exif_field(std::string_view value);

// "28/10" → 2.8, "-1/3" → -0.333.., "7" → 7. nullopt for a zero denominator or anything unparsable.
std::optional<double> parse_rational(std::string_view text);

// Space-separated rationals ("51/1 30/1 666/25"); nullopt when any element is malformed or the list is empty.
std::optional<std::vector<double>> parse_rationals(std::string_view text);

// Reduced fraction for exposure times: "10/2000" → "1/200", "1/1" → "1", "13/10" → "1.3", "300/1" → "300".
// nullopt when malformed.
std::optional<std::string> exposure_time_text(std::string_view rational);

struct GpsCoordinate {
  double lat = 0;  // decimal degrees, south negative, in [-90, 90]
  double lon = 0;  // decimal degrees, west negative, in [-180, 180]
};

// Degrees/minutes/seconds as 1–3 rationals ("51/1 30/1 666/25") plus a reference letter ("N", "S", "E", "W")
// to signed decimal degrees. Minutes and seconds must be in [0, 60); the reference must match the axis
// (`latitude` selects N/S vs E/W). nullopt when malformed or out of range.
std::optional<double> gps_to_decimal(std::string_view dms_rationals, std::string_view ref, bool latitude);

// Decimal lat/lon from the four GPS tags' *raw* values; nullopt when any is missing, malformed or out of
// range.
std::optional<GpsCoordinate> gps_from_exif(std::string_view lat, std::string_view lat_ref,
                                           std::string_view lon, std::string_view lon_ref);

// libvips EXIF fields ("exif-ifd0-Make" → value string), in any order.
using ExifFields = std::vector<std::pair<std::string, std::string>>;

// Readable tag → value for the main image and Exif sub-IFD (IFD 0 and 2): text stays text (trimmed),
// single integers become numbers, single rationals become numbers rounded to 4 decimals (FNumber 2.8,
// FocalLength 50), ExposureTime becomes a fraction string ("1/200"), multi-valued tags become arrays.
// "ISOSpeedRatings" is reported as "ISO". Skipped: the embedded thumbnail's IFD 1, GPS (reported separately
// and only as decimal degrees), interoperability IFD, MakerNote, undefined-format blobs over 64 bytes, and
// fields whose tag name is not ASCII letters, digits and '_' (libexif's names always are). The result always
// serialises: every string in it is valid UTF-8 and every number finite.
nlohmann::json exif_to_json(const ExifFields& fields);

// The GPS position from "exif-ifd3-GPS*" fields, or nullopt.
std::optional<GpsCoordinate> gps_from_fields(const ExifFields& fields);

}  // namespace imageproc::imaging
