// The image stage core end to end on files made here with libvips and exiftool: sizes, orientation, colour
// conversion, metadata extraction, no personal metadata in any output, and refusals.

#include <gtest/gtest.h>

#include "core/temp_file.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vips/vips8>

#include "imaging/exif.hpp"
#include "imaging/phash.hpp"
#include "imaging/pipeline.hpp"
#include "imaging/probe.hpp"
#include "shell.hpp"
#include "synthetic_png.hpp"
#include "vips_suite.hpp"

namespace imageproc::imaging {
namespace {

namespace fs = std::filesystem;
using vips::VImage;


using imageproc::testing::run_command;

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

void exiftool_write(const fs::path& file, const std::string& arguments) {
  run_command("exiftool -q -q -overwrite_original " + arguments + " " + quoted(file));
}

nlohmann::json exiftool_read(const fs::path& file) {
  return nlohmann::json::parse(run_command("exiftool -n -json " + quoted(file) + " 2>/dev/null")).at(0);
}

class ImagingPipelineTest : public testing::VipsSuite {
 protected:

  ImageStageResult process(const fs::path& input, const ImageStageOptions& options = {}) {
    return process_image(input, options, dir_ / "out");
  }

  static const ImageOutput& output(const ImageStageResult& result, const std::string& name,
                                   const std::string& format = "webp") {
    for (const auto& o : result.outputs) {
      if (o.name == name && o.format == format) return o;
    }
    throw std::runtime_error("no output " + name);
  }

  // Every output is a real WebP of the reported size, with no personal metadata left in it.
  static void expect_clean_outputs(const ImageStageResult& result) {
    ASSERT_GE(result.outputs.size(), 4u);
    for (const auto& o : result.outputs) {
      SCOPED_TRACE(o.name);
      ASSERT_TRUE(fs::exists(o.path));
      EXPECT_EQ(o.bytes, fs::file_size(o.path));
      const VImage back = VImage::new_from_file(o.path.c_str());
      EXPECT_EQ(back.width(), o.width);
      EXPECT_EQ(back.height(), o.height);
      EXPECT_EQ(std::string(back.get_string("vips-loader")), "webpload");
      std::unique_ptr<gchar*, void (*)(gchar**)> fields(vips_image_get_fields(back.get_image()), g_strfreev);
      for (gchar** f = fields.get(); *f != nullptr; ++f) {
        const std::string name = *f;
        EXPECT_EQ(name.find("GPS"), std::string::npos) << name;
        EXPECT_EQ(name.find("Make"), std::string::npos) << name;
        EXPECT_EQ(name.find("Model"), std::string::npos) << name;
        EXPECT_EQ(name.find("DateTime"), std::string::npos) << name;
        EXPECT_NE(name, "xmp-data");
        EXPECT_NE(name, "iptc-data");
        EXPECT_NE(name, "icc-profile-data");
        // libvips 8.14 writes a minimal synthetic EXIF block (resolution, Orientation 1) into every WebP.
        if (name == "orientation") {
          EXPECT_EQ(back.get_int("orientation"), 1);
        }
      }
      const auto tags = exiftool_read(o.path);
      for (const auto& [key, value] : tags.items()) {
        EXPECT_EQ(key.rfind("GPS", 0), std::string::npos) << key;
        EXPECT_TRUE(key != "Make" && key != "Model" && key != "Software" && key != "DateTimeOriginal" &&
                    (key != "Orientation" || value == 1) && key != "Artist" && key != "UserComment" &&
                    key != "LensModel" && key.find("XMP") == std::string::npos && key != "Creator" &&
                    key != "ProfileDescription")
            << key << " = " << value;
      }
    }
  }

