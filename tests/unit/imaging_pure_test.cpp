// Pure imaging maths: EXIF value parsing, GPS conversion, palette, BlurHash, pHash, box fitting.
// No libvips here (pipeline.hpp only for fit_within, which is plain arithmetic).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "imaging/blurhash.hpp"
#include "imaging/colour.hpp"
#include "imaging/exif.hpp"
#include "imaging/phash.hpp"
#include "imaging/pipeline.hpp"

namespace imageproc::imaging {
namespace {

TEST(ImagingExifTest, SplitsLibvipsFieldIntoRawHumanAndFormat) {
  auto field = parse_vips_exif_field("14/5 (f/2.8, Rational, 1 components, 8 bytes)");
  ASSERT_TRUE(field);
  EXPECT_EQ(field->raw, "14/5");
  EXPECT_EQ(field->human, "f/2.8");
  EXPECT_EQ(field->format, "Rational");
  EXPECT_EQ(field->components, 1);
  EXPECT_EQ(field->bytes, 8);

  auto text = parse_vips_exif_field("Test (v1) (Test (v1), ASCII, 10 components, 10 bytes)");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->raw, "Test (v1)");
  EXPECT_EQ(text->format, "ASCII");

  auto gps = parse_vips_exif_field("0/1 7/1 1002/25 ( 0,  7, 40.08, Rational, 3 components, 24 bytes)");
  ASSERT_TRUE(gps);
  EXPECT_EQ(gps->raw, "0/1 7/1 1002/25");

