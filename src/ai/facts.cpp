#include "ai/facts.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>

namespace imageproc::ai {
namespace {

// Linear ramp: 0 at `from`, 1 at `to` (either direction), clamped.
double ramp(double value, double from, double to) {
  return std::clamp((value - from) / (to - from), 0.0, 1.0);
}

double luma(imaging::Rgb8 c) {
  return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0;
}

int max_channel_difference(imaging::Rgb8 x, imaging::Rgb8 y) {
  return std::max({std::abs(x.r - y.r), std::abs(x.g - y.g), std::abs(x.b - y.b)});
}

// Thresholds of the tags, in the units of PixelFacts / TextFacts.
constexpr double kDarkBelow = 0.25;          // mean luma
constexpr double kBrightAbove = 0.75;        // mean luma
constexpr double kLowContrastBelow = 0.35;   // luma range (1st to 99th percentile)
constexpr double kHighContrastAbove = 0.30;  // luma standard deviation (0.5 is black/white halves)
constexpr double kBlankColourStddev = 0.03;  // ≈ 8 levels: JPEG noise and vignetting, no content
constexpr double kBlankEdgeDensity = 0.005;  // a thin line on a blank page is content
constexpr double kSquareWithin = 1.1;        // aspect ratios within 1.1 : 1 of square read as square
constexpr double kMinColourShare = 0.10;     // colour names below this share of pixels are not tagged
constexpr std::size_t kMaxColourTags = 3;

// The one decision every tag and the summary derive from, so they never disagree.
struct Verdict {
  bool blank = false;
  double blank_confidence = 0;
  double graphic = 0;  // graphic_likelihood
  bool text = false;
  double text_confidence = 0;
  bool document = false;
  double document_confidence = 0;
  bool screenshot = false;
  double screenshot_confidence = 0;
};

Verdict decide(const ImageFacts& facts) {
  const PixelFacts& px = facts.pixels;
  const TextFacts& text = facts.text;
  Verdict v;
  v.graphic = graphic_likelihood(px);
  v.text = has_text(text);
  if (v.text) {
    // More words make a misread less likely: 1 word → 0.28, 3 → 0.63, 10 → 0.96 of the mean OCR confidence.
    v.text_confidence = text.mean_confidence / 100.0 * (1.0 - std::exp(-text.words / 3.0));
    // A page: several lines of prose (not a diagram's labels, averaging ≥ 3 words a line) on a light, nearly
    // colourless background that the text covers well.
    v.document = text.words >= 12 && text.lines >= 3 && text.words >= 3 * text.lines && px.mean_luma >= 0.6 &&
                 px.mean_saturation <= 0.25 && (text.area_share >= 0.15 || text.lines >= 6);
    // 3 lines → 0.6, 10 or more → 1.0 of the mean OCR confidence.
    if (v.document) {
      v.document_confidence = text.mean_confidence / 100.0 * (0.6 + 0.4 * ramp(text.lines, 3, 10));
    }
    // A flat picture in a screen's proportions holding lines of text: a user interface rather than a drawing
    // or a diagram.
    v.screenshot = !v.document && v.graphic >= 0.5 && text.lines >= 3 && text.words >= 8 &&
                   screen_aspect(facts.width, facts.height);
    if (v.screenshot) v.screenshot_confidence = std::min(v.graphic, v.text_confidence);
  } else if (px.colour_stddev < kBlankColourStddev && px.edge_density < kBlankEdgeDensity) {
    v.blank = true;
    // 1.0 for a perfectly uniform image, 0.5 at the threshold.
    v.blank_confidence = 1.0 - 0.5 * px.colour_stddev / kBlankColourStddev;
  }
  return v;
}

std::optional<Tag> orientation_tag(int width, int height) {
  if (width <= 0 || height <= 0) return std::nullopt;
  const double log_ratio = std::log(static_cast<double>(width) / height);
  const double square_limit = std::log(kSquareWithin);
  // Square: 1.0 at exactly 1:1, falling to 0.5 at 1.1:1; beyond that the orientation is not in doubt.
  if (std::abs(log_ratio) < square_limit)
    return Tag{"square", 1.0 - 0.5 * std::abs(log_ratio) / square_limit};
  return Tag{log_ratio > 0 ? "landscape" : "portrait", 1.0};
}

std::string orientation_word(int width, int height) {
  const auto tag = orientation_tag(width, height);
  return tag ? tag->label : std::string();
}

std::string kind_noun(const Verdict& v) {
  if (v.document) return "document";
  if (v.screenshot) return "screenshot";
  return v.graphic >= 0.5 ? "graphic" : "photo";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

std::string article_for(const std::string& word) {
  return !word.empty() && std::string("aeiou").find(word.front()) != std::string::npos ? "An" : "A";
}

std::string words_phrase(int words) {
  if (words == 1) return "one word of text";
  if (words < 10) return std::to_string(words) + " words of text";
  const int rounded = words < 1000 ? (words + 5) / 10 * 10 : (words + 50) / 100 * 100;
  return "about " + std::to_string(rounded) + " words of text";
}

std::vector<std::string> tagged_colour_names(const std::vector<NamedColour>& colours) {
  std::vector<std::string> names;
  for (const auto& c : colours) {
    if (c.share >= kMinColourShare && names.size() < kMaxColourTags) names.push_back(c.name);
  }
  return names;
}

}  // namespace

PixelFacts measure_pixels(std::span<const imaging::Rgb8> pixels, int width, int height) {
  PixelFacts f;
  if (width <= 0 || height <= 0 || pixels.size() != static_cast<std::size_t>(width) * height) return f;
  const double n = static_cast<double>(pixels.size());

  double sum_luma = 0, sum_luma2 = 0, sum_saturation = 0;
  std::array<double, 3> sum{}, sum2{};
  std::vector<std::uint32_t> histogram(1u << 15, 0);
  for (const auto& p : pixels) {
    const double y = luma(p);
    sum_luma += y, sum_luma2 += y * y;
    const std::array<double, 3> channels{double(p.r), double(p.g), double(p.b)};
    for (int c = 0; c < 3; ++c) sum[c] += channels[c], sum2[c] += channels[c] * channels[c];
    const int hi = std::max({p.r, p.g, p.b}), lo = std::min({p.r, p.g, p.b});
    sum_saturation += hi == 0 ? 0.0 : static_cast<double>(hi - lo) / hi;
    ++histogram[(p.r >> 3) << 10 | (p.g >> 3) << 5 | (p.b >> 3)];
  }
  f.mean_luma = sum_luma / n;
  f.luma_stddev = std::sqrt(std::max(0.0, sum_luma2 / n - f.mean_luma * f.mean_luma));
  for (int c = 0; c < 3; ++c) {
    const double mean = sum[c] / n;
    f.colour_stddev = std::max(f.colour_stddev, std::sqrt(std::max(0.0, sum2[c] / n - mean * mean)) / 255.0);
  }
  f.mean_saturation = sum_saturation / n;

  std::array<std::size_t, 256> luma_histogram{};
  for (const auto& p : pixels) ++luma_histogram[std::min(255, static_cast<int>(std::lround(luma(p) * 255)))];
  const auto percentile = [&](double q) {
    const double target = q * n;
    double seen = 0;
    for (int level = 0; level < 256; ++level) {
      seen += luma_histogram[level];
      if (seen >= target) return level / 255.0;
    }
    return 1.0;
  };
  f.luma_range = percentile(0.99) - percentile(0.01);

  f.distinct_colours = static_cast<int>(
      std::count_if(histogram.begin(), histogram.end(), [](std::uint32_t count) { return count > 0; }));
  std::partial_sort(histogram.begin(), histogram.begin() + 8, histogram.end(), std::greater<>());
  double top = 0;
  for (int i = 0; i < 8; ++i) top += histogram[i];
  f.top_colours_share = top / n;

  std::size_t pairs = 0, flat = 0, edges = 0, gradients = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const auto& here = pixels[static_cast<std::size_t>(y) * width + x];
      const imaging::Rgb8* right = x + 1 < width ? &here + 1 : nullptr;
      const imaging::Rgb8* below = y + 1 < height ? &here + width : nullptr;
      for (const auto* neighbour : {right, below}) {
        if (!neighbour) continue;
        ++pairs;
        if (max_channel_difference(here, *neighbour) <= kFlatTolerance) ++flat;
      }
      if (right && below) {
        ++gradients;
        const double y0 = luma(here);
        if (std::abs(luma(*right) - y0) + std::abs(luma(*below) - y0) > kEdgeThreshold) ++edges;
      }
    }
  }
  // A single pixel has no neighbours: call it flat rather than divide by zero.
  f.flat_share = pairs ? static_cast<double>(flat) / pairs : 1.0;
  f.edge_density = gradients ? static_cast<double>(edges) / gradients : 0.0;
  return f;
}