  TempDir dir_ = TempDir::create(fs::temp_directory_path(), "imaging-test-");
};

// 3-band 8-bit sRGB: mid-grey with a red block in the top-left corner and a blue block bottom-right.
VImage marked_picture(int width, int height) {
  VImage grey =
      VImage::black(width, height, VImage::option()->set("bands", 3)) + std::vector<double>{128, 128, 128};
  VImage red = VImage::black(width / 3, height / 3, VImage::option()->set("bands", 3)) +
               std::vector<double>{255, 0, 0};
  VImage blue = VImage::black(width / 3, height / 3, VImage::option()->set("bands", 3)) +
                std::vector<double>{0, 0, 255};
  return grey.insert(red, 0, 0)
      .insert(blue, width - width / 3, height - height / 3)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// A textured picture (for hashes and realistic encoder input): gradients plus smooth noise.
VImage textured_picture(int width, int height, int seed) {
  VImage xy = VImage::xyz(width, height);
  VImage x = xy[0] * (255.0 / width);
  VImage y = xy[1] * (255.0 / height);
  VImage noise = VImage::gaussnoise(width / 16 + 1, height / 16 + 1,
                                    VImage::option()->set("sigma", 60)->set("seed", seed))
                     .resize(16.0)
                     .crop(0, 0, width, height);
  return x.bandjoin(y)
      .bandjoin(noise + 128)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

bool near_colour(const std::vector<double>& pixel, std::array<double, 3> expected, double tolerance = 40) {
  for (std::size_t c = 0; c < 3; ++c) {
    if (std::abs(pixel[c] - expected[c]) > tolerance) return false;
  }
  return true;
}

constexpr std::array<double, 3> kRed{255, 0, 0};
constexpr std::array<double, 3> kBlue{0, 0, 255};

TEST_F(ImagingPipelineTest, SmallJpegThumbnailsAreNeverUpscaled) {
  const fs::path input = dir_ / "small.jpg";
  marked_picture(300, 200).jpegsave(input.c_str());
  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(output(result, "thumb-128").width, 128);
  EXPECT_EQ(output(result, "thumb-128").height, 85);
  EXPECT_EQ(output(result, "thumb-512").width, 300);
  EXPECT_EQ(output(result, "thumb-512").height, 200);
  EXPECT_EQ(output(result, "thumb-1024").width, 300);
  EXPECT_EQ(output(result, "thumb-1024").height, 200);
  EXPECT_EQ(output(result, "optimized").width, 300);
  EXPECT_EQ(output(result, "optimized").height, 200);
  const auto& m = result.metadata;
  EXPECT_EQ(m.at("width"), 300);
  EXPECT_EQ(m.at("height"), 200);
  EXPECT_EQ(m.at("format"), "jpeg");
  EXPECT_EQ(m.at("fileSize"), fs::file_size(input));
  EXPECT_EQ(m.at("orientation"), 1);
  EXPECT_EQ(m.at("hasAlpha"), false);
  EXPECT_EQ(m.at("colorSpace"), "srgb");
  EXPECT_EQ(m.at("blurhash").get<std::string>().size(), 28u);
  EXPECT_EQ(m.at("phash").get<std::string>().size(), 16u);
  EXPECT_FALSE(m.contains("gps"));
  // Grey dominates, then the red and blue blocks (equal areas).
  const auto colours = m.at("dominantColors");
  ASSERT_GE(colours.size(), 3u);
  EXPECT_EQ(colours[0], "#808080");
}

TEST_F(ImagingPipelineTest, LargeProgressiveJpegFitsEachBox) {
  const fs::path input = dir_ / "large.jpg";
  textured_picture(2400, 1600, 1).jpegsave(input.c_str(), VImage::option()->set("interlace", true));
  EXPECT_EQ(VImage::new_from_file(input.c_str()).get_int("jpeg-multiscan"), 1);  // really progressive
  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(output(result, "thumb-1024").width, 1024);
  EXPECT_EQ(output(result, "thumb-1024").height, 683);
  EXPECT_EQ(output(result, "thumb-512").width, 512);
  EXPECT_EQ(output(result, "thumb-512").height, 341);
  EXPECT_EQ(output(result, "thumb-128").width, 128);
  EXPECT_EQ(output(result, "thumb-128").height, 85);
  EXPECT_EQ(output(result, "optimized").width, 2400);
  EXPECT_EQ(output(result, "optimized").height, 1600);
  EXPECT_LT(output(result, "thumb-128").bytes, output(result, "optimized").bytes);
}

// Stored pixels for orientation `o`, such that applying EXIF orientation `o` shows `upright`.
VImage stored_for_orientation(const VImage& upright, int o) {
  switch (o) {
    case 2:
      return upright.flip(VIPS_DIRECTION_HORIZONTAL);
    case 3:
      return upright.rot(VIPS_ANGLE_D180);
    case 4:
      return upright.flip(VIPS_DIRECTION_VERTICAL);
    case 5:
      return upright.rot(VIPS_ANGLE_D90).flip(VIPS_DIRECTION_HORIZONTAL);  // transpose
    case 6:
      return upright.rot(VIPS_ANGLE_D270);
    case 7:
      return upright.rot(VIPS_ANGLE_D270).flip(VIPS_DIRECTION_HORIZONTAL);  // transverse
    case 8:
      return upright.rot(VIPS_ANGLE_D90);
    default:
      return upright;
  }
}

TEST_F(ImagingPipelineTest, AutoOrientsAllEightExifOrientations) {
  const VImage upright = marked_picture(300, 180);
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    const fs::path input = dir_ / ("orient" + std::to_string(o) + ".jpg");
    stored_for_orientation(upright, o).jpegsave(input.c_str(), VImage::option()->set("Q", 95));
    exiftool_write(input, "-Orientation#=" + std::to_string(o));

    const auto probe = probe_image(input, {});
    EXPECT_EQ(probe.orientation, o);
    EXPECT_EQ(probe.width, o >= 5 ? 180 : 300);  // stored sides are swapped for 5–8
    EXPECT_EQ(probe.height, o >= 5 ? 300 : 180);

    const auto result = process(input);
    expect_clean_outputs(result);
    EXPECT_EQ(result.metadata.at("orientation"), o);
    EXPECT_EQ(result.metadata.at("width"), 300);
    EXPECT_EQ(result.metadata.at("height"), 180);
    for (const std::string name : {"optimized", "thumb-128"}) {
      SCOPED_TRACE(name);
      const auto& out = output(result, name);
      const VImage image = VImage::new_from_file(out.path.c_str());
      ASSERT_EQ(image.width(), name == "optimized" ? 300 : 128);
      ASSERT_EQ(image.height(), name == "optimized" ? 180 : 77);
      const int w = image.width(), h = image.height();
      EXPECT_TRUE(near_colour(image.getpoint(w / 12, h / 12), kRed)) << "top-left is not red";
      EXPECT_TRUE(near_colour(image.getpoint(w - 1 - w / 12, h - 1 - h / 12), kBlue))
          << "bottom-right is not blue";
      EXPECT_FALSE(near_colour(image.getpoint(w - 1 - w / 12, h / 12), kRed)) << "top-right is red";
    }
  }
}

TEST_F(ImagingPipelineTest, ExtractsExifAndGpsButKeepsThemOutOfOutputs) {
  const fs::path input = dir_ / "camera.jpg";
  textured_picture(640, 480, 2).jpegsave(input.c_str());
  exiftool_write(
      input,
      "-Make=Canon -Model='Canon EOS 5D Mark IV' '-DateTimeOriginal=2021:07:04 12:34:56' -FNumber=2.8 "
      "-ExposureTime=0.005 -ISO=400 -FocalLength=50 '-LensModel=EF50mm f/1.8 STM' -Software=TestSuite "
      "-GPSLatitude=33.8568 -GPSLatitudeRef=S -GPSLongitude=151.2153 -GPSLongitudeRef=E "
      "'-XMP-dc:Creator=Jane Doe' '-IPTC:By-line=Jane Doe'");
  const auto truth = exiftool_read(input);
  const auto result = process(input);
  expect_clean_outputs(result);

  const auto& exif = result.metadata.at("exif");
  EXPECT_EQ(exif.at("Make"), truth.at("Make"));
  EXPECT_EQ(exif.at("Model"), truth.at("Model"));
  EXPECT_EQ(exif.at("DateTimeOriginal"), truth.at("DateTimeOriginal"));
  EXPECT_EQ(exif.at("LensModel"), truth.at("LensModel"));
  EXPECT_EQ(exif.at("Software"), truth.at("Software"));
  EXPECT_NEAR(exif.at("FNumber").get<double>(), truth.at("FNumber").get<double>(), 1e-9);
  EXPECT_NEAR(exif.at("FocalLength").get<double>(), truth.at("FocalLength").get<double>(), 1e-9);
  EXPECT_EQ(exif.at("ISO"), truth.at("ISO"));
  EXPECT_EQ(exif.at("ExposureTime"), "1/200");
  EXPECT_NEAR(*parse_rational(exif.at("ExposureTime").get<std::string>()),
              truth.at("ExposureTime").get<double>(), 1e-12);
  for (const auto& [key, value] : exif.items()) EXPECT_EQ(key.rfind("GPS", 0), std::string::npos) << key;

  ASSERT_TRUE(result.metadata.contains("gps"));
  EXPECT_NEAR(result.metadata.at("gps").at("lat").get<double>(), truth.at("GPSLatitude").get<double>(), 1e-5);
  EXPECT_NEAR(result.metadata.at("gps").at("lon").get<double>(), truth.at("GPSLongitude").get<double>(),
              1e-5);
  EXPECT_LT(result.metadata.at("gps").at("lat").get<double>(), 0);
}

TEST_F(ImagingPipelineTest, CmykJpegBecomesSrgb) {
  const fs::path input = dir_ / "cmyk.jpg";
  marked_picture(400, 300).colourspace(VIPS_INTERPRETATION_CMYK).jpegsave(input.c_str());
  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(result.metadata.at("colorSpace"), "cmyk");
  const VImage out = VImage::new_from_file(output(result, "optimized").path.c_str());
  EXPECT_EQ(out.bands(), 3);
  EXPECT_TRUE(near_colour(out.getpoint(20, 20), kRed, 60));
  EXPECT_TRUE(near_colour(out.getpoint(200, 150), {128, 128, 128}, 30));
}

TEST_F(ImagingPipelineTest, GreyscaleJpeg) {
  const fs::path input = dir_ / "grey.jpg";
  textured_picture(500, 400, 3).colourspace(VIPS_INTERPRETATION_B_W).jpegsave(input.c_str());
  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(result.metadata.at("colorSpace"), "b-w");
  EXPECT_EQ(output(result, "thumb-128").height, 102);
}

TEST_F(ImagingPipelineTest, SixteenBitPaletteAndRgbaPngs) {
  const VImage picture = marked_picture(640, 400);
  const fs::path png16 = dir_ / "deep.png";
  (picture.cast(VIPS_FORMAT_USHORT) * 257)
      .cast(VIPS_FORMAT_USHORT)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16))
      .pngsave(png16.c_str(), VImage::option()->set("bitdepth", 16));
  const fs::path palette = dir_ / "palette.png";
  picture.pngsave(palette.c_str(), VImage::option()->set("palette", true));
  const fs::path rgba = dir_ / "rgba.png";
  const VImage alpha = VImage::black(640, 400) + 255;
  picture.bandjoin(alpha.insert(VImage::black(100, 100), 540, 0).cast(VIPS_FORMAT_UCHAR))
      .pngsave(rgba.c_str());

