#include "imaging/blurhash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "imaging/colour.hpp"

namespace imageproc::imaging {
namespace {

constexpr std::string_view kBase83 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void append_base83(std::string& out, int value, int length) {
  for (int i = 1; i <= length; ++i) {
    int divisor = 1;
    for (int k = 0; k < length - i; ++k) divisor *= 83;
    out.push_back(kBase83[static_cast<std::size_t>((value / divisor) % 83)]);
  }
}

// The reference rounds with trunc(x * 255 + 0.5) after clamping to [0, 1].
int linear_to_srgb_byte(double linear) {
  return static_cast<int>(std::trunc(linear_to_srgb(std::clamp(linear, 0.0, 1.0)) * 255 + 0.5));
}

double sign_pow(double value, double exponent) {
  return std::copysign(std::pow(std::abs(value), exponent), value);
}

int quantise_ac(double value, double maximum) {
  return static_cast<int>(
      std::max(0.0, std::min(18.0, std::floor(sign_pow(value / maximum, 0.5) * 9 + 9.5))));
}

}  // namespace

std::string blurhash_encode(std::span<const std::uint8_t> pixels, int width, int height, int channels,
                            int x_components, int y_components) {
  if (x_components < 1 || x_components > 9 || y_components < 1 || y_components > 9) {
    throw std::invalid_argument("blurhash: components must be in [1, 9]");
  }
  if (width < 1 || height < 1 || (channels != 3 && channels != 4) ||
      pixels.size() < static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                          static_cast<std::size_t>(channels)) {
    throw std::invalid_argument("blurhash: pixel buffer does not match its dimensions");
  }

  // Linearise once (the reference does it per basis function; the sums are the same).
  std::array<double, 256> to_linear{};
  for (int i = 0; i < 256; ++i) to_linear[static_cast<std::size_t>(i)] = srgb_to_linear(i / 255.0);
  const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  std::vector<std::array<double, 3>> linear(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < 3; ++c)
      linear[i][c] = to_linear[pixels[i * static_cast<std::size_t>(channels) + c]];
  }

  std::vector<std::array<double, 3>> factors;
  factors.reserve(static_cast<std::size_t>(x_components * y_components));
  for (int cy = 0; cy < y_components; ++cy) {
    for (int cx = 0; cx < x_components; ++cx) {
      const double normalisation = (cx == 0 && cy == 0) ? 1.0 : 2.0;
      std::array<double, 3> sum{};
      for (int y = 0; y < height; ++y) {
        const double basis_y = std::cos(std::numbers::pi * cy * y / height);
        for (int x = 0; x < width; ++x) {
          const double basis = normalisation * std::cos(std::numbers::pi * cx * x / width) * basis_y;
          const auto& px = linear[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                                  static_cast<std::size_t>(x)];
          for (std::size_t c = 0; c < 3; ++c) sum[c] += basis * px[c];
        }
      }
      const double scale = 1.0 / static_cast<double>(n);
      factors.push_back({sum[0] * scale, sum[1] * scale, sum[2] * scale});
    }
  }

  std::string hash;
  append_base83(hash, (x_components - 1) + (y_components - 1) * 9, 1);

  double maximum = 1;
  if (factors.size() > 1) {
    double actual_maximum = 0;
    for (std::size_t i = 1; i < factors.size(); ++i) {
      for (double v : factors[i]) actual_maximum = std::max(actual_maximum, std::abs(v));
    }
    const int quantised =
        static_cast<int>(std::max(0.0, std::min(82.0, std::floor(actual_maximum * 166 - 0.5))));
    maximum = (quantised + 1) / 166.0;
    append_base83(hash, quantised, 1);
  } else {
    append_base83(hash, 0, 1);
  }

  const auto& dc = factors.front();
  append_base83(
      hash,
      (linear_to_srgb_byte(dc[0]) << 16) + (linear_to_srgb_byte(dc[1]) << 8) + linear_to_srgb_byte(dc[2]), 4);
  for (std::size_t i = 1; i < factors.size(); ++i) {
    const auto& f = factors[i];
    append_base83(
        hash,
        quantise_ac(f[0], maximum) * 19 * 19 + quantise_ac(f[1], maximum) * 19 + quantise_ac(f[2], maximum),
        2);
  }
  return hash;
}

}  // namespace imageproc::imaging
