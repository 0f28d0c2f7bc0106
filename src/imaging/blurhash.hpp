#pragma once
// BlurHash encoder (https://blurha.sh, Wolt's reference algorithm): a short base-83 string describing a
// blurred placeholder of an image. Pure, thread-safe, no libvips include.
//
// Matches the reference C/Swift/Kotlin encoders, which scale AC components by their largest *absolute* value.
// (The TypeScript package uses the largest signed value instead; the two agree whenever that value is
// positive.)

#include <cstdint>
#include <span>
#include <string>

namespace imageproc::imaging {

// Encodes `width`×`height` interleaved 8-bit sRGB pixels with `channels` bytes per pixel (3 or 4; a 4th
// channel is ignored — callers flatten transparency first) using x_components × y_components basis functions,
// each in [1, 9]. Cost is O(width × height × x_components × y_components): downsample to ≤ 32 px first.
// Throws std::invalid_argument on bad sizes or component counts.
std::string blurhash_encode(std::span<const std::uint8_t> pixels, int width, int height, int channels,
                            int x_components = 4, int y_components = 3);

}  // namespace imageproc::imaging