  EXPECT_FALSE(parse_vips_exif_field("no suffix"));
  EXPECT_FALSE(parse_vips_exif_field("x (y, ASCII, many components, 2 bytes)"));
  EXPECT_FALSE(parse_vips_exif_field(""));
}

TEST(ImagingExifTest, ParsesRationals) {
  EXPECT_DOUBLE_EQ(*parse_rational("28/10"), 2.8);
  EXPECT_DOUBLE_EQ(*parse_rational("-1/4"), -0.25);
  EXPECT_DOUBLE_EQ(*parse_rational("7"), 7.0);
  EXPECT_FALSE(parse_rational("1/0"));
  EXPECT_FALSE(parse_rational("a/b"));
  EXPECT_FALSE(parse_rational(""));
  EXPECT_FALSE(parse_rational("1/2/3"));
  auto list = parse_rationals("51/1 30/1 666/25");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_DOUBLE_EQ((*list)[2], 26.64);
  EXPECT_FALSE(parse_rationals("1/1 x"));
  EXPECT_FALSE(parse_rationals(""));
}

TEST(ImagingExifTest, FormatsExposureTimeAsPhotographersWriteIt) {
  EXPECT_EQ(*exposure_time_text("10/2000"), "1/200");
  EXPECT_EQ(*exposure_time_text("1/1"), "1");
  EXPECT_EQ(*exposure_time_text("30/1"), "30");
  EXPECT_EQ(*exposure_time_text("13/10"), "1.3");
  EXPECT_EQ(*exposure_time_text("3/800"), "1/267");
  EXPECT_FALSE(exposure_time_text("1/0"));
}

TEST(ImagingExifTest, ConvertsGpsDegreesMinutesSecondsWithHemisphere) {
  auto north = gps_to_decimal("51/1 30/1 2616/100", "N", true);
  ASSERT_TRUE(north);
  EXPECT_NEAR(*north, 51.0 + 30.0 / 60 + 26.16 / 3600, 1e-9);
  EXPECT_NEAR(*gps_to_decimal("51/1 30/1 2616/100", "S", true), -*north, 1e-12);
  EXPECT_NEAR(*gps_to_decimal("0/1 7/1 1002/25", "W", false), -(7.0 / 60 + 40.08 / 3600), 1e-12);
  EXPECT_NEAR(*gps_to_decimal("122/1 25/1 0/1", "E", false), 122.41666666, 1e-6);
  EXPECT_NEAR(*gps_to_decimal("4050/100", "N", true), 40.5, 1e-12);  // decimal degrees only

  EXPECT_FALSE(gps_to_decimal("91/1 0/1 0/1", "N", true));    // latitude over 90
  EXPECT_FALSE(gps_to_decimal("181/1 0/1 0/1", "E", false));  // longitude over 180
  EXPECT_FALSE(gps_to_decimal("10/1 60/1 0/1", "N", true));   // minutes out of range
  EXPECT_FALSE(gps_to_decimal("10/1 0/1 61/1", "N", true));   // seconds out of range
  EXPECT_FALSE(gps_to_decimal("10/1 0/1 0/0", "N", true));    // zero denominator
  EXPECT_FALSE(gps_to_decimal("10/1 0/1 0/1", "E", true));    // wrong axis reference
  EXPECT_FALSE(gps_to_decimal("10/1 0/1 0/1", "", true));
  EXPECT_FALSE(gps_to_decimal("1/1 2/1 3/1 4/1", "N", true));

  auto both = gps_from_exif("51/1 30/1 2616/100", "S", "0/1 7/1 1002/25", "W");
  ASSERT_TRUE(both);
  EXPECT_LT(both->lat, 0);
  EXPECT_LT(both->lon, 0);
  EXPECT_FALSE(gps_from_exif("51/1 30/1 2616/100", "S", "garbage", "W"));
}

TEST(ImagingExifTest, TurnsLibvipsFieldsIntoCleanValues) {
  const ExifFields fields = {
      {"exif-ifd0-Make", "Canon (Canon, ASCII, 6 components, 6 bytes)"},
      {"exif-ifd0-Orientation", "6 (Right-top, Short, 1 components, 2 bytes)"},
      {"exif-ifd2-ExposureTime", "1/200 (1/200 sec., Rational, 1 components, 8 bytes)"},
      {"exif-ifd2-FNumber", "14/5 (f/2.8, Rational, 1 components, 8 bytes)"},
      {"exif-ifd2-FocalLength", "50/1 (50.0 mm, Rational, 1 components, 8 bytes)"},
      {"exif-ifd2-ISOSpeedRatings", "400 (400, Short, 1 components, 2 bytes)"},
      {"exif-ifd2-ExifVersion", "Exif Version 2.1 (Exif Version 2.1, Undefined, 4 components, 4 bytes)"},
      {"exif-ifd2-MakerNote",
       "123 bytes undefined data (123 bytes undefined data, Undefined, 123 components, 123 bytes)"},
      {"exif-ifd2-UserComment", "x (x, Undefined, 500 components, 500 bytes)"},
      {"exif-ifd1-Compression", "6 (JPEG compression, Short, 1 components, 2 bytes)"},
      {"exif-ifd3-GPSLatitude", "51/1 30/1 666/25 (51, 30, 26.64, Rational, 3 components, 24 bytes)"},
      {"exif-ifd0-Artist", "\xff\xfe (\xff\xfe, ASCII, 3 components, 3 bytes)"},
      {"exif-ifd0-Broken", "no suffix at all"},
  };
  const auto json = exif_to_json(fields);
  EXPECT_EQ(json.at("Make"), "Canon");
  EXPECT_EQ(json.at("Orientation"), 6);
  EXPECT_EQ(json.at("ExposureTime"), "1/200");
  EXPECT_DOUBLE_EQ(json.at("FNumber").get<double>(), 2.8);
  EXPECT_DOUBLE_EQ(json.at("FocalLength").get<double>(), 50.0);
  EXPECT_EQ(json.at("ISO"), 400);
  EXPECT_EQ(json.at("ExifVersion"), "Exif Version 2.1");
  EXPECT_FALSE(json.contains("MakerNote"));
  EXPECT_FALSE(json.contains("UserComment"));  // an undefined blob over the size limit
  EXPECT_FALSE(json.contains("Compression"));  // embedded thumbnail IFD
  EXPECT_FALSE(json.contains("GPSLatitude"));  // GPS is reported only as decimal degrees
  EXPECT_FALSE(json.contains("Broken"));
  EXPECT_NO_THROW((void)json.dump());  // invalid UTF-8 was replaced, not passed on
}

// Found by fuzz/exif_fuzz: exif_to_json kept a tag name that was not UTF-8 as a JSON key, so dump() threw.
TEST(ImagingExifTest, SkipsTagNamesThatAreNotAsciiSoTheJsonSerialises) {
  const ExifFields fields = {
      {"exif-ifd0-\xA9", "x (x, ASCII, 2 components, 2 bytes)"},
      {"exif-ifd0-Bad Name", "x (x, ASCII, 2 components, 2 bytes)"},
      {"exif-ifd0-Make", "Canon (Canon, ASCII, 6 components, 6 bytes)"},
  };
  const auto json = exif_to_json(fields);
  EXPECT_EQ(json.size(), 1u);
  EXPECT_EQ(json.at("Make"), "Canon");
  EXPECT_NO_THROW((void)json.dump());
}

// Found by fuzz/exif_fuzz: bytes that look like UTF-8 lead and continuation bytes but are not UTF-8 (lead F5,
// overlong C0 AF and E0 80 AF, surrogate ED A0 80, F4 90 beyond U+10FFFF) were kept, so dump() threw.
TEST(ImagingExifTest, ReplacesEveryIllFormedUtf8SequenceInText) {
  const std::string replacement = "\xEF\xBF\xBD";
  const std::pair<std::string, std::string> cases[] = {
      {"a\xF5\x80\x80\x80z", "a" + replacement + replacement + replacement + replacement + "z"},
      {"\xC0\xAF", replacement + replacement},
      {"\xE0\x80\xAF", replacement + replacement + replacement},
      {"\xED\xA0\x80", replacement + replacement + replacement},
      {"\xF4\x90\x80\x80", replacement + replacement + replacement + replacement},
      {"caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80"},  // well-formed stays as it is
  };
  for (const auto& [text, expected] : cases) {
    const auto json =
        exif_to_json({{"exif-ifd0-Artist", text + " (" + text + ", ASCII, 9 components, 9 bytes)"}});
    ASSERT_NO_THROW((void)json.dump()) << text;
    EXPECT_EQ(json.at("Artist"), expected);
  }
}

// Found by fuzz/exif_fuzz: a dotted Byte array ("2.3.0.0", GPSVersionID's shape) was passed on unchecked, so
// "2.\xC3.0.0" put invalid UTF-8 into the JSON and dump() threw.
TEST(ImagingExifTest, KeepsDottedByteArraysOnlyWhenTheyAreNumbers) {
  const auto json = exif_to_json({
      {"exif-ifd0-GPSVersionID", "2.3.0.0 (2.3.0.0, Byte, 4 components, 4 bytes)"},
      {"exif-ifd2-ExifVersion", "2.\xC3.0.0 (4.3.0.0, Byte, 4 components, 4 bytes)"},
  });
  EXPECT_EQ(json.at("GPSVersionID"), "2.3.0.0");
  EXPECT_FALSE(json.contains("ExifVersion"));
  EXPECT_NO_THROW((void)json.dump());
}

// fuzz/exif_fuzz fails on this (UBSan: "9.22337e+18 is outside the range of representable values of type
// 'long'"; seed fuzz/corpus/exif/regression-long-beyond-int64): an integer value beyond int64 was converted.
TEST(ImagingExifTest, SkipsIntegerValuesBeyondWhatConvertsExactly) {
  const auto json = exif_to_json({
      {"exif-ifd0-ImageWidth", "9223372036854775807 (x, Long, 1 components, 4 bytes)"},
      {"exif-ifd0-ImageLength", "-9223372036854775808 (x, SLong, 1 components, 4 bytes)"},
      {"exif-ifd2-PixelXDimension", "4294967295 (4294967295, Long, 1 components, 4 bytes)"},
  });
  EXPECT_FALSE(json.contains("ImageWidth"));
  EXPECT_FALSE(json.contains("ImageLength"));
  EXPECT_EQ(json.at("PixelXDimension"), 4294967295LL);
}

// fuzz/exif_fuzz fails on this (seed fuzz/corpus/exif/regression-double-1e305): rounding a huge Double to 4
// decimals overflowed to infinity, which JSON writes as null.
TEST(ImagingExifTest, KeepsHugeFloatingValuesFinite) {
  const auto json = exif_to_json({{"exif-ifd2-Gamma", "1e305 (1e305, Double, 1 components, 8 bytes)"},
                                  {"exif-ifd2-FNumber", "14/5 (f/2.8, Rational, 1 components, 8 bytes)"}});
  EXPECT_DOUBLE_EQ(json.at("Gamma").get<double>(), 1e305);
  EXPECT_DOUBLE_EQ(json.at("FNumber").get<double>(), 2.8);
  EXPECT_EQ(json.dump().find("null"), std::string::npos);
}

TEST(ImagingColourTest, LabOfReferenceColours) {
  const Lab white = rgb_to_lab({255, 255, 255});
  EXPECT_NEAR(white.l, 100.0, 0.01);
  EXPECT_NEAR(white.a, 0.0, 0.01);
  EXPECT_NEAR(white.b, 0.0, 0.01);
  const Lab red = rgb_to_lab({255, 0, 0});  // published sRGB red: L 53.24, a 80.09, b 67.20
  EXPECT_NEAR(red.l, 53.24, 0.05);
  EXPECT_NEAR(red.a, 80.09, 0.05);
  EXPECT_NEAR(red.b, 67.20, 0.05);
  EXPECT_EQ(to_hex({255, 16, 1}), "#FF1001");
}

TEST(ImagingColourTest, PaletteOfTwoColourImageIsThoseColoursByPopulation) {
  std::vector<Rgb8> pixels(4096, Rgb8{20, 40, 200});
  for (std::size_t i = 0; i < 1000; ++i) pixels[i * 4] = Rgb8{250, 200, 10};
  const auto palette = dominant_colours(pixels, 5);
  ASSERT_EQ(palette.size(), 2u);
  EXPECT_EQ(to_hex(palette[0].colour), "#1428C8");
  EXPECT_EQ(palette[0].count, 3096u);
  EXPECT_EQ(to_hex(palette[1].colour), "#FAC80A");
  EXPECT_EQ(palette[1].count, 1000u);
}

TEST(ImagingColourTest, PaletteIsDeterministicAndBounded) {
  std::vector<Rgb8> pixels;
  for (int i = 0; i < 4096; ++i) {
    pixels.push_back(Rgb8{static_cast<std::uint8_t>(i % 256), static_cast<std::uint8_t>((i * 7) % 256),
                          static_cast<std::uint8_t>((i / 16) % 256)});
  }
  const auto first = dominant_colours(pixels, 5);
  const auto second = dominant_colours(pixels, 5);
  ASSERT_EQ(first.size(), 5u);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].colour, second[i].colour);
    EXPECT_EQ(first[i].count, second[i].count);
    if (i > 0) {
      EXPECT_GE(first[i - 1].count, first[i].count);
    }
  }
  EXPECT_TRUE(dominant_colours({}, 5).empty());
}