  for (const auto& input : {png16, palette, rgba}) {
    SCOPED_TRACE(input.filename().string());
    const auto result = process(input);
    expect_clean_outputs(result);
    EXPECT_EQ(result.metadata.at("format"), "png");
    EXPECT_EQ(output(result, "thumb-512").width, 512);
    EXPECT_EQ(output(result, "thumb-512").height, 320);
    const VImage out = VImage::new_from_file(output(result, "optimized").path.c_str());
    EXPECT_TRUE(near_colour(out.getpoint(30, 30), kRed, 10));
    EXPECT_EQ(out.format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(result.metadata.at("dominantColors").at(0), "#808080");
  }
  EXPECT_EQ(process(png16).metadata.at("colorSpace"), "rgb16");
  const auto with_alpha = process(rgba);
  EXPECT_EQ(with_alpha.metadata.at("hasAlpha"), true);
  const VImage out = VImage::new_from_file(output(with_alpha, "optimized").path.c_str());
  EXPECT_EQ(out.bands(), 4);
  EXPECT_LT(out.getpoint(600, 20)[3], 10);  // the transparent corner stays transparent
}

TEST_F(ImagingPipelineTest, WebpLossyLosslessAndAlpha) {
  const VImage picture = textured_picture(800, 600, 4);
  const fs::path lossy = dir_ / "lossy.webp";
  picture.webpsave(lossy.c_str(), VImage::option()->set("Q", 70));
  const fs::path lossless = dir_ / "lossless.webp";
  picture.webpsave(lossless.c_str(), VImage::option()->set("lossless", true));
  const fs::path alpha = dir_ / "alpha.webp";
  picture.bandjoin((VImage::black(800, 600) + 200).cast(VIPS_FORMAT_UCHAR)).webpsave(alpha.c_str());
  for (const auto& input : {lossy, lossless, alpha}) {
    SCOPED_TRACE(input.filename().string());
    const auto result = process(input);
    expect_clean_outputs(result);
    EXPECT_EQ(result.metadata.at("format"), "webp");
    EXPECT_EQ(output(result, "thumb-512").width, 512);
    EXPECT_EQ(output(result, "thumb-512").height, 384);
    EXPECT_EQ(output(result, "optimized").width, 800);
  }
  EXPECT_EQ(process(alpha).metadata.at("hasAlpha"), true);
}

// A TIFF with extra samples (sRGB + alpha + one more band) is encoded from its first four bands, as libvips'
// webpsave did, rather than refused.
TEST_F(ImagingPipelineTest, TiffWithExtraSamplesKeepsItsFirstFourBands) {
  const VImage opaque = (VImage::black(640, 480) + 255).cast(VIPS_FORMAT_UCHAR);
  const VImage extra = (VImage::black(640, 480) + 7).cast(VIPS_FORMAT_UCHAR);
  const fs::path input = dir_ / "five-bands.tif";
  textured_picture(640, 480, 5)
      .bandjoin(opaque)
      .bandjoin(extra)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .tiffsave(input.c_str());
  ASSERT_EQ(VImage::new_from_file(input.c_str()).bands(), 5);
  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(output(result, "optimized").width, 640);
  EXPECT_EQ(output(result, "thumb-512").height, 384);
  for (const auto& o : result.outputs) {
    SCOPED_TRACE(o.name);
    const VImage written = VImage::new_from_file(o.path.c_str());
    EXPECT_TRUE(written.bands() == 3 || written.bands() == 4);  // libwebp drops an alpha that is opaque throughout
  }
}

TEST_F(ImagingPipelineTest, AnimatedGifUsesFirstFrameAndCountsAllFrames) {
  const fs::path input = dir_ / "anim.gif";
  const auto frame = [](double r, double g, double b) {
    return (VImage::black(200, 150, VImage::option()->set("bands", 3)) + std::vector<double>{r, g, b})
        .cast(VIPS_FORMAT_UCHAR);
  };
  VImage frames = frame(255, 0, 0)
                      .join(frame(0, 255, 0), VIPS_DIRECTION_VERTICAL)
                      .join(frame(0, 0, 255), VIPS_DIRECTION_VERTICAL);
  frames = frames.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  frames.set("page-height", 150);
  frames.set("delay", std::vector<int>{100, 100, 100});
  frames.gifsave(input.c_str());

  const auto probe = probe_image(input, {});
  EXPECT_EQ(probe.frames, 3);
  EXPECT_EQ(probe.height, 150);
  ImageLimits tight;
  tight.max_pixels = 200 * 150 * 2;  // two frames fit, three do not
  EXPECT_THROW(probe_image(input, tight), ImageRejected);

  const auto result = process(input);
  expect_clean_outputs(result);
  EXPECT_EQ(result.metadata.at("frames"), 3);
  const VImage out = VImage::new_from_file(output(result, "optimized").path.c_str());
  EXPECT_EQ(out.width(), 200);
  EXPECT_EQ(out.height(), 150);  // one frame, not the strip of three
  EXPECT_FALSE(out.get_typeof("n-pages") != 0 && out.get_int("n-pages") > 1);
  EXPECT_TRUE(near_colour(out.getpoint(100, 75), kRed, 30));
}

TEST_F(ImagingPipelineTest, PerceptualHashSurvivesResizeButNotADifferentPicture) {
  const fs::path original = dir_ / "a.jpg";
  const fs::path resized = dir_ / "a-small.jpg";
  const fs::path other = dir_ / "b.jpg";
  textured_picture(1200, 900, 5).jpegsave(original.c_str());
  textured_picture(1200, 900, 5).resize(0.7).jpegsave(resized.c_str(), VImage::option()->set("Q", 60));
  textured_picture(1200, 900, 6).rot(VIPS_ANGLE_D180).jpegsave(other.c_str());
  const auto hash = [&](const fs::path& p) {
    return std::stoull(process(p).metadata.at("phash").get<std::string>(), nullptr, 16);
  };
  const auto a = hash(original), b = hash(resized), c = hash(other);
  EXPECT_LE(hamming_distance(a, b), 4);
  EXPECT_GE(hamming_distance(a, c), 16);
}

TEST_F(ImagingPipelineTest, OptionalAvifOutput) {
  const fs::path input = dir_ / "avif-src.jpg";
  textured_picture(320, 240, 7).jpegsave(input.c_str());
  ImageStageOptions options;
  options.avif = true;
  options.avif_effort = 0;
  ImageStageResult result;
  try {
    result = process(input, options);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "libheif on this machine cannot encode AV1: " << e.what();
  }
  const auto& avif = output(result, "optimized", "avif");
  EXPECT_EQ(avif.path.extension(), ".avif");
  EXPECT_EQ(avif.width, 320);
  const VImage back = VImage::new_from_file(avif.path.c_str());
  EXPECT_EQ(back.width(), 320);
  EXPECT_EQ(back.get_typeof("exif-ifd0-Make"), 0u);
}

// --- refusals ---------------------------------------------------------------------------------------------

std::string reject_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const ImageRejected& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ImageRejected";
  return {};
}

TEST_F(ImagingPipelineTest, RejectsTruncatedJpeg) {
  const fs::path whole = dir_ / "whole.jpg";
  textured_picture(1000, 800, 8).jpegsave(whole.c_str());
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path truncated = dir_ / "truncated.jpg";
  std::ofstream(truncated, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));

