#include "imaging/format.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace imageproc::imaging {
namespace {

using namespace std::literals;

// Real minimal file headers (the first bytes of 1×1 images written by libjpeg, libpng, libwebp, giflib,
// libtiff, libheif and libavif).
const std::string kJpeg = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"s;
const std::string kExifJpeg =
    "\xFF\xD8\xFF\xE1\x00\x16"
    "Exif\x00\x00MM\x00*"s;
const std::string kPng =
    "\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1F\x15\xC4\x89"s;
const std::string kWebP =
    "RIFF\x1A\x00\x00\x00WEBPVP8L\x0D\x00\x00\x00\x2F\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xFE\x07\x00"s;
const std::string kGif87 = "GIF87a\x01\x00\x01\x00\x80\x00\x00"s;
const std::string kGif89 = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xFF\xFF\xFF\x00\x00\x00!\xF9\x04"s;
const std::string kTiffLittle = "II*\x00\x08\x00\x00\x00\x0E\x00\x00\x01\x03\x00"s;
const std::string kTiffBig = "MM\x00*\x00\x00\x00\x08\x00\x0E\x01\x00\x00\x03"s;
const std::string kBigTiff = "II+\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00"s;
const std::string kHeic =
    "\x00\x00\x00\x18"
    "ftypheic\x00\x00\x00\x00"
    "mif1heic\x00\x00\x00\x21meta"s;
const std::string kAvif =
    "\x00\x00\x00\x20"
    "ftypavif\x00\x00\x00\x00"
    "avifmif1miafMA1B\x00\x00\x00\xF2meta"s;

// An ftyp box of the given declared size with these brands (major first), followed by a meta box.
std::string ftyp(std::string_view major, std::string_view compatible, std::uint32_t declared_size = 0,
                 std::string_view minor = "\0\0\0\0"sv) {
  const std::uint32_t size =
      declared_size != 0 ? declared_size : static_cast<std::uint32_t>(16 + compatible.size());
  std::string box;
  box.push_back(static_cast<char>(size >> 24));
  box.push_back(static_cast<char>(size >> 16));
  box.push_back(static_cast<char>(size >> 8));
  box.push_back(static_cast<char>(size));
  box += "ftyp";
  box += major;
  box += minor;
  box += compatible;
  return box + "\x00\x00\x00\x08meta"s;
}

TEST(SniffFormat, RecognisesEachFormatFromItsMagicBytes) {
  EXPECT_EQ(sniff_format(kJpeg), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_format(kExifJpeg), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_format(kPng), ImageFormat::Png);
  EXPECT_EQ(sniff_format(kWebP), ImageFormat::WebP);
  EXPECT_EQ(sniff_format(kGif87), ImageFormat::Gif);
  EXPECT_EQ(sniff_format(kGif89), ImageFormat::Gif);
  EXPECT_EQ(sniff_format(kTiffLittle), ImageFormat::Tiff);
  EXPECT_EQ(sniff_format(kTiffBig), ImageFormat::Tiff);
  EXPECT_EQ(sniff_format(kBigTiff), ImageFormat::Tiff);
  EXPECT_EQ(sniff_format(kHeic), ImageFormat::Heif);
  EXPECT_EQ(sniff_format(kAvif), ImageFormat::Avif);
}

TEST(SniffFormat, NeedsOnlyTheMagicPrefix) {
  EXPECT_EQ(sniff_format("\xFF\xD8\xFF"s), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_format(kPng.substr(0, 8)), ImageFormat::Png);
  EXPECT_EQ(sniff_format(kWebP.substr(0, 12)), ImageFormat::WebP);
  EXPECT_EQ(sniff_format("GIF89a"), ImageFormat::Gif);
  EXPECT_EQ(sniff_format(kHeic.substr(0, 16)), ImageFormat::Heif);
}

TEST(SniffFormat, IgnoresEverythingButTheBytes) {
  // The API never passes names or declared types: a PNG "called" photo.jpg is just these bytes, and stays
  // PNG.
  const std::string png_named_jpg = kPng + std::string(1000, '\0');
  EXPECT_EQ(sniff_format(png_named_jpg), ImageFormat::Png);
  EXPECT_EQ(sniff_format(png_named_jpg.substr(0, kSniffBytes)), ImageFormat::Png);
}

TEST(SniffFormat, RejectsNonImagesAsUnknown) {
  const std::vector<std::string> not_images = {
      "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
      "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
      "\xEF\xBB\xBF<svg/>"s,
      "<!DOCTYPE html><html><script>alert(1)</script>",
      "<html><body>hi</body></html>",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><root/>",
      "%PDF-1.7\n%\xE2\xE3\xCF\xD3"s,
      "PK\x03\x04\x14\x00\x00\x00\x08\x00"s,
      "just some text\n",
      "#!/bin/sh\nrm -rf /\n",
      "RIFF\x24\x00\x00\x00WAVEfmt "s,  // RIFF, but audio
      "RIFF\x24\x00\x00\x00AVI LIST"s,
      "GIF88a\x01\x00"s,                      // not a GIF version
      "BM\x3A\x00\x00\x00\x00\x00\x00\x00"s,  // BMP is not accepted
      " \xFF\xD8\xFF"s,                       // magic must be at offset 0
      "\x00\x00\x01\x00\x01\x00"s,            // ICO
      "II*"s,
      "MM\x00"s,
  };
  for (const auto& data : not_images) EXPECT_EQ(sniff_format(data), ImageFormat::Unknown) << data;
}

TEST(SniffFormat, EmptyAndShortInputsAreUnknown) {
  EXPECT_EQ(sniff_format(""), ImageFormat::Unknown);
  EXPECT_EQ(sniff_format("\xFF"s), ImageFormat::Unknown);
  EXPECT_EQ(sniff_format("\xFF\xD8"s), ImageFormat::Unknown);
  for (std::size_t n = 0; n < 8; ++n) EXPECT_EQ(sniff_format(kPng.substr(0, n)), ImageFormat::Unknown) << n;
  for (std::size_t n = 0; n < 12; ++n) EXPECT_EQ(sniff_format(kWebP.substr(0, n)), ImageFormat::Unknown) << n;
  for (std::size_t n = 0; n < 6; ++n) EXPECT_EQ(sniff_format(kGif89.substr(0, n)), ImageFormat::Unknown) << n;
}

TEST(SniffFormat, TruncatedOrCorruptFtypIsUnknown) {
  for (std::size_t n = 0; n < 16; ++n) {
    EXPECT_EQ(sniff_format(kHeic.substr(0, n)), ImageFormat::Unknown) << n;
    EXPECT_EQ(sniff_format(kAvif.substr(0, n)), ImageFormat::Unknown) << n;
  }
  EXPECT_EQ(sniff_format(ftyp("avif", "", 8)), ImageFormat::Unknown);  // smaller than its own fields
  EXPECT_EQ(sniff_format(ftyp("avif", "", 0xFFFFFFFF)), ImageFormat::Unknown);
  EXPECT_EQ(sniff_format(ftyp("heic", "mif1", 21)), ImageFormat::Unknown);  // not a whole number of brands
  std::string size_zero = ftyp("avif", "mif1");
  size_zero[3] = 0;  // "extends to end of file": never a real ftyp
  EXPECT_EQ(sniff_format(size_zero), ImageFormat::Unknown);
  std::string large_size = ftyp("avif", "mif1");
  large_size[3] = 1;  // 64-bit size follows: never a real ftyp
  EXPECT_EQ(sniff_format(large_size), ImageFormat::Unknown);
  // The box must be first: a "ftyp" elsewhere means nothing.
  const std::string free_box_first = "\x00\x00\x00\x08"s + "free" + ftyp("avif", "");
  EXPECT_EQ(sniff_format(free_box_first), ImageFormat::Unknown);
}

TEST(SniffFormat, DistinguishesAvifFromHeicBrands) {
  EXPECT_EQ(sniff_format(ftyp("avif", "")), ImageFormat::Avif);
  EXPECT_EQ(sniff_format(ftyp("avis", "avismsf1")), ImageFormat::Avif);
  for (const char* brand : {"heic", "heix", "hevc", "hevx"}) {
    EXPECT_EQ(sniff_format(ftyp(brand, "")), ImageFormat::Heif) << brand;
  }
  // Generic HEIF major brands defer to a codec-specific compatible brand, AVIF's included.
  EXPECT_EQ(sniff_format(ftyp("mif1", "mif1miafavif")), ImageFormat::Avif);
  EXPECT_EQ(sniff_format(ftyp("mif1", "heicmif1")), ImageFormat::Heif);
  EXPECT_EQ(sniff_format(ftyp("msf1", "msf1hevc")), ImageFormat::Heif);
  EXPECT_EQ(sniff_format(ftyp("mif1", "")), ImageFormat::Heif);
  EXPECT_EQ(sniff_format(ftyp("msf1", "iso8")), ImageFormat::Heif);
  // A neutral major brand decided by its compatible brands.
  EXPECT_EQ(sniff_format(ftyp("isom", "isomavif")), ImageFormat::Avif);
  EXPECT_EQ(sniff_format(ftyp("isom", "mif1heic")), ImageFormat::Heif);
  // When both appear among compatible brands, AVIF's own brand is the more specific claim.
  EXPECT_EQ(sniff_format(ftyp("mif1", "heicavif")), ImageFormat::Avif);
  // The major brand wins over compatible ones.
  EXPECT_EQ(sniff_format(ftyp("heic", "avif")), ImageFormat::Heif);
  EXPECT_EQ(sniff_format(ftyp("avif", "heic")), ImageFormat::Avif);
}

TEST(SniffFormat, OtherIsoMediaIsUnknown) {
  EXPECT_EQ(sniff_format(ftyp("mp42", "mp42isom")), ImageFormat::Unknown);  // MP4 video
  EXPECT_EQ(sniff_format(ftyp("qt  ", "qt  ")), ImageFormat::Unknown);      // QuickTime
  EXPECT_EQ(sniff_format(ftyp("crx ", "crx isom")), ImageFormat::Unknown);  // Canon raw
  EXPECT_EQ(sniff_format(ftyp("jp2 ", "jp2 ")), ImageFormat::Unknown);      // JPEG 2000 is not accepted
  EXPECT_EQ(sniff_format(ftyp("HEIC", "AVIF")), ImageFormat::Unknown);      // brands are case-sensitive
}

TEST(SniffFormat, ReadsBrandsOnlyWhereTheyAre) {
  // The minor version is not a brand.
  EXPECT_EQ(sniff_format(ftyp("isom", "", 0, "avif")), ImageFormat::Unknown);
  // Bytes after the box's declared end are the next box, not brands.
  EXPECT_EQ(sniff_format(ftyp("isom", "", 16) + "avif"), ImageFormat::Unknown);
  std::string declared_short = ftyp("isom", "iso2avif", 20);
  EXPECT_EQ(sniff_format(declared_short), ImageFormat::Unknown);
  // A box longer than the bytes given: decided from the brands that are visible, never read past the input.
  const std::string long_box = ftyp("isom", "iso2avif", 64);
  EXPECT_EQ(sniff_format(long_box.substr(0, 24)), ImageFormat::Avif);
  EXPECT_EQ(sniff_format(long_box.substr(0, 23)), ImageFormat::Unknown);
}

TEST(SniffFormat, LooksAtNoMoreThanSniffBytes) {
  std::string padding;
  while (16 + padding.size() + 8 <= kSniffBytes) padding += "iso2";
  const std::string inside = ftyp("isom", padding + "avif");  // last brand ends exactly at kSniffBytes
  ASSERT_EQ(16 + padding.size() + 4, kSniffBytes);
  EXPECT_EQ(sniff_format(inside), ImageFormat::Avif);
  const std::string beyond = ftyp("isom", padding + "iso2avif");
  EXPECT_EQ(sniff_format(beyond), ImageFormat::Unknown);
}

TEST(FormatNames, MimeTypesAndNamesCoverEveryFormat) {
  const std::vector<std::tuple<ImageFormat, std::string_view, std::string_view>> expected = {
      {ImageFormat::Jpeg, "image/jpeg", "jpeg"},
      {ImageFormat::Png, "image/png", "png"},
      {ImageFormat::WebP, "image/webp", "webp"},
      {ImageFormat::Gif, "image/gif", "gif"},
      {ImageFormat::Tiff, "image/tiff", "tiff"},
      {ImageFormat::Heif, "image/heif", "heif"},
      {ImageFormat::Avif, "image/avif", "avif"},
      {ImageFormat::Unknown, "application/octet-stream", "unknown"},
  };
  for (const auto& [format, mime, name] : expected) {
    EXPECT_EQ(mime_type(format), mime);
    EXPECT_EQ(format_name(format), name);
  }
}

TEST(IsAllowed, RequiredFormatsAlwaysOptionalOnesByFlag) {
  const AllowedFormats none;
  for (const auto f : {ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP})
    EXPECT_TRUE(is_allowed(f, none));
  for (const auto f :
       {ImageFormat::Gif, ImageFormat::Tiff, ImageFormat::Heif, ImageFormat::Avif, ImageFormat::Unknown}) {
    EXPECT_FALSE(is_allowed(f, none)) << format_name(f);
  }
  EXPECT_TRUE(is_allowed(ImageFormat::Gif, AllowedFormats{.gif = true}));
  EXPECT_FALSE(is_allowed(ImageFormat::Tiff, AllowedFormats{.gif = true}));
  EXPECT_TRUE(is_allowed(ImageFormat::Tiff, AllowedFormats{.tiff = true}));
  EXPECT_TRUE(is_allowed(ImageFormat::Heif, AllowedFormats{.heif = true}));
  EXPECT_FALSE(is_allowed(ImageFormat::Avif, AllowedFormats{.heif = true}));
  EXPECT_TRUE(is_allowed(ImageFormat::Avif, AllowedFormats{.avif = true}));
  const AllowedFormats all{.gif = true, .tiff = true, .heif = true, .avif = true};
  EXPECT_FALSE(is_allowed(ImageFormat::Unknown, all));
}

// --- sanitize_display_filename ---

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80                   ? 1
                    : (b >= 0xC2 && b <= 0xDF) ? 2
                    : (b >= 0xE0 && b <= 0xEF) ? 3
                    : (b >= 0xF0 && b <= 0xF4) ? 4
                                               : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(SanitizeDisplayFilename, StripsPaths) {
  EXPECT_EQ(sanitize_display_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_display_filename("C:\\x\\y.jpg"), "y.jpg");
  EXPECT_EQ(sanitize_display_filename("/abs/path/to/photo.png"), "photo.png");
  EXPECT_EQ(sanitize_display_filename("mixed\\sep/arators\\pic.gif"), "pic.gif");
  EXPECT_EQ(sanitize_display_filename("..\\..\\boot.ini"), "boot.ini");
  EXPECT_EQ(sanitize_display_filename("folder/"), "upload");
}

TEST(SanitizeDisplayFilename, RemovesControlCharactersAndNul) {
  EXPECT_EQ(sanitize_display_filename("evil\0.jpg.exe"s), "evil.jpg.exe");
  EXPECT_EQ(sanitize_display_filename("a\tb\r\nc\x7F"
                                      "d\x1B[31m.png"),
            "abcd[31m.png");
  EXPECT_EQ(sanitize_display_filename("nel\xC2\x85here.png"), "nelhere.png");  // U+0085, a C1 control
}

TEST(SanitizeDisplayFilename, RemovesBidiControls) {
  EXPECT_EQ(sanitize_display_filename("photo\u202Egpj.exe"), "photogpj.exe");
  EXPECT_EQ(sanitize_display_filename("a\u202Ab\u202Bc\u202Cd\u202De.png"), "abcde.png");
  EXPECT_EQ(sanitize_display_filename("a\u2066b\u2067c\u2068d\u2069e.png"), "abcde.png");
  EXPECT_EQ(sanitize_display_filename("a\u200Eb\u200Fc\u061Cd.png"), "abcd.png");
}

TEST(SanitizeDisplayFilename, KeepsEmojiAndOtherScripts) {
  EXPECT_EQ(sanitize_display_filename("\U0001F431 cat \U0001F389.png"), "\U0001F431 cat \U0001F389.png");
  const std::string family = "\U0001F468\u200D\U0001F469\u200D\U0001F467.jpg";  // ZWJ sequence stays whole
  EXPECT_EQ(sanitize_display_filename(family), family);
  EXPECT_EQ(sanitize_display_filename("写真 2024.jpg"), "写真 2024.jpg");
  EXPECT_EQ(sanitize_display_filename("صورة.png"), "صورة.png");
  EXPECT_EQ(sanitize_display_filename("Ünïcödé café.webp"), "Ünïcödé café.webp");
}

TEST(SanitizeDisplayFilename, ReplacesInvalidUtf8) {
  EXPECT_EQ(sanitize_display_filename("a\xFF"
                                      "b.jpg"),
            "a\uFFFD"
            "b.jpg");
  EXPECT_EQ(sanitize_display_filename("cut\xE2\x82.jpg"),
            "cut\uFFFD.jpg");  // one maximal subpart, one U+FFFD
  EXPECT_EQ(sanitize_display_filename("over\xC0\xAF"
                                      "long"),
            "over\uFFFD\uFFFDlong");  // overlong '/'
  EXPECT_EQ(sanitize_display_filename("sur\xED\xA0\x80"
                                      "rogate"),
            "sur\uFFFD\uFFFD\uFFFDrogate");
  EXPECT_EQ(sanitize_display_filename("big\xF4\x90\x80\x80"), "big\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(sanitize_display_filename("latin1 caf\xE9.png"), "latin1 caf\uFFFD.png");
  EXPECT_EQ(sanitize_display_filename("end\xF0\x9F\x90"), "end\uFFFD");
}

TEST(SanitizeDisplayFilename, TrimsSpacesAndDots) {
  EXPECT_EQ(sanitize_display_filename("  .hidden.jpg. "), "hidden.jpg");
  EXPECT_EQ(sanitize_display_filename("photo.jpg..."), "photo.jpg");
  EXPECT_EQ(sanitize_display_filename("inner  spaces.png"), "inner  spaces.png");
}

TEST(SanitizeDisplayFilename, FallsBackWhenNothingIsLeft) {
  EXPECT_EQ(sanitize_display_filename(""), "upload");
  EXPECT_EQ(sanitize_display_filename("..."), "upload");
  EXPECT_EQ(sanitize_display_filename(".."), "upload");
  EXPECT_EQ(sanitize_display_filename(" . . "), "upload");
  EXPECT_EQ(sanitize_display_filename("\0\x01\u202E"s), "upload");
  EXPECT_EQ(sanitize_display_filename("/"), "upload");
}

TEST(SanitizeDisplayFilename, LimitsLengthKeepingTheExtension) {
  const std::string name = std::string(996, 'a') + ".jpg";
  ASSERT_EQ(name.size(), 1000u);
  const std::string result = sanitize_display_filename(name);
  EXPECT_EQ(result.size(), kMaxDisplayFilenameBytes);
  EXPECT_EQ(result, std::string(251, 'a') + ".jpg");

  EXPECT_EQ(sanitize_display_filename(std::string(1000, 'b')), std::string(255, 'b'));
}

TEST(SanitizeDisplayFilename, LimitsLengthWithoutSplittingUtf8) {
  std::string accents;
  for (int i = 0; i < 500; ++i) accents += "\u00E9";  // 2 bytes each
  const std::string plain = sanitize_display_filename(accents);
  EXPECT_EQ(plain.size(), 254u);
  EXPECT_TRUE(is_valid_utf8(plain));

  const std::string with_extension = sanitize_display_filename(accents + ".jpeg");
  EXPECT_LE(with_extension.size(), kMaxDisplayFilenameBytes);
  EXPECT_TRUE(is_valid_utf8(with_extension));
  EXPECT_TRUE(with_extension.ends_with("\u00E9.jpeg"));

  std::string emoji;
  for (int i = 0; i < 300; ++i) emoji += "\U0001F600";  // 4 bytes each
  const std::string cut = sanitize_display_filename(emoji);
  EXPECT_EQ(cut.size(), 252u);
  EXPECT_TRUE(is_valid_utf8(cut));

  // A long "extension" is not worth keeping: plain truncation.
  const std::string long_extension = std::string(300, 'x') + "." + std::string(40, 'y');
  EXPECT_EQ(sanitize_display_filename(long_extension), std::string(255, 'x'));
  // Truncation never leaves trailing spaces or dots.
  EXPECT_EQ(sanitize_display_filename(std::string(250, 'a') + std::string(20, ' ') + "z"),
            std::string(250, 'a'));
}

TEST(SanitizeDisplayFilename, AlwaysYieldsSafeValidUtf8ForArbitraryBytes) {
  std::mt19937 random(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 600);
  for (int round = 0; round < 3000; ++round) {
    std::string raw(static_cast<std::size_t>(length(random)), '\0');
    for (char& c : raw) c = static_cast<char>(byte(random));
    const std::string result = sanitize_display_filename(raw);
    ASSERT_FALSE(result.empty());
    ASSERT_LE(result.size(), kMaxDisplayFilenameBytes);
    ASSERT_TRUE(is_valid_utf8(result));
    ASSERT_EQ(result.find_first_of("/\\"), std::string::npos);
    for (const char c : result) ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7F);
    ASSERT_EQ(result.find("\u202E"), std::string::npos);
    ASSERT_NE(result.front(), '.');
    ASSERT_NE(result.back(), ' ');
    ASSERT_EQ(sanitize_display_filename(result), result) << "sanitising is idempotent";
  }
}

}  // namespace
}  // namespace imageproc::imaging