const std::vector<std::string>& colour_names() {
  static const std::vector<std::string> names{"red",  "orange", "yellow", "green", "blue", "purple",
                                              "pink", "brown",  "black",  "white", "gray"};
  return names;
}

std::string colour_name(imaging::Rgb8 colour) {
  const double r = colour.r / 255.0, g = colour.g / 255.0, b = colour.b / 255.0;
  const double hi = std::max({r, g, b}), lo = std::min({r, g, b});
  const double chroma = hi - lo;
  const double lightness = (hi + lo) / 2;
  const double saturation = hi == 0 ? 0 : chroma / hi;  // HSV

  if (lightness < 0.1) return "black";
  if (lightness > 0.94) return "white";
  if (chroma < 0.1 || saturation < 0.15) {
    if (lightness < 0.2) return "black";
    if (lightness > 0.85) return "white";
    return "gray";
  }

  double hue = 0;  // degrees
  if (hi == r) {
    hue = 60 * std::fmod((g - b) / chroma, 6.0);
  } else if (hi == g) {
    hue = 60 * ((b - r) / chroma + 2);
  } else {
    hue = 60 * ((r - g) / chroma + 4);
  }
  if (hue < 0) hue += 360;

  if (hue < 15 || hue >= 345) {
    if (lightness > 0.7) return "pink";
    if (hi < 0.6 && saturation < 0.6) return "brown";  // muted dark reds: leather, wood, brick
    return "red";
  }
  if (hue < 45) return hi < 0.65 ? "brown" : "orange";
  if (hue < 70) return hi < 0.5 ? "green" : "yellow";  // dark yellow is olive, which people call green
  if (hue < 170) return "green";
  if (hue < 260) return "blue";
  if (hue < 290) return "purple";
  return lightness < 0.35 ? "purple" : "pink";
}

