// The strip-by-strip WebP writer against libvips' own webpsave: the same VP8 (and ALPH) bitstream for RGB and
// RGBA images of odd and even sizes and several qualities, no metadata chunk, and a clear error for pixels it
// cannot take.

#include "imaging/webp_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vips/vips8>

#include "core/temp_file.hpp"
#include "vips_suite.hpp"

namespace imageproc::imaging {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

// RIFF chunks of a WebP file by FourCC ("VP8 ", "ALPH", "VP8X", "EXIF", …).
std::map<std::string, std::string> chunks(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, std::string> out;
  EXPECT_EQ(data.substr(0, 4), "RIFF");
  EXPECT_EQ(data.substr(8, 4), "WEBP");
  for (std::size_t i = 12; i + 8 <= data.size();) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + i + 4);
    const std::size_t size = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::size_t>(p[3]) << 24);
    out[data.substr(i, 4)] = data.substr(i + 8, size);
    i += 8 + size + (size & 1);
  }
  return out;
}

// A photo-like test picture: gradients plus noise, optionally with a varying alpha band.
VImage picture(int width, int height, bool alpha, bool opaque_top = false) {
  VImage xyz = VImage::xyz(width, height);
  VImage x = xyz[0] * (255.0 / width);
  VImage y = xyz[1] * (255.0 / height);
  VImage noise = VImage::gaussnoise(width, height, VImage::option()->set("sigma", 30)->set("mean", 128));
  VImage rgb = x.bandjoin(y).bandjoin(noise);
  if (alpha) {
    VImage a = (x + y) / 2;
    // Rows above the middle fully opaque: strips with and without an alpha plane in one image.
    if (opaque_top) a = (xyz[1] < height / 2).ifthenelse(255, a);
    rgb = rgb.bandjoin(a);
  }
  return rgb.cast(VIPS_FORMAT_UCHAR).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

class WebpWriterTest : public testing::VipsSuite {
 protected:
  TempDir dir_ = TempDir::create(fs::temp_directory_path(), "webp-writer-test-");
};

TEST_F(WebpWriterTest, SameBitstreamAsWebpsaveForRgbAndRgbaOfOddAndEvenSizes) {
  struct Case {
    int width, height;
    bool alpha;
    int quality, effort;
  };
  for (const Case c : {Case{301, 199, false, 80, 4}, Case{256, 64, false, 75, 4}, Case{97, 33, true, 80, 4},
                       Case{128, 96, true, 50, 6}, Case{1, 1, false, 80, 0}}) {
    SCOPED_TRACE(std::to_string(c.width) + "x" + std::to_string(c.height) + (c.alpha ? " RGBA" : " RGB"));
    const VImage image = picture(c.width, c.height, c.alpha).copy_memory();
    const std::string stem = std::to_string(c.width) + "x" + std::to_string(c.height) + "-" + std::to_string(c.quality);
    const fs::path ours = dir_.path() / (stem + "-ours.webp");  // distinct names: libvips caches loads by name
    const fs::path theirs = dir_.path() / (stem + "-webpsave.webp");
    write_webp(image, ours, WebpSettings{.quality = c.quality, .effort = c.effort});
    image.webpsave(theirs.c_str(),
                   VImage::option()->set("Q", c.quality)->set("effort", c.effort)->set("strip", true));
    const auto a = chunks(ours);
    const auto b = chunks(theirs);
    ASSERT_TRUE(a.contains("VP8 "));
    EXPECT_EQ(a.at("VP8 "), b.at("VP8 "));
    EXPECT_EQ(a.contains("ALPH"), c.alpha);
    if (c.alpha) EXPECT_EQ(a.at("ALPH"), b.at("ALPH"));
    EXPECT_FALSE(a.contains("EXIF"));
    EXPECT_FALSE(a.contains("XMP "));
    EXPECT_FALSE(a.contains("ICCP"));
    const VImage back = VImage::new_from_file(ours.c_str());
    EXPECT_EQ(back.width(), c.width);
    EXPECT_EQ(back.height(), c.height);
    EXPECT_EQ(back.has_alpha(), c.alpha);
  }
}

TEST_F(WebpWriterTest, OpaqueStripsAndFullyOpaqueAlphaMatchWebpsave) {
  for (const bool all_opaque : {false, true}) {
    SCOPED_TRACE(all_opaque ? "opaque alpha band" : "opaque top half");
    VImage image = picture(203, 157, true, true).copy_memory();
    if (all_opaque) image = image.extract_band(0, VImage::option()->set("n", 3)).bandjoin(255).cast(VIPS_FORMAT_UCHAR)
                                .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB)).copy_memory();
    const fs::path ours = dir_.path() / (std::string(all_opaque ? "opaque" : "half") + "-ours.webp");
    const fs::path theirs = dir_.path() / (std::string(all_opaque ? "opaque" : "half") + "-webpsave.webp");
    write_webp(image, ours, WebpSettings{.quality = 80, .effort = 4});
    image.webpsave(theirs.c_str(), VImage::option()->set("Q", 80)->set("effort", 4)->set("strip", true));
    const auto a = chunks(ours);
    const auto b = chunks(theirs);
    EXPECT_EQ(a.at("VP8 "), b.at("VP8 "));
    EXPECT_EQ(a.contains("ALPH"), b.contains("ALPH"));
    EXPECT_EQ(a.contains("ALPH"), !all_opaque);
    if (a.contains("ALPH") && b.contains("ALPH")) EXPECT_EQ(a.at("ALPH"), b.at("ALPH"));
  }
}

TEST_F(WebpWriterTest, StreamsASequentialPipelineFromAFile) {
  const fs::path source = dir_.path() / "source.png";
  picture(640, 427, false).pngsave(source.c_str());
  const VImage sequential =
      VImage::new_from_file(source.c_str(), VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
  const fs::path ours = dir_.path() / "ours.webp";
  write_webp(sequential, ours, WebpSettings{.quality = 80, .effort = 4});
  const fs::path theirs = dir_.path() / "webpsave.webp";
  VImage::new_from_file(source.c_str())
      .webpsave(theirs.c_str(), VImage::option()->set("Q", 80)->set("effort", 4)->set("strip", true));
  EXPECT_EQ(chunks(ours).at("VP8 "), chunks(theirs).at("VP8 "));
}

TEST_F(WebpWriterTest, RefusesPixelsThatAreNotEightBitRgbOrRgba) {
  const fs::path out = dir_.path() / "x.webp";
  EXPECT_THROW(write_webp(picture(8, 8, false)[0], out, {}), std::invalid_argument);          // one band
  EXPECT_THROW(write_webp(picture(8, 8, false).cast(VIPS_FORMAT_USHORT), out, {}), std::invalid_argument);
}

// libwebp refuses a side over 16383 px when encoding, after the file was opened: the error names libwebp's
// code and no truncated file is left behind (a stale one at the path is gone too).
TEST_F(WebpWriterTest, AFailedEncodeLeavesNoFile) {
  const fs::path out = dir_.path() / "too-wide.webp";
  std::ofstream(out) << "stale";
  const VImage too_wide = (VImage::black(16384, 2, VImage::option()->set("bands", 3)) + 128)
                              .cast(VIPS_FORMAT_UCHAR)
                              .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  try {
    write_webp(too_wide, out, {});
    ADD_FAILURE() << "a 16384 px wide image was encoded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("WebP: encoding failed (libwebp error"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace imageproc::imaging
