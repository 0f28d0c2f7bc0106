#pragma once
// Lossy WebP encoding of a libvips image straight into libwebp, converting to the encoder's YUV(A) planes a
// strip of rows at a time (docs/benchmarks.md, Memory).
//
// libvips 8.14's webpsave first renders the whole image into an RGB(A) frame and only then converts it to
// the YUV picture libwebp encodes, so both live at once: 150 MB of frame beside 75 MB of YUV and libwebp's
// own ~110 MB for a 50 MP photo. Here the pixels go from the (lazy, usually sequential) pipeline to the YUV
// planes 16 rows at a time, with libwebp's own RGB→YUV conversion on each strip; rows are converted in pairs
// either way, so the planes, and the VP8/ALPH bitstream, are exactly those of webpsave (and of
// `cwebp -q Q -m EFFORT`). The file holds no metadata at all (webpsave 8.14 adds a small EXIF chunk of its
// own even when stripping).
//
// Thread-safe: each call has its own region and picture.

#include <filesystem>
#include <vips/vips8>

namespace imageproc::imaging {

struct WebpSettings {
  int quality = 75;  // Q 0–100 (libwebp's preset "default")
  int effort = 4;    // method 0–6 (`cwebp -m`)
};

// Encodes an 8-bit image of 3 (sRGB) or 4 (sRGB + alpha) bands to `path` (replaced if present). Evaluates the
// pipeline top to bottom once, so a sequential-access image is fine. Throws std::invalid_argument for any other
// pixel layout (the caller converts first), vips::VError when computing the pixels fails and std::runtime_error
// when libwebp or the file fails; on failure no file is left at `path`.
void write_webp(const vips::VImage& image, const std::filesystem::path& path, const WebpSettings& settings);

}  // namespace imageproc::imaging
