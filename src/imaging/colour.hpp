#pragma once
// Colour maths for image metadata: sRGB ↔ linear ↔ CIE L*a*b* (D65) and a dominant-colour palette.
// Pure functions, no libvips include; thread-safe; deterministic (any randomness is seeded).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace imageproc::imaging {

struct Rgb8 {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb8&, const Rgb8&) = default;
};

struct Lab {
  double l = 0, a = 0, b = 0;
};

// sRGB transfer function on [0, 1] values.
double srgb_to_linear(double encoded);
double linear_to_srgb(double linear);

Lab rgb_to_lab(Rgb8 colour);

// "#RRGGBB", upper-case hex.
std::string to_hex(Rgb8 colour);

struct PaletteEntry {
  Rgb8 colour;            // mean sRGB value of the cluster's pixels
  std::size_t count = 0;  // pixels in the cluster
};

// Dominant colours by k-means in L*a*b* (k-means++ seeding from a fixed seed, then Lloyd iterations), over
// the given pixels (callers downsample to ≤ 64×64 first; the cost is O(pixels × k × iterations)). Clusters
// closer than a just-noticeable difference are merged, empty ones dropped; the result is ordered by
// population, largest first, ties broken by colour, and has at most `max_colours` entries (fewer when the
// image has fewer distinct colours). Clusters under `min_share` of the pixels are dropped as noise (edge
// blends).
std::vector<PaletteEntry> dominant_colours(std::span<const Rgb8> pixels, std::size_t max_colours = 5,
                                           double min_share = 0.01);

}  // namespace imageproc::imaging