std::vector<NamedColour> name_palette(std::span<const imaging::PaletteEntry> palette,
                                      std::size_t total_pixels) {
  if (total_pixels == 0) return {};
  std::map<std::string, double> shares;
  for (const auto& entry : palette) {
    shares[colour_name(entry.colour)] += static_cast<double>(entry.count) / total_pixels;
  }
  std::vector<NamedColour> named;
  for (const auto& [name, share] : shares) named.push_back({name, std::min(share, 1.0)});
  std::stable_sort(named.begin(), named.end(),
                   [](const NamedColour& x, const NamedColour& y) { return x.share > y.share; });
  return named;
}

double graphic_likelihood(const PixelFacts& px) {
  // A drawing or UI is mostly areas of one exact colour, drawn from a small palette; a photo has shading and
  // sensor noise everywhere, so neighbours rarely match and colours spread over many quantisation bins.
  // 0.6 × flatness (0 at 30 % flat neighbour pairs, 1 at 80 %) + 0.4 × palette concentration (0 when the 8
  // most frequent colours cover 40 % of the pixels, 1 at 90 %).
  return 0.6 * ramp(px.flat_share, 0.3, 0.8) + 0.4 * ramp(px.top_colours_share, 0.4, 0.9);
}

bool is_word(std::string_view utf8) {
  for (std::size_t i = 0; i < utf8.size();) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    if (lead < 0x80) {
      if (std::isalnum(lead)) return true;
      ++i;
      continue;
    }
    const int length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    char32_t code_point = length == 4 ? lead & 0x07 : length == 3 ? lead & 0x0F : lead & 0x1F;
    for (int k = 1; k < length && i + k < utf8.size(); ++k) {
      code_point = code_point << 6 | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    // Letters from U+00C0 on, except the punctuation/symbol blocks (U+2000–U+2BFF, CJK U+3000–U+303F).
    const bool symbol = (code_point >= 0x2000 && code_point < 0x2C00) ||
                        (code_point >= 0x3000 && code_point < 0x3040) || code_point == 0xFEFF;
    if (code_point >= 0xC0 && !symbol) return true;
  }
  return false;
}

bool screen_aspect(int width, int height) {
  if (width <= 0 || height <= 0) return false;
  const double ratio = static_cast<double>(std::max(width, height)) / std::min(width, height);
  constexpr std::array<double, 6> kScreens{16.0 / 9, 16.0 / 10, 4.0 / 3, 18.0 / 9, 19.5 / 9, 20.0 / 9};
  return std::any_of(kScreens.begin(), kScreens.end(),
                     [&](double screen) { return std::abs(ratio / screen - 1) <= 0.02; });
}

