#include "imaging/pipeline.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <future>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vips/vips8>

#include "imaging/blurhash.hpp"
#include "imaging/colour.hpp"
#include "imaging/exif.hpp"
#include "imaging/phash.hpp"
#include "imaging/webp_writer.hpp"

namespace imageproc::imaging {
namespace {

namespace fs = std::filesystem;
using vips::VError;
using vips::VImage;

constexpr std::array<int, 3> kThumbnailBoxes{1024, 512, 128};  // largest first: each is derived from the last
constexpr int kWebpMaxDimension = 16383;                       // libwebp's hard limit per side
constexpr int kPaletteSide = 64;
constexpr int kBlurhashSide = 32;
constexpr int kBlurhashXComponents = 4;
constexpr int kBlurhashYComponents = 3;
constexpr std::size_t kPaletteColours = 5;

const char* const kUndecodable = "The image could not be decoded; it may be corrupt or truncated.";

struct GStrvDeleter {
  void operator()(gchar** strings) const { g_strfreev(strings); }
};
struct GFreeDeleter {
  void operator()(void* memory) const { g_free(memory); }
};

std::string describe(const VError& e) {
  std::string message = e.what();
  vips_error_clear();
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message;
}

// 8-bit sRGB, whatever came in: an embedded ICC profile is honoured (Adobe RGB, Display P3, CMYK, grey),
// otherwise libvips' own conversions apply (CMYK through its built-in profile, 16-bit and grey expanded).
// Alpha is kept; the result has 3 or 4 bands.
VImage to_srgb(VImage image) {
  if (image.get_typeof(VIPS_META_ICC_NAME) != 0) {
    try {
      image = image.icc_transform(
          "srgb",
          VImage::option()->set("embedded", true)->set("intent", VIPS_INTENT_PERCEPTUAL)->set("depth", 8));
    } catch (const VError&) {
      vips_error_clear();  // an unusable profile: fall back to the profile-less conversion below
    }
  }
  // 16-bit data labelled as 8-bit colour spaces (some TIFF writers) would be clipped, not scaled, by a cast.
  if (image.format() == VIPS_FORMAT_USHORT && image.interpretation() != VIPS_INTERPRETATION_RGB16 &&
      image.interpretation() != VIPS_INTERPRETATION_GREY16 &&
      image.interpretation() != VIPS_INTERPRETATION_CMYK) {
    image = image.copy(VImage::option()->set(
        "interpretation", image.bands() >= 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16));
  }
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR) {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  // Extra samples beyond alpha (a TIFF's ExtraSamples) have no place in sRGB outputs: the first four bands
  // stay, as RGBA, as libvips' own savers keep them.
  if (image.bands() > 4) image = image.extract_band(0, VImage::option()->set("n", 4));
  return image;
}

// A copy without any metadata but libvips' own bookkeeping. libvips 8.14 writes the source EXIF (GPS
// included) into WebP even with strip=true (DESIGN §2), so the fields must be gone before saving. The copy
// matters: metadata is shared with every image derived from the same source.
VImage without_metadata(const VImage& image) {
  VImage out = image.copy();
  std::unique_ptr<gchar*, GStrvDeleter> fields(vips_image_get_fields(out.get_image()));
  for (gchar** field = fields.get(); *field != nullptr; ++field) {
    if (std::string_view(*field) == "vips-sequential") continue;
    out.remove(*field);  // built-in properties (width, bands, …) are not metadata and stay
  }
  return out;
}

// Through webp_writer rather than libvips' webpsave (thumbnails and the full resolution alike): the same
// bitstream without a full-resolution RGB frame beside libwebp's YUV picture (a third less peak memory on large
// photos), and no metadata chunk at all. to_srgb has made the pixels what write_webp takes.
void save_webp(const VImage& image, const fs::path& path, int quality, int effort) {
  write_webp(image, path, WebpSettings{.quality = quality, .effort = effort});
}

// Full-resolution first frame, upright, 8-bit sRGB, no metadata, not yet decoded (a lazy pipeline).
VImage open_full_resolution(const fs::path& input, const ProbeResult& probe) {
  VImage image;
  if (std::max(probe.oriented_width(), probe.oriented_height()) > kWebpMaxDimension) {
    // WebP cannot hold it: fit the largest size it can (shrink-on-load, auto-rotated by thumbnail).
    image = VImage::thumbnail(input.c_str(), kWebpMaxDimension,
                              VImage::option()
                                  ->set("height", kWebpMaxDimension)
                                  ->set("size", VIPS_SIZE_DOWN)
                                  ->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
  } else if (probe.orientation == 1) {
    // Streams top to bottom: only a few scanlines of decoded pixels exist at once before the encoder.
    image = VImage::new_from_file(
        input.c_str(),
        VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
  } else {
    // Rotation reads out of order: random access, which libvips backs with a temporary file rather than
    // memory for large images (over its 100 MB disc threshold).
    image = VImage::new_from_file(
        input.c_str(),
        VImage::option()->set("access", VIPS_ACCESS_RANDOM)->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    image = image.autorot();
  }
  return without_metadata(to_srgb(image));
}

VImage derive(const VImage& source, Size target) {
  if (source.width() == target.width && source.height() == target.height) return source;
  return source
      .thumbnail_image(target.width, VImage::option()
                                         ->set("height", target.height)
                                         ->set("size", VIPS_SIZE_FORCE)
                                         ->set("no_rotate", true))
      .copy_memory();
}

struct Pixels {
  std::vector<std::uint8_t> data;
  int width = 0;
  int height = 0;
  int bands = 0;
};

Pixels read_pixels(const VImage& image) {
  std::size_t size = 0;
  std::unique_ptr<void, GFreeDeleter> memory(image.write_to_memory(&size));
  const auto* bytes = static_cast<const std::uint8_t*>(memory.get());
  return Pixels{std::vector<std::uint8_t>(bytes, bytes + size), image.width(), image.height(), image.bands()};
}

VImage fit(const VImage& image, int box) {
  return image.thumbnail_image(box, VImage::option()->set("height", box)->set("size", VIPS_SIZE_DOWN));
}

VImage on_white(const VImage& image) {
  if (!image.has_alpha()) return image;
  return image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}))
      .cast(VIPS_FORMAT_UCHAR);
}

nlohmann::json dominant_colours_json(const VImage& srgb) {
  const Pixels px = read_pixels(fit(srgb, kPaletteSide));
  std::vector<Rgb8> colours;
  colours.reserve(static_cast<std::size_t>(px.width) * static_cast<std::size_t>(px.height));
  const auto bands = static_cast<std::size_t>(px.bands);
  for (std::size_t i = 0; i + bands <= px.data.size(); i += bands) {
    if (bands == 4 && px.data[i + 3] < 128)
      continue;  // mostly transparent pixels are not part of the picture
    colours.push_back(Rgb8{px.data[i], px.data[i + 1], px.data[i + 2]});
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& entry : dominant_colours(colours, kPaletteColours)) out.push_back(to_hex(entry.colour));
  return out;
}

std::string blurhash_of(const VImage& srgb) {
  const Pixels px = read_pixels(on_white(fit(srgb, kBlurhashSide)));
  return blurhash_encode(px.data, px.width, px.height, px.bands, kBlurhashXComponents, kBlurhashYComponents);
}

std::string phash_of(const VImage& srgb) {
  const VImage grey =
      on_white(srgb)
          .thumbnail_image(kPhashSize,
                           VImage::option()->set("height", kPhashSize)->set("size", VIPS_SIZE_FORCE))
          .colourspace(VIPS_INTERPRETATION_B_W)
          .cast(VIPS_FORMAT_UCHAR);
  const Pixels px = read_pixels(grey);
  std::vector<double> values(px.data.begin(), px.data.end());
  return phash_hex(phash_from_grey(values));
}

ImageOutput describe_output(std::string name, std::string format, const VImage& image, const fs::path& path) {
  return ImageOutput{std::move(name), std::move(format),   image.width(),
                     image.height(),  fs::file_size(path), path};
}

}  // namespace

void ImageStageOptions::validate() const {
  if (thumbnail_quality < 1 || thumbnail_quality > 100)
    throw std::invalid_argument("thumbnail_quality must be in [1, 100]");
  if (optimized_quality < 1 || optimized_quality > 100)
    throw std::invalid_argument("optimized_quality must be in [1, 100]");
  if (webp_effort < 0 || webp_effort > 6) throw std::invalid_argument("webp_effort must be in [0, 6]");
  if (avif_quality < 1 || avif_quality > 100) throw std::invalid_argument("avif_quality must be in [1, 100]");
  if (avif_effort < 0 || avif_effort > 9) throw std::invalid_argument("avif_effort must be in [0, 9]");
  if (limits.max_pixels == 0 || limits.max_dimension < 1 || limits.max_frames < 1) {
    throw std::invalid_argument("image limits must be positive");
  }
}

Size fit_within(int width, int height, int box) {
  if (width <= box && height <= box) return Size{width, height};
  if (width >= height) {
    return Size{box, std::max(1, static_cast<int>(std::lround(static_cast<double>(height) * box / width)))};
  }
  return Size{std::max(1, static_cast<int>(std::lround(static_cast<double>(width) * box / height))), box};
}

ImageStageResult process_image(const fs::path& input, const ImageStageOptions& options,
                               const fs::path& output_dir) {
  options.validate();
  ImageStageResult result;
  result.probe = probe_image(input, options.limits);  // throws ImageRejected before any pixel is decoded
  const ProbeResult& probe = result.probe;
  fs::create_directories(output_dir);

  // The full-resolution WebP (step 3) does not depend on the thumbnails, and at one image at a time it and
  // the thumbnail pass each keep one core busy (libvips' thread pool is one thread per pipeline, and the WebP
  // encoder is serial), so it starts at once on a thread of its own: an image is done in about the time of its
  // full-resolution encode instead of that plus the thumbnails. The outputs are the same operations, and so the
  // same bytes. The future is always waited for before this function returns or throws.
  std::future<ImageOutput> optimized = std::async(std::launch::async, [&input, &probe, &options, &output_dir] {
    // 3. Full resolution. The pixels are decoded exactly once, streamed strip by strip into the YUV picture of
    //    the WebP encoder, which holds one frame (libwebp needs the whole picture).
    try {
      const fs::path path = output_dir / "optimized.webp";
      const VImage full = open_full_resolution(input, probe);
      save_webp(full, path, options.optimized_quality, options.webp_effort);
      return describe_output("optimized", "webp", full, path);
    } catch (const VError& e) {
      throw std::runtime_error("image stage: writing optimized.webp failed: " + describe(e));
    }
  });
  // Waits for the full-resolution encode whichever way the thumbnail pass ends.
  struct Join {
    std::future<ImageOutput>& future;
    ~Join() {
      if (future.valid()) future.wait();
    }
  } join{optimized};

  // 1. Thumbnails. libvips' thumbnail shrinks while decoding (JPEG DCT scaling, WebP/HEIF scaled decode), so
  //    the 1024 box costs a fraction of a full decode; it also auto-orients. 512 and 128 are derived from it.
  //    Decoding reads the whole file, so corrupt or truncated data is refused here (whatever the
  //    full-resolution pass meanwhile made of it: its result is then never looked at).
  std::array<VImage, kThumbnailBoxes.size()> thumbnails;
  try {
    VImage largest = VImage::thumbnail(input.c_str(), kThumbnailBoxes[0],
                                       VImage::option()
                                           ->set("height", kThumbnailBoxes[0])
                                           ->set("size", VIPS_SIZE_DOWN)
                                           ->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    thumbnails[0] = without_metadata(to_srgb(largest)).copy_memory();
  } catch (const VError& e) {
    throw ImageRejected(kUndecodable, describe(e));
  }
  try {
    for (std::size_t i = 1; i < kThumbnailBoxes.size(); ++i) {
      Size target = fit_within(probe.oriented_width(), probe.oriented_height(), kThumbnailBoxes[i]);
      target.width =
          std::min(target.width, thumbnails[i - 1].width());  // never upscale, whatever the rounding
      target.height = std::min(target.height, thumbnails[i - 1].height());
      thumbnails[i] = derive(thumbnails[i - 1], target);
    }

    for (std::size_t i = kThumbnailBoxes.size(); i-- > 0;) {
      const std::string name = "thumb-" + std::to_string(kThumbnailBoxes[i]);
      const fs::path path = output_dir / (name + ".webp");
      save_webp(thumbnails[i], path, options.thumbnail_quality, options.webp_effort);
      result.outputs.push_back(describe_output(name, "webp", thumbnails[i], path));
    }

    // 2. Picture metadata from the smallest oriented sRGB thumbnail (all methods downsample further anyway).
    const VImage& smallest = thumbnails.back();
    nlohmann::json metadata = {
        {"width", probe.oriented_width()},
        {"height", probe.oriented_height()},
        {"format", std::string(format_name(probe.format))},
        {"fileSize", probe.file_size},
        {"orientation", probe.orientation},
        {"hasAlpha", probe.has_alpha},
        {"colorSpace", probe.interpretation},
        {"frames", probe.frames},
        {"exif", exif_to_json(probe.exif)},
    };
    if (auto gps = gps_from_fields(probe.exif)) metadata["gps"] = {{"lat", gps->lat}, {"lon", gps->lon}};
    metadata["dominantColors"] = dominant_colours_json(smallest);
    metadata["blurhash"] = blurhash_of(smallest);
    metadata["phash"] = phash_of(smallest);
    result.metadata = std::move(metadata);
  } catch (const VError& e) {
    throw std::runtime_error("image stage: writing thumbnails failed: " + describe(e));
  }

  // The thumbnail pass proved that the data decodes, so a failure of the full-resolution pass is environmental
  // (disk, memory) and worth a retry: it is rethrown as the runtime_error it already is.
  result.outputs.push_back(optimized.get());

  if (options.avif) {
    try {
      // A sequential pipeline can be read once, so AVIF opens the file again (optional and rarely enabled).
      const fs::path path = output_dir / "optimized.avif";
      const VImage full = open_full_resolution(input, probe);
      full.heifsave(path.c_str(), VImage::option()
                                      ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                                      ->set("Q", options.avif_quality)
                                      ->set("effort", options.avif_effort)
                                      ->set("strip", true));
      result.outputs.push_back(describe_output("optimized", "avif", full, path));
    } catch (const VError& e) {
      throw std::runtime_error("image stage: writing optimized.avif failed: " + describe(e));
    }
  }
  return result;
}

EncodedImage analysis_jpeg(const fs::path& input, int max_dimension, int quality) {
  if (max_dimension < 1) throw std::invalid_argument("max_dimension must be positive");
  if (quality < 1 || quality > 100) throw std::invalid_argument("quality must be in [1, 100]");
  VImage image;
  try {
    image = VImage::thumbnail(input.c_str(), max_dimension,
                              VImage::option()
                                  ->set("height", max_dimension)
                                  ->set("size", VIPS_SIZE_DOWN)
                                  ->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    image = without_metadata(on_white(to_srgb(image))).copy_memory();
  } catch (const VError& e) {
    throw ImageRejected(kUndecodable, describe(e));
  }
  try {
    void* buffer = nullptr;
    std::size_t size = 0;
    image.write_to_buffer(".jpg", &buffer, &size,
                          VImage::option()->set("Q", quality)->set("strip", true)->set("optimize_coding", true));
    std::unique_ptr<void, GFreeDeleter> owned(buffer);
    return EncodedImage{std::string(static_cast<const char*>(buffer), size), "image/jpeg", image.width(),
                        image.height()};
  } catch (const VError& e) {
    throw std::runtime_error("AI input: JPEG encoding failed: " + describe(e));
  }
}

}  // namespace imageproc::imaging
