#pragma once
// Header-only inspection of an uploaded image: format, size, frames, orientation, EXIF — no pixel is decoded.
// This is where the limits are enforced (DESIGN §4: 422 for undecodable or over the pixel limit), so that a
// decompression bomb is refused before libvips allocates anything for its pixels.
//
// Needs a live VipsRuntime (untrusted loaders blocked). Thread-safe: calls share no state of ours.

#include <cstdint>
#include <filesystem>
#include <string>

#include "imaging/exif.hpp"
#include "imaging/format.hpp"
#include "imaging/limits.hpp"

namespace imageproc::imaging {

struct ProbeResult {
  int width = 0;   // stored width, before EXIF orientation; one frame
  int height = 0;  // stored height of one frame (libvips' page height), before EXIF orientation
  int frames = 1;  // pages/frames in the file (animated GIF/WebP, multi-image HEIF/TIFF)
  ImageFormat format = ImageFormat::Unknown;
  std::string loader;   // libvips loader nickname: "jpegload", "pngload", ...
  int orientation = 1;  // EXIF orientation 1–8 (1 when absent or invalid)
  bool has_alpha = false;
  std::string interpretation;  // libvips' name for the colour space: "srgb", "cmyk", "b-w", "rgb16", ...
  bool has_icc_profile = false;
  std::uint64_t file_size = 0;
  ExifFields exif;  // "exif-ifd0-Make" → libvips string, see exif.hpp

  // Size once EXIF orientation is applied (orientations 5–8 swap the sides).
  int oriented_width() const { return orientation >= 5 ? height : width; }
  int oriented_height() const { return orientation >= 5 ? width : height; }
  std::uint64_t total_pixels() const {
    return static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height) *
           static_cast<std::uint64_t>(frames);
  }
};

// Reads the header of `path` and enforces `limits`. Only jpegload, pngload, webpload, gifload, tiffload and
// heifload are accepted (HEIF files are reported as Heif or Avif by their compression). Throws ImageRejected
// (with a public message) for unknown, undecodable, disallowed or over-limit files; std::filesystem_error
// when the file cannot be read at all.
ProbeResult probe_image(const std::filesystem::path& path, const ImageLimits& limits);

}  // namespace imageproc::imaging