bool has_text(const TextFacts& text) {
  // Tesseract reads the odd texture in a photo as one confident word; two words, or one read very
  // confidently, is text.
  return text.words >= 2 || (text.words == 1 && text.mean_confidence >= 85);
}

std::vector<Tag> tags_for(const ImageFacts& facts) {
  const Verdict v = decide(facts);
  const PixelFacts& px = facts.pixels;
  std::vector<Tag> tags;

  if (v.blank) {
    tags.push_back({"blank", v.blank_confidence});
  } else if (v.document) {
    tags.push_back({"document", v.document_confidence});
  } else if (v.screenshot) {
    tags.push_back({"screenshot", v.screenshot_confidence});
  } else if (v.graphic >= 0.5) {
    tags.push_back({"graphic", v.graphic});
  } else {
    tags.push_back({"photo", 1.0 - v.graphic});
  }
  // A photographed page is both a photo and a document.
  if (v.document && v.graphic < 0.5) tags.push_back({"photo", 1.0 - v.graphic});
  if (v.text) tags.push_back({"text", v.text_confidence});

  // Colour tags: confidence = share of the image's pixels in colours of that name.
  std::size_t colour_tags = 0;
  for (const auto& colour : facts.colours) {
    if (colour.share < kMinColourShare || colour_tags == kMaxColourTags) break;  // sorted by share
    tags.push_back({colour.name, colour.share});
    ++colour_tags;
  }

  if (auto orientation = orientation_tag(facts.width, facts.height)) tags.push_back(*orientation);

  // Brightness and contrast: 0.5 at the threshold, rising linearly to 1.0 at the extreme.
  if (px.mean_luma < kDarkBelow) {
    tags.push_back({"dark", 0.5 + 0.5 * (kDarkBelow - px.mean_luma) / kDarkBelow});
  } else if (px.mean_luma > kBrightAbove) {
    tags.push_back({"bright", 0.5 + 0.5 * (px.mean_luma - kBrightAbove) / (1 - kBrightAbove)});
  }
  if (!v.blank) {  // a blank image has no contrast to speak of; saying "low contrast" adds nothing
    // Low contrast: nothing dark and nothing light at all (the percentile range), so a sheet of print on
    // white, whose standard deviation is small, is not low contrast. High contrast: large areas at both ends.
    if (px.luma_range < kLowContrastBelow) {
      tags.push_back({"low contrast", 0.5 + 0.5 * (kLowContrastBelow - px.luma_range) / kLowContrastBelow});
    } else if (px.luma_stddev > kHighContrastAbove) {
      tags.push_back({"high contrast", 0.5 + 0.5 * ramp(px.luma_stddev, kHighContrastAbove, 0.5)});
    }
  }

  for (auto& tag : tags) tag.confidence = std::clamp(tag.confidence, 0.0, 1.0);
  if (tags.size() > kMaxTags) tags.resize(kMaxTags);
  return tags;
}

std::string summary_for(const ImageFacts& facts) {
  const Verdict v = decide(facts);
  const auto colours = tagged_colour_names(facts.colours);

  if (v.blank) {
    const std::string colour = facts.colours.empty() ? std::string() : facts.colours.front().name + " ";
    return "A blank " + colour + "image.";
  }

  std::vector<std::string> words;
  if (facts.pixels.mean_luma < kDarkBelow) words.push_back("dark");
  if (facts.pixels.mean_luma > kBrightAbove) words.push_back("bright");
  if (auto orientation = orientation_word(facts.width, facts.height); !orientation.empty()) {
    words.push_back(orientation);
  }
  words.push_back(kind_noun(v));

  std::string sentence;
  for (const auto& w : words) sentence += (sentence.empty() ? "" : " ") + w;
  sentence = article_for(sentence) + " " + sentence;

  if (v.text) sentence += " with " + words_phrase(facts.text.words);
  if (!colours.empty()) {
    const bool mostly = colours.size() == 1 || facts.colours.front().share >= 0.6;
    if (v.text) sentence += ",";
    sentence += mostly ? " mostly " + colours.front() : " dominated by " + join_names(colours);
  }
  return sentence + ".";
}

}  // namespace imageproc::ai
