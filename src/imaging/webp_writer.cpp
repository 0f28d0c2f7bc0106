#include "imaging/webp_writer.hpp"

#include <webp/encode.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace imageproc::imaging {
namespace {

// Rows converted per step; even, because libwebp averages chroma over 2×2 blocks (only the image's last
// strip may be odd, as the image's last row pair is for libwebp).
constexpr int kStripRows = 16;

struct Picture {
  WebPPicture pic{};
  Picture() {
    if (!WebPPictureInit(&pic)) throw std::runtime_error("WebP: libwebp version mismatch");
  }
  ~Picture() { WebPPictureFree(&pic); }
  Picture(const Picture&) = delete;
  Picture& operator=(const Picture&) = delete;
};

void copy_rows(std::uint8_t* to, int to_stride, const std::uint8_t* from, int from_stride, int width, int rows) {
  for (int y = 0; y < rows; ++y) {
    std::memcpy(to + static_cast<std::size_t>(y) * static_cast<std::size_t>(to_stride),
                from + static_cast<std::size_t>(y) * static_cast<std::size_t>(from_stride),
                static_cast<std::size_t>(width));
  }
}

int file_writer(const std::uint8_t* data, std::size_t size, const WebPPicture* picture) {
  auto* out = static_cast<std::ofstream*>(picture->custom_ptr);
  out->write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return out->good() ? 1 : 0;
}

}  // namespace

void write_webp(const vips::VImage& image, const std::filesystem::path& path, const WebpSettings& settings) {
  const int width = image.width();
  const int height = image.height();
  const int bands = image.bands();
  if (image.format() != VIPS_FORMAT_UCHAR || (bands != 3 && bands != 4)) {
    throw std::invalid_argument("write_webp needs 8-bit RGB or RGBA pixels");
  }
  WebPConfig config;
  if (!WebPConfigPreset(&config, WEBP_PRESET_DEFAULT, static_cast<float>(settings.quality))) {
    throw std::runtime_error("WebP: libwebp version mismatch");
  }
  config.method = settings.effort;
  config.alpha_quality = 100;
  if (!WebPValidateConfig(&config)) throw std::invalid_argument("WebP: invalid quality or effort");

  Picture picture;
  WebPPicture& pic = picture.pic;
  pic.width = width;
  pic.height = height;
  pic.use_argb = 0;
  pic.colorspace = bands == 4 ? WEBP_YUV420A : WEBP_YUV420;
  if (!WebPPictureAlloc(&pic)) throw std::runtime_error("WebP: out of memory for the picture");

  const vips::VRegion region = vips::VRegion::new_from_image(image);
  const int uv_width = (width + 1) / 2;
  for (int top = 0; top < height; top += kStripRows) {
    const int rows = std::min(kStripRows, height - top);
    region.prepare(0, top, width, rows);  // computes these rows of the pipeline (decode, colour, …)
    Picture strip;
    strip.pic.width = width;
    strip.pic.height = rows;
    strip.pic.use_argb = 0;
    const auto stride = static_cast<int>(region.stride());
    const int imported = bands == 4 ? WebPPictureImportRGBA(&strip.pic, region.addr(), stride)
                                    : WebPPictureImportRGB(&strip.pic, region.addr(), stride);
    if (!imported) throw std::runtime_error("WebP: out of memory converting to YUV");
    copy_rows(pic.y + static_cast<std::size_t>(top) * pic.y_stride, pic.y_stride, strip.pic.y,
              strip.pic.y_stride, width, rows);
    const int uv_top = top / 2;
    const int uv_rows = (rows + 1) / 2;
    copy_rows(pic.u + static_cast<std::size_t>(uv_top) * pic.uv_stride, pic.uv_stride, strip.pic.u,
              strip.pic.uv_stride, uv_width, uv_rows);
    copy_rows(pic.v + static_cast<std::size_t>(uv_top) * pic.uv_stride, pic.uv_stride, strip.pic.v,
              strip.pic.uv_stride, uv_width, uv_rows);
    if (bands == 4) {
      std::uint8_t* alpha = pic.a + static_cast<std::size_t>(top) * pic.a_stride;
      if (strip.pic.a != nullptr) {
        copy_rows(alpha, pic.a_stride, strip.pic.a, strip.pic.a_stride, width, rows);
      } else {
        // An opaque strip gets no alpha plane from libwebp (and plain chroma averaging, as each opaque row
        // pair of a whole-image import does); WebPEncode drops an alpha plane that is opaque throughout.
        for (int y = 0; y < rows; ++y) std::memset(alpha + static_cast<std::size_t>(y) * pic.a_stride, 0xff, width);
      }
    }
  }

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("WebP: cannot create " + path.string());
  pic.writer = file_writer;
  pic.custom_ptr = &out;
  const bool encoded = WebPEncode(&config, &pic) != 0;
  out.close();
  if (!encoded || !out) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);  // no truncated file for anyone to mistake for an output
    if (!encoded) {
      throw std::runtime_error("WebP: encoding failed (libwebp error " + std::to_string(pic.error_code) + ")");
    }
    throw std::runtime_error("WebP: writing " + path.string() + " failed");
  }
}

}  // namespace imageproc::imaging