  EXPECT_NO_THROW(probe_image(truncated, {}));  // the header alone is fine
  const std::string message = reject_message([&] { process(truncated); });
  EXPECT_NE(message.find("corrupt or truncated"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "optimized.webp"));
}

using imageproc::testing::png_crc32;
using imageproc::testing::png_declaring;

TEST_F(ImagingPipelineTest, RejectsPngDeclaringThirtyThousandSquaredPixelsFromHeaderAlone) {
  EXPECT_EQ(png_crc32("IEND"), 0xAE426082u);  // the CRC every PNG ends with
  const std::string png = png_declaring(30000, 30000);
  const fs::path input = dir_ / "bomb.png";
  std::ofstream(input, std::ios::binary) << png;

  const std::string message = reject_message([&] { probe_image(input, {}); });
  EXPECT_NE(message.find("megapixels"), std::string::npos) << message;
  EXPECT_NE(reject_message([&] { process(input); }), "");
}

TEST_F(ImagingPipelineTest, RejectsRandomBytes) {
  const fs::path input = dir_ / "noise.bin";
  std::mt19937 rng(42);
  std::string bytes(4096, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  std::ofstream(input, std::ios::binary) << bytes;
  const std::string message = reject_message([&] { process(input); });
  EXPECT_NE(message.find("not a supported image"), std::string::npos) << message;
}

TEST_F(ImagingPipelineTest, RejectsSvgBecauseUntrustedLoadersAreBlocked) {
  const fs::path input = dir_ / "drawing.svg";
  std::ofstream(input)
      << R"(<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">)"
      << R"(<rect width="100" height="100" fill="red"/></svg>)";
  const std::string message = reject_message([&] { process(input); });
  EXPECT_NE(message.find("not a supported image"), std::string::npos) << message;
}