// Deterministic test picture: horizontal red ramp, vertical green ramp, blue pattern, and a flat green block
// in the top-right quadrant; optionally inverted. The same generator in JavaScript was fed to the `blurhash`
// npm package 2.0.5 (Wolt's TypeScript encoder):
//  - inverted pictures: its hashes are used verbatim (the largest AC value is positive, so the TypeScript
//    encoder and the C/Swift/Kotlin ones agree);
//  - plain pictures: the largest AC value is negative; the TypeScript encoder scales by the largest *signed*
//    value ("LKDVD40Fw7Pc01_dI,XwP@rSWTbw"), the C reference by the largest absolute one. The expected hashes
//    are the TypeScript encoder's output with that one expression changed to use Math.abs.
std::vector<std::uint8_t> test_picture(int w, int h, bool invert = false) {
  std::vector<std::uint8_t> px;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int r = 255 * x / (w - 1), g = 255 * y / (h - 1), b = (x * 7 + y * 13) % 256;
      if (2 * x >= w && 2 * y < h) r = 20, g = 200, b = 60;
      if (invert) r = 255 - r, g = 255 - g, b = 255 - b;
      px.insert(px.end(), {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g),
                           static_cast<std::uint8_t>(b), 255});
    }
  }
  return px;
}

TEST(ImagingBlurhashTest, MatchesReferenceEncoder) {
  EXPECT_EQ(blurhash_encode(test_picture(32, 24, true), 32, 24, 4, 4, 3), "LkLxct?W=G:[~UGikDw6tRXnfojJ");
  EXPECT_EQ(blurhash_encode(test_picture(17, 9, true), 17, 9, 4, 4, 3), "LxM59*?a,];B~XK|ofw5tkX*fknj");
  EXPECT_EQ(blurhash_encode(test_picture(32, 24), 32, 24, 4, 4, 3), "LXDVD44}ryTn4W:INXXeT,rnawbc");
  EXPECT_EQ(blurhash_encode(test_picture(17, 9), 17, 9, 4, 4, 3), "LUD2yO4:i{T?4U.}NbTDPNraWWbt");
  EXPECT_EQ(blurhash_encode(test_picture(32, 24), 32, 24, 4, 1, 1), "00DVD4");
  std::vector<std::uint8_t> red;
  for (int i = 0; i < 64; ++i) red.insert(red.end(), {255, 0, 0});
  EXPECT_EQ(blurhash_encode(red, 8, 8, 3, 4, 3), "LfTI:j|cfQ|c|csUfQsUfQfQfQfQ");
}

