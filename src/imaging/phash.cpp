#include "imaging/phash.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace imageproc::imaging {
namespace {

constexpr int kBlock = 8;
constexpr std::size_t kN = kPhashSize;

// cos((2x + 1) u π / 2N) for the separable DCT-II; scaling is irrelevant to a median comparison.
std::array<double, kN * kN> dct_basis() {
  std::array<double, kN * kN> basis{};
  for (std::size_t u = 0; u < kN; ++u) {
    for (std::size_t x = 0; x < kN; ++x) {
      basis[u * kN + x] = std::cos((2.0 * static_cast<double>(x) + 1.0) * static_cast<double>(u) *
                                   std::numbers::pi / (2.0 * static_cast<double>(kN)));
    }
  }
  return basis;
}

}  // namespace

std::uint64_t phash_from_grey(std::span<const double> grey) {
  if (grey.size() != kN * kN) throw std::invalid_argument("phash: expected a 32x32 greyscale image");
  static const auto basis = dct_basis();  // immutable after thread-safe initialisation

  // Only rows/columns 1..8 of the output are needed: rows first (u), then columns (v).
  constexpr std::size_t kFirst = 1, kLast = kBlock;  // inclusive
  std::vector<double> rows((kLast + 1) * kN, 0.0);   // rows[u][y] = Σx grey[y][x] · basis[u][x]
  for (std::size_t u = kFirst; u <= kLast; ++u) {
    for (std::size_t y = 0; y < kN; ++y) {
      double sum = 0;
      for (std::size_t x = 0; x < kN; ++x) sum += grey[y * kN + x] * basis[u * kN + x];
      rows[u * kN + y] = sum;
    }
  }
  std::array<double, kBlock * kBlock> block{};
  for (std::size_t v = kFirst; v <= kLast; ++v) {    // vertical frequency
    for (std::size_t u = kFirst; u <= kLast; ++u) {  // horizontal frequency
      double sum = 0;
      for (std::size_t y = 0; y < kN; ++y) sum += rows[u * kN + y] * basis[v * kN + y];
      block[(v - kFirst) * kBlock + (u - kFirst)] = sum;
    }
  }

  std::array<double, kBlock* kBlock> sorted = block;
  std::nth_element(sorted.begin(), sorted.begin() + 32, sorted.end());
  const double upper = sorted[32];
  const double lower = *std::max_element(sorted.begin(), sorted.begin() + 32);
  const double median = (upper + lower) / 2;

  std::uint64_t hash = 0;
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (block[i] > median) hash |= std::uint64_t{1} << (63 - i);
  }
  return hash;
}

std::string phash_hex(std::uint64_t hash) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

int hamming_distance(std::uint64_t a, std::uint64_t b) {
  return std::popcount(a ^ b);
}

}  // namespace imageproc::imaging
