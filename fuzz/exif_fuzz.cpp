// Fuzzes the EXIF-to-JSON conversion (src/imaging/exif.hpp).
//
// Input: libvips EXIF fields, one per line as "name<TAB>value" (what `vipsheader -a` shows as
// "name: value"), e.g. "exif-ifd0-Make\tCanon (Canon, ASCII, 6 components, 6 bytes)". Checked:
//   - exif_to_json and gps_from_fields never throw (the header promises it), and the JSON can be serialised
//     (valid UTF-8 strings) with only finite numbers;
//   - only IFD 0 and 2 tags appear, never MakerNote or the GPS IFD;
//   - a GPS position is within [-90, 90] × [-180, 180];
//   - every value's helpers agree: parse_vips_exif_field's parts render and re-parse to the same parts,
//     parse_rational(s) are finite, exposure_time_text is a "0", "n", "1/n" or decimal text whose value is
//     close to the fraction's, gps_to_decimal stays within its axis' range.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "imaging/exif.hpp"

namespace {

namespace imaging = imageproc::imaging;
using imageproc::fuzz::printable;
using nlohmann::json;

imaging::ExifFields parse_fields(std::string_view input) {
  imaging::ExifFields fields;
  while (!input.empty()) {
    const auto eol = input.find('\n');
    const std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) {
      fields.emplace_back(std::string(line), "");
    } else {
      fields.emplace_back(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)));
    }
  }
  return fields;
}

void check_numbers_finite(const json& value, const std::string& path) {
  if (value.is_number_float()) {
    FUZZ_CHECK(std::isfinite(value.get<double>()), "a non-finite number at " + path);
  } else if (value.is_structured()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      check_numbers_finite(*it, path + "/" + (value.is_object() ? it.key() : std::string("[]")));
    }
  }
}

void check_exposure(std::string_view raw) {
  const auto text = imaging::exposure_time_text(raw);
  if (!text) return;
  FUZZ_CHECK(!text->empty(), "empty exposure text");
  const auto fraction = imaging::parse_rational(raw);
  FUZZ_CHECK(fraction && *fraction >= 0, "exposure text for a value that is not a non-negative fraction");
  double shown = 0;
  if (text->starts_with("1/")) {
    const auto denominator = imaging::parse_rational(text->substr(2));
    FUZZ_CHECK(denominator && *denominator >= 1, "exposure " + *text);
    shown = 1.0 / *denominator;
    // 1/x with x rounded to a whole number: within half a step of the real reciprocal.
    FUZZ_CHECK(std::abs(*denominator - 1.0 / *fraction) <= 0.5 + 1e-9 * *denominator,
               "exposure " + *text + " for " + printable(raw));
  } else {
    const json number = json::parse(*text, nullptr, false);
    FUZZ_CHECK(number.is_number(), "exposure text " + printable(*text) + " is not a number");
    shown = number.get<double>();
    FUZZ_CHECK(std::abs(shown - *fraction) <= 0.00005 + 1e-12 * *fraction,
               "exposure " + *text + " for " + printable(raw));
  }
  FUZZ_CHECK(std::isfinite(shown), "exposure " + *text);
}

void check_value(std::string_view value) {
  const auto field = imaging::parse_vips_exif_field(value);
  if (field) {
    const std::string rendered = field->raw + " (" + field->human + ", " + field->format + ", " +
                                 std::to_string(field->components) + " components, " +
                                 std::to_string(field->bytes) + " bytes)";
    const auto again = imaging::parse_vips_exif_field(rendered);
    FUZZ_CHECK(again && again->raw == field->raw && again->human == field->human &&
                   again->format == field->format && again->components == field->components &&
                   again->bytes == field->bytes,
               "parts of " + printable(value) + " do not re-parse from " + printable(rendered));
  }
  const std::string_view raw = field ? std::string_view(field->raw) : value;
  if (const auto r = imaging::parse_rational(raw)) FUZZ_CHECK(std::isfinite(*r), "parse_rational");
  if (const auto rs = imaging::parse_rationals(raw)) {
    FUZZ_CHECK(!rs->empty(), "parse_rationals returned an empty list");
    for (const double r : *rs) FUZZ_CHECK(std::isfinite(r), "parse_rationals");
  }
  check_exposure(raw);
  for (const char* ref : {"N", "S", "E", "W"}) {
    for (const bool latitude : {true, false}) {
      if (const auto d = imaging::gps_to_decimal(raw, ref, latitude)) {
        FUZZ_CHECK(std::isfinite(*d) && std::abs(*d) <= (latitude ? 90.0 : 180.0),
                   "gps_to_decimal out of range");
        FUZZ_CHECK((*d <= 0) == (ref[0] == 'S' || ref[0] == 'W') || *d == 0, "gps_to_decimal sign");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const imaging::ExifFields fields = parse_fields(imageproc::fuzz::as_view(data, size));

  const json out = imaging::exif_to_json(fields);
  FUZZ_CHECK(out.is_object(), "exif_to_json is not an object");
  std::string text;
  try {
    text = out.dump();
  } catch (const json::exception& e) {
    FUZZ_CHECK(false, std::string("exif_to_json's result cannot be serialised: ") + e.what());
  }
  check_numbers_finite(out, "");
  FUZZ_CHECK(!out.contains("MakerNote"), "MakerNote reached the JSON");
  std::set<std::string_view> names;
  for (const auto& field : fields) names.insert(field.first);
  for (const auto& [tag, value] : out.items()) {
    const bool from_main_ifds =
        tag == "ISO" || names.contains("exif-ifd0-" + tag) || names.contains("exif-ifd2-" + tag);
    FUZZ_CHECK(from_main_ifds, "tag " + printable(tag) + " is not from IFD 0 or 2");
    FUZZ_CHECK(!value.is_null(), "tag " + printable(tag) + " is null");
  }

  if (const auto gps = imaging::gps_from_fields(fields)) {
    FUZZ_CHECK(std::isfinite(gps->lat) && std::isfinite(gps->lon) && std::abs(gps->lat) <= 90 &&
                   std::abs(gps->lon) <= 180,
               "GPS out of range");
  }
  for (const auto& [name, value] : fields) check_value(value);
  return 0;
}