TEST(ImagingBlurhashTest, RejectsBadArguments) {
  std::vector<std::uint8_t> px(12, 0);
  EXPECT_THROW(blurhash_encode(px, 2, 2, 3, 0, 3), std::invalid_argument);
  EXPECT_THROW(blurhash_encode(px, 2, 2, 3, 4, 10), std::invalid_argument);
  EXPECT_THROW(blurhash_encode(px, 3, 2, 3, 4, 3), std::invalid_argument);
  EXPECT_THROW(blurhash_encode(px, 2, 2, 2, 4, 3), std::invalid_argument);
}

// A smooth 32×32 scene: a sum of low-frequency waves; `dx` shifts it sideways by a fraction of a pixel.
std::vector<double> grey_scene(double dx, int variant) {
  struct Wave {
    double fx, fy, phase, amplitude;
  };
  const std::vector<Wave> waves =
      variant == 0 ? std::vector<Wave>{{0.11, 0.05, 0.3, 50}, {0.04, 0.17, 1.9, 40}, {0.21, 0.13, 4.0, 25}}
                   : std::vector<Wave>{{0.07, 0.19, 2.5, 50}, {0.18, 0.03, 0.7, 40}, {0.09, 0.24, 5.1, 25}};
  std::vector<double> grey(kPhashSize * kPhashSize);
  for (int y = 0; y < kPhashSize; ++y) {
    for (int x = 0; x < kPhashSize; ++x) {
      double v = 128;
      for (const auto& w : waves) v += w.amplitude * std::sin(w.fx * (x + dx) + w.fy * y + w.phase);
      grey[static_cast<std::size_t>(y * kPhashSize + x)] = v;
    }
  }
  return grey;
}

