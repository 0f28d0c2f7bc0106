#pragma once
// Perceptual hash (pHash, DCT variant): images that look alike get hashes a few bits apart.
// Pure, thread-safe, no libvips include.

#include <cstdint>
#include <span>
#include <string>

namespace imageproc::imaging {

inline constexpr int kPhashSize = 32;  // input side: a 32×32 greyscale image

// 2-D DCT-II of the 32×32 luminance image, then the 8×8 block of lowest frequencies *after* the DC row and
// column (coefficients [1..8]×[1..8], as the original pHash does): bit 63-i is set when coefficient i
// (row-major) is above the block's median. `grey` holds kPhashSize² values, row-major (any consistent scale).
// Throws std::invalid_argument on a wrong size.
std::uint64_t phash_from_grey(std::span<const double> grey);

// 16 lower-case hex digits, most significant first.
std::string phash_hex(std::uint64_t hash);

// Number of differing bits.
int hamming_distance(std::uint64_t a, std::uint64_t b);

}  // namespace imageproc::imaging
