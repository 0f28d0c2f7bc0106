#include "imaging/colour.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <tuple>

namespace imageproc::imaging {
namespace {

// D65 reference white (CIE 1931 2°), the white point of sRGB.
constexpr double kXn = 0.95047;
constexpr double kYn = 1.0;
constexpr double kZn = 1.08883;

constexpr int kMaxIterations = 30;
constexpr double kMergeDistance = 2.3;  // ΔE*ab of one just-noticeable difference
constexpr std::uint32_t kSeed = 0x1A2B3C4Du;

double lab_f(double t) {
  constexpr double kDelta = 6.0 / 29.0;
  return t > kDelta * kDelta * kDelta ? std::cbrt(t) : t / (3 * kDelta * kDelta) + 4.0 / 29.0;
}

double distance2(const Lab& x, const Lab& y) {
  const double dl = x.l - y.l, da = x.a - y.a, db = x.b - y.b;
  return dl * dl + da * da + db * db;
}

// Uniform double in [0, 1) from mt19937 bits; std::uniform_real_distribution is implementation-defined, and
// the palette must be the same on every platform.
double next_unit(std::mt19937& rng) {
  return static_cast<double>(rng()) / 4294967296.0;
}

struct Cluster {
  Lab centre;
  double sum_l = 0, sum_a = 0, sum_b = 0;
  double sum_r = 0, sum_g = 0, sum_bl = 0;
  std::size_t count = 0;
};

}  // namespace

double srgb_to_linear(double v) {
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

double linear_to_srgb(double v) {
  v = std::clamp(v, 0.0, 1.0);
  return v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1.0 / 2.4) - 0.055;
}

Lab rgb_to_lab(Rgb8 colour) {
  const double r = srgb_to_linear(colour.r / 255.0);
  const double g = srgb_to_linear(colour.g / 255.0);
  const double b = srgb_to_linear(colour.b / 255.0);
  const double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  const double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  const double fx = lab_f(x / kXn), fy = lab_f(y / kYn), fz = lab_f(z / kZn);
  return Lab{116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)};
}

std::string to_hex(Rgb8 colour) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02X%02X%02X", colour.r, colour.g, colour.b);
  return buffer;
}

std::vector<PaletteEntry> dominant_colours(std::span<const Rgb8> pixels, std::size_t max_colours,
                                           double min_share) {
  if (pixels.empty() || max_colours == 0) return {};
  std::vector<Lab> lab(pixels.size());
  std::transform(pixels.begin(), pixels.end(), lab.begin(), rgb_to_lab);

  // k-means++ seeding: each next centre is drawn with probability ∝ squared distance to the nearest centre.
  // Stops early when every pixel already coincides with a centre (an image with fewer colours than k).
  std::mt19937 rng(kSeed);
  std::vector<Lab> centres{lab[rng() % lab.size()]};
  std::vector<double> nearest(lab.size());
  while (centres.size() < max_colours) {
    double total = 0;
    for (std::size_t i = 0; i < lab.size(); ++i) {
      double best = distance2(lab[i], centres.front());
      for (const auto& c : centres) best = std::min(best, distance2(lab[i], c));
      nearest[i] = best;
      total += best;
    }
    if (total <= 0) break;
    double target = next_unit(rng) * total;
    std::size_t chosen = lab.size() - 1;
    for (std::size_t i = 0; i < lab.size(); ++i) {
      target -= nearest[i];
      if (target < 0 && nearest[i] > 0) {
        chosen = i;
        break;
      }
    }
    centres.push_back(lab[chosen]);
  }

  // Lloyd iterations.
  std::vector<std::size_t> assignment(lab.size(), 0);
  std::vector<Cluster> clusters(centres.size());
  for (int iteration = 0; iteration < kMaxIterations; ++iteration) {
    for (std::size_t k = 0; k < clusters.size(); ++k) clusters[k] = Cluster{centres[k]};
    bool changed = iteration == 0;
    for (std::size_t i = 0; i < lab.size(); ++i) {
      std::size_t best = 0;
      double best_d = distance2(lab[i], centres[0]);
      for (std::size_t k = 1; k < centres.size(); ++k) {
        const double d = distance2(lab[i], centres[k]);
        if (d < best_d) best_d = d, best = k;
      }
      if (assignment[i] != best) changed = true;
      assignment[i] = best;
      Cluster& c = clusters[best];
      c.sum_l += lab[i].l, c.sum_a += lab[i].a, c.sum_b += lab[i].b;
      c.sum_r += pixels[i].r, c.sum_g += pixels[i].g, c.sum_bl += pixels[i].b;
      ++c.count;
    }
    for (std::size_t k = 0; k < clusters.size(); ++k) {
      const Cluster& c = clusters[k];
      if (c.count > 0) {
        const double n = static_cast<double>(c.count);
        centres[k] = Lab{c.sum_l / n, c.sum_a / n, c.sum_b / n};
      }
    }
    if (!changed) break;
  }

  // Merge near-identical clusters (largest absorbs smaller), then drop noise and order by population.
  std::sort(clusters.begin(), clusters.end(),
            [](const Cluster& x, const Cluster& y) { return x.count > y.count; });
  std::vector<Cluster> merged;
  for (const auto& c : clusters) {
    if (c.count == 0) continue;
    const Lab centre{c.sum_l / c.count, c.sum_a / c.count, c.sum_b / c.count};
    auto near = std::find_if(merged.begin(), merged.end(), [&](const Cluster& m) {
      return distance2(m.centre, centre) < kMergeDistance * kMergeDistance;
    });
    if (near == merged.end()) {
      Cluster copy = c;
      copy.centre = centre;
      merged.push_back(copy);
    } else {
      near->sum_r += c.sum_r, near->sum_g += c.sum_g, near->sum_bl += c.sum_bl;
      near->count += c.count;
    }
  }

  std::vector<PaletteEntry> out;
  const double min_count = min_share * static_cast<double>(pixels.size());
  for (const auto& c : merged) {
    if (static_cast<double>(c.count) < min_count) continue;
    const double n = static_cast<double>(c.count);
    auto channel = [n](double sum) {
      return static_cast<std::uint8_t>(std::clamp(std::lround(sum / n), 0L, 255L));
    };
    out.push_back({Rgb8{channel(c.sum_r), channel(c.sum_g), channel(c.sum_bl)}, c.count});
  }
  std::sort(out.begin(), out.end(), [](const PaletteEntry& x, const PaletteEntry& y) {
    if (x.count != y.count) return x.count > y.count;
    return std::tie(x.colour.r, x.colour.g, x.colour.b) < std::tie(y.colour.r, y.colour.g, y.colour.b);
  });
  if (out.size() > max_colours) out.resize(max_colours);
  return out;
}

}  // namespace imageproc::imaging
