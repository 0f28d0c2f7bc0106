#include "imaging/probe.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <string_view>
#include <vips/vips8>

namespace imageproc::imaging {
namespace {

struct AllowedLoader {
  std::string_view nickname;
  ImageFormat format;
};
constexpr std::array<AllowedLoader, 6> kAllowedLoaders{{
    {"jpegload", ImageFormat::Jpeg},
    {"pngload", ImageFormat::Png},
    {"webpload", ImageFormat::WebP},
    {"gifload", ImageFormat::Gif},
    {"tiffload", ImageFormat::Tiff},
    {"heifload", ImageFormat::Heif},
}};

const char* const kNotAnImage = "The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF).";
const char* const kUndecodable = "The image could not be decoded; it may be corrupt or truncated.";

std::string take_vips_error() {
  std::string message = vips_error_buffer();
  vips_error_clear();
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message;
}

struct GStrvDeleter {
  void operator()(gchar** strings) const { g_strfreev(strings); }
};

}  // namespace

ProbeResult probe_image(const std::filesystem::path& path, const ImageLimits& limits) {
  ProbeResult result;
  result.file_size = std::filesystem::file_size(path);

  // Which loader would libvips pick? Untrusted loaders are invisible here once VipsRuntime blocked them.
  const char* loader_type = vips_foreign_find_load(path.c_str());
  if (loader_type == nullptr) throw ImageRejected(kNotAnImage, "no loader: " + take_vips_error());
  const char* nickname = vips_nickname_find(g_type_from_name(loader_type));
  result.loader = nickname != nullptr ? nickname : loader_type;
  const auto allowed = std::find_if(kAllowedLoaders.begin(), kAllowedLoaders.end(),
                                    [&](const AllowedLoader& l) { return l.nickname == result.loader; });
  if (allowed == kAllowedLoaders.end())
    throw ImageRejected(kNotAnImage, "loader not allowed: " + result.loader);
  result.format = allowed->format;

  // A sequential open parses the header (and EXIF) only; pixels are decoded when something reads them.
  vips::VImage image;
  try {
    image = vips::VImage::new_from_file(path.c_str(),
                                        vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
  } catch (const vips::VError& e) {
    vips_error_clear();
    throw ImageRejected(kUndecodable, std::string("header: ") + e.what());
  }

  result.width = image.width();
  result.height = image.height();
  result.frames =
      image.get_typeof(VIPS_META_N_PAGES) != 0 ? std::max(1, image.get_int(VIPS_META_N_PAGES)) : 1;
  result.has_alpha = image.has_alpha();
  result.interpretation = vips_enum_nick(VIPS_TYPE_INTERPRETATION, image.interpretation());
  result.has_icc_profile = image.get_typeof(VIPS_META_ICC_NAME) != 0;
  if (image.get_typeof(VIPS_META_ORIENTATION) != 0) {
    const int orientation = image.get_int(VIPS_META_ORIENTATION);
    result.orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
  }
  if (result.format == ImageFormat::Heif && image.get_typeof("heif-compression") != 0 &&
      std::string_view(image.get_string("heif-compression")) == "av1") {
    result.format = ImageFormat::Avif;
  }

  std::unique_ptr<gchar*, GStrvDeleter> fields(vips_image_get_fields(image.get_image()));
  for (gchar** field = fields.get(); *field != nullptr; ++field) {
    const std::string_view name = *field;
    if (!name.starts_with("exif-ifd") || image.get_typeof(*field) != VIPS_TYPE_REF_STRING) continue;
    result.exif.emplace_back(name, image.get_string(*field));
  }

  if (result.width < 1 || result.height < 1) throw ImageRejected(kUndecodable, "empty image");
  if (result.width > limits.max_dimension || result.height > limits.max_dimension) {
    throw ImageRejected("The image is too large: each side may be at most " +
                            std::to_string(limits.max_dimension) + " pixels.",
                        std::to_string(result.width) + "x" + std::to_string(result.height));
  }
  if (result.frames > limits.max_frames) {
    throw ImageRejected("The image has too many frames (at most " + std::to_string(limits.max_frames) + ").",
                        std::to_string(result.frames) + " frames");
  }
  if (result.total_pixels() > limits.max_pixels) {
    throw ImageRejected("The image is too large: at most " + std::to_string(limits.max_pixels / 1'000'000) +
                            " megapixels (all frames together) are accepted.",
                        std::to_string(result.width) + "x" + std::to_string(result.height) + "x" +
                            std::to_string(result.frames) + " pixels");
  }
  return result;
}

}  // namespace imageproc::imaging
