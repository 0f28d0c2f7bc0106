#pragma once
// The `local` analyzer's decisions (DESIGN §7): measurements of one image → tags and a one-sentence summary.
// Pure functions with no libvips or Tesseract include; deterministic and thread-safe. local_analyzer.cpp
// measures (decode, OCR, downscale), this file decides, so every rule can be tested on made-up numbers or
// pixel buffers. Faces are not among the facts: detecting them would need OpenCV (or a model), which this
// offline provider deliberately does not depend on.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ai/analyzer.hpp"
#include "imaging/colour.hpp"

namespace imageproc::ai {

// Measured on a small RGB copy (≈128 px longest side) of the image; all values in [0, 1] unless noted.
struct PixelFacts {
  double mean_luma = 0;          // mean Rec. 709 luma of the (gamma-encoded) sRGB values
  double luma_stddev = 0;        // RMS contrast; at most 0.5
  double luma_range = 0;         // 1st to 99th percentile of luma (the analyzer re-measures it at full
                                 // resolution from the 0.1th to 99.9th, so sparse print on white counts)
  double colour_stddev = 0;      // largest of the R, G, B standard deviations: ~0 for a uniform image
  double mean_saturation = 0;    // mean HSV saturation
  double flat_share = 0;         // neighbour pairs (right and below) equal within kFlatTolerance per channel
  double edge_density = 0;       // pixels whose luma gradient |dx| + |dy| exceeds kEdgeThreshold
  double top_colours_share = 0;  // pixels in the 8 most frequent colours quantised to 5 bits per channel
  int distinct_colours = 0;      // occupied colours quantised to 5 bits per channel (count, ≤ pixels)
};

inline constexpr int kFlatTolerance = 2;          // 8-bit levels: absorbs JPEG noise left after downscaling
inline constexpr double kEdgeThreshold = 0.25;    // luma |dx| + |dy|: a visible edge, not shading or noise
inline constexpr double kMinWordConfidence = 60;  // Tesseract word confidence (0–100) of a credible word

// Measures `pixels` (row-major, width × height). Empty or mismatched input gives all-zero facts.
PixelFacts measure_pixels(std::span<const imaging::Rgb8> pixels, int width, int height);

// Whether an OCR "word" is one: it holds a letter or digit (Tesseract also returns blanks and lone
// punctuation, confidently, from textures). Beyond ASCII, code points from U+00C0 on count as letters except
// the punctuation and symbol blocks.
bool is_word(std::string_view utf8);

// What OCR found, counting only credible words (confidence ≥ kMinWordConfidence).
struct TextFacts {
  int words = 0;               // credible words
  int lines = 0;               // text lines holding at least one credible word
  double mean_confidence = 0;  // mean Tesseract confidence of the credible words, 0–100
  double area_share = 0;       // summed bounding boxes of those lines / image area
};

struct NamedColour {
  std::string name;  // one of colour_names()
  double share = 0;  // of the image's pixels
};

// The vocabulary colour_name() maps into: red, orange, yellow, green, blue, purple, pink, brown, black,
// white, gray.
const std::vector<std::string>& colour_names();

// A human name for an sRGB colour (HSL hue sectors; lightness and saturation for
// black/white/gray/brown/pink).
std::string colour_name(imaging::Rgb8 colour);

// Palette (imaging::dominant_colours over `total_pixels` pixels) → names with their summed shares, largest
// first (ties by name).
std::vector<NamedColour> name_palette(std::span<const imaging::PaletteEntry> palette,
                                      std::size_t total_pixels);

struct ImageFacts {
  int width = 0;
  int height = 0;
  PixelFacts pixels;
  std::vector<NamedColour> colours;  // name_palette() of the dominant colours
  TextFacts text;
};

// How graphic-like (flat colour areas, few colours) the pixels are, in [0, 1]; below 0.5 reads as a photo.
double graphic_likelihood(const PixelFacts& pixels);

// Whether width:height is that of a common screen (16:9, 16:10, 4:3, and phones' 18–20:9, either way round),
// within 2 %. Cameras shoot 3:2 and 4:3 too, so this only separates screenshots from other flat pictures.
bool screen_aspect(int width, int height);

// Whether OCR found text worth reporting (noise in photos yields a stray credible "word" now and then).
bool has_text(const TextFacts& text);

// Tags (at most kMaxTags, confidences in [0, 1], unsorted) and the summary sentence for the facts. The
// vocabulary: blank, photo, graphic, screenshot, document, text, landscape, portrait, square, dark, bright,
// low contrast, high contrast, and colour_names().
std::vector<Tag> tags_for(const ImageFacts& facts);
std::string summary_for(const ImageFacts& facts);

}  // namespace imageproc::ai