TEST_F(ImagingPipelineTest, RejectsAllowedButOversizedSideAndEmptyFiles) {
  const fs::path input = dir_ / "wide.png";
  (VImage::black(3000, 10) + 1).cast(VIPS_FORMAT_UCHAR).pngsave(input.c_str());
  ImageLimits limits;
  limits.max_dimension = 2000;
  EXPECT_NE(reject_message([&] { probe_image(input, limits); }).find("each side"), std::string::npos);
  const fs::path empty = dir_ / "empty.jpg";
  std::ofstream(empty).close();
  EXPECT_NE(reject_message([&] { probe_image(empty, {}); }), "");
}

// The AI stage's input: what a provider receives must be upright, small and carry nothing but pixels.
TEST_F(ImagingPipelineTest, AnalysisJpegIsUprightFittedAndFreeOfMetadata) {
  const fs::path input = dir_ / "camera.jpg";
  marked_picture(3000, 2000).jpegsave(input.c_str());
  exiftool_write(input, "-n -Orientation=6 -Make=TestCam -Model=Model-X -GPSLatitude=48.8584 -GPSLatitudeRef=N "
                        "-GPSLongitude=2.2945 -GPSLongitudeRef=E");
  const auto encoded = analysis_jpeg(input, 1024);
  EXPECT_EQ(encoded.mime_type, "image/jpeg");
  EXPECT_EQ(encoded.width, 683);  // orientation 6: 3000×2000 stands up as 2000×3000
  EXPECT_EQ(encoded.height, 1024);
  ASSERT_GE(encoded.bytes.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(encoded.bytes[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(encoded.bytes[1]), 0xD8);
  EXPECT_EQ(encoded.bytes.find("Exif"), std::string::npos);
  EXPECT_EQ(encoded.bytes.find("TestCam"), std::string::npos);
  EXPECT_EQ(encoded.bytes.find("ICC_PROFILE"), std::string::npos);
  const VImage back = VImage::new_from_buffer(encoded.bytes.data(), encoded.bytes.size(), "");
  EXPECT_EQ(back.width(), 683);
  EXPECT_EQ(back.height(), 1024);
  // Rotated 90° clockwise: the red block (top-left in the file) is now top-right.
  EXPECT_TRUE(near_colour(back.getpoint(back.width() - 20, 20), kRed));
}

TEST_F(ImagingPipelineTest, AnalysisJpegIsNeverUpscaledAndFlattensAlphaOnWhite) {
  const fs::path input = dir_ / "logo.png";
  VImage transparent = VImage::black(300, 200, VImage::option()->set("bands", 4)).cast(VIPS_FORMAT_UCHAR)
                           .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  transparent.pngsave(input.c_str());
  const auto encoded = analysis_jpeg(input, 2048);
  EXPECT_EQ(encoded.width, 300);
  EXPECT_EQ(encoded.height, 200);
  const VImage back = VImage::new_from_buffer(encoded.bytes.data(), encoded.bytes.size(), "");
  EXPECT_EQ(back.bands(), 3);
  EXPECT_TRUE(near_colour(back.getpoint(150, 100), {255, 255, 255}, 5));
}

TEST_F(ImagingPipelineTest, AnalysisJpegRefusesUndecodableInput) {
  const fs::path input = dir_ / "broken.jpg";
  std::ofstream(input, std::ios::binary) << std::string("\xFF\xD8\xFF\xE0 not really a jpeg", 22);
  EXPECT_THROW(analysis_jpeg(input, 1024), ImageRejected);
}

}  // namespace
}  // namespace imageproc::imaging
