#pragma once
// The image stage's processing core (DESIGN §7): one encoded file in, encoded outputs + metadata out.
// No database, queue or storage code: the worker fetches the original to a temp file, calls process_image and
// uploads what it returns.
//
// Guarantees:
//  - limits are checked on the header first (probe_image); nothing is decoded for a refused file;
//  - outputs are auto-oriented by EXIF, converted to 8-bit sRGB, and carry no EXIF/XMP/IPTC/ICC metadata;
//  - thumbnails fit 128/512/1024 px boxes and are never upscaled;
//  - for animated GIF/WebP (and multi-image HEIF/TIFF) only the first frame is processed, but every frame
//    counts toward the pixel limit.
// Needs a live VipsRuntime. Thread-safe (independent calls share nothing of ours); memory per call is bounded
// by one full-resolution frame inside the WebP encoder plus small thumbnails (see process_image). A call keeps
// up to two cores busy: the full-resolution encode runs on a thread of its own beside the thumbnails.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imaging/limits.hpp"
#include "imaging/probe.hpp"

namespace imageproc::imaging {

struct ImageStageOptions {
  ImageLimits limits;
  int thumbnail_quality = 75;  // WebP Q of thumb-128/512/1024
  int optimized_quality = 80;  // WebP Q of the full-resolution output
  int webp_effort = 4;         // libwebp method 0–6 (`cwebp -m`); 4 balances size and time
  bool avif = false;           // also write optimized.avif (slow: AV1 at full resolution)
  int avif_quality = 50;       // AVIF Q (libvips' default)
  int avif_effort = 4;         // AV1 encoder speed/effort 0–9
  void validate() const;       // throws std::invalid_argument naming the bad field
};

struct ImageOutput {
  std::string name;    // "thumb-128", "thumb-512", "thumb-1024", "optimized"
  std::string format;  // "webp" or "avif"
  int width = 0;
  int height = 0;
  std::uint64_t bytes = 0;
  std::filesystem::path path;  // inside output_dir: "<name>.<format>"
};

struct ImageStageResult {
  ProbeResult probe;
  std::vector<ImageOutput> outputs;  // thumb-128, thumb-512, thumb-1024, optimized (webp), [optimized (avif)]
  // DESIGN §4 `metadata`: {width, height (oriented), format, fileSize, orientation, hasAlpha, colorSpace,
  // frames, exif: {Tag: value}, gps?: {lat, lon}, dominantColors: ["#RRGGBB"], blurhash, phash}
  nlohmann::json metadata;
};

// Processes `input` into `output_dir` (created if missing; existing files of the same names are replaced).
// Throws ImageRejected for inputs that can never succeed (unknown, corrupt, truncated, over a limit) and
// std::runtime_error / std::filesystem_error for environmental failures (disk full, unwritable directory)
// that a retry may fix.
ImageStageResult process_image(const std::filesystem::path& input, const ImageStageOptions& options,
                               const std::filesystem::path& output_dir);

// What the AI stage sends to an analyzer (DESIGN §7): the first frame, upright, 8-bit sRGB, alpha flattened onto
// white, fitted into max_dimension × max_dimension (never upscaled), JPEG at `quality`, with no metadata at all
// (no EXIF, GPS, XMP, IPTC or ICC). Throws ImageRejected when the input cannot be decoded.
struct EncodedImage {
  std::string bytes;
  std::string mime_type;  // "image/jpeg"
  int width = 0;
  int height = 0;
};
EncodedImage analysis_jpeg(const std::filesystem::path& input, int max_dimension, int quality = 85);

// The size a w×h image takes when fitted into a box×box square without upscaling (at least 1×1).
struct Size {
  int width = 0;
  int height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};
Size fit_within(int width, int height, int box);

}  // namespace imageproc::imaging