TEST(ImagingPhashTest, SimilarImagesAreCloseAndDifferentOnesFar) {
  const auto base = phash_from_grey(grey_scene(0, 0));
  const auto shifted = phash_from_grey(grey_scene(0.3, 0));
  auto adjusted = grey_scene(0, 0);
  for (auto& v : adjusted) v = v * 0.9 + 20;  // contrast and brightness only: AC order unchanged
  const auto other = phash_from_grey(grey_scene(0, 1));
  EXPECT_LE(hamming_distance(base, shifted), 4);
  EXPECT_EQ(hamming_distance(base, phash_from_grey(adjusted)), 0);
  EXPECT_GE(hamming_distance(base, other), 12);  // unrelated pictures average 32 of 64 bits
  EXPECT_EQ(phash_hex(0x0123456789abcdefULL), "0123456789abcdef");
  EXPECT_EQ(phash_hex(1), "0000000000000001");
  EXPECT_THROW(phash_from_grey(std::vector<double>(10)), std::invalid_argument);
}

TEST(ImagingFitTest, FitsBoxWithoutUpscaling) {
  EXPECT_EQ(fit_within(300, 200, 128), (Size{128, 85}));
  EXPECT_EQ(fit_within(300, 200, 512), (Size{300, 200}));
  EXPECT_EQ(fit_within(200, 300, 128), (Size{85, 128}));
  EXPECT_EQ(fit_within(4000, 3000, 1024), (Size{1024, 768}));
  EXPECT_EQ(fit_within(10000, 5, 128), (Size{128, 1}));
  EXPECT_EQ(fit_within(128, 128, 128), (Size{128, 128}));
}

}  // namespace
}  // namespace imageproc::imaging
