// The local analyzer's pure rules: pixel measurements, colour names, tags with graded confidences and the
// summary sentence, on made-up facts and synthetic pixel buffers (no libvips, no Tesseract).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ai/facts.hpp"

namespace imageproc::ai {
namespace {

using imaging::Rgb8;

const Tag* find_tag(const std::vector<Tag>& tags, const std::string& label) {
  auto it = std::find_if(tags.begin(), tags.end(), [&](const Tag& t) { return t.label == label; });
  return it == tags.end() ? nullptr : &*it;
}

bool has_tag(const std::vector<Tag>& tags, const std::string& label) {
  return find_tag(tags, label) != nullptr;
}

// The confidence of `label` among the facts' tags; -1 when it is not tagged.
double confidence_of(const ImageFacts& facts, const std::string& label) {
  const auto tags = tags_for(facts);
  const Tag* tag = find_tag(tags, label);
  return tag ? tag->confidence : -1;
}

// Facts of a typical photo: shading everywhere, colours spread out.
PixelFacts photo_pixels() {
  PixelFacts px;
  px.mean_luma = 0.5;
  px.luma_stddev = 0.2;
  px.luma_range = 0.8;
  px.colour_stddev = 0.2;
  px.mean_saturation = 0.4;
  px.flat_share = 0.1;
  px.edge_density = 0.05;
  px.top_colours_share = 0.15;
  px.distinct_colours = 2000;
  return px;
}

// Facts of a flat drawing or user interface.
PixelFacts flat_pixels() {
  PixelFacts px = photo_pixels();
  px.flat_share = 0.92;
  px.top_colours_share = 0.95;
  px.distinct_colours = 40;
  return px;
}

TEST(AiFacts, ColourNamesCoverPrimaryAndNeutralColours) {
  EXPECT_EQ(colour_name({220, 20, 20}), "red");
  EXPECT_EQ(colour_name({255, 140, 0}), "orange");
  EXPECT_EQ(colour_name({250, 220, 30}), "yellow");
  EXPECT_EQ(colour_name({30, 160, 60}), "green");
  EXPECT_EQ(colour_name({30, 80, 200}), "blue");
  EXPECT_EQ(colour_name({128, 40, 160}), "purple");
  EXPECT_EQ(colour_name({255, 150, 200}), "pink");
  EXPECT_EQ(colour_name({120, 70, 30}), "brown");
  EXPECT_EQ(colour_name({5, 5, 5}), "black");
  EXPECT_EQ(colour_name({250, 250, 250}), "white");
  EXPECT_EQ(colour_name({240, 240, 233}), "white");  // a warm off-white page
  EXPECT_EQ(colour_name({128, 128, 128}), "gray");
  for (const auto& name : {"red", "blue", "gray"}) {
    EXPECT_NE(std::find(colour_names().begin(), colour_names().end(), name), colour_names().end());
  }
}

TEST(AiFacts, PaletteNamesSumSharesOfTheSameName) {
  const std::vector<imaging::PaletteEntry> palette{
      {{30, 80, 200}, 50}, {{40, 90, 210}, 20}, {{250, 250, 250}, 30}};
  const auto named = name_palette(palette, 100);
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].name, "blue");
  EXPECT_DOUBLE_EQ(named[0].share, 0.7);
  EXPECT_EQ(named[1].name, "white");
  EXPECT_DOUBLE_EQ(named[1].share, 0.3);
}

TEST(AiFacts, UniformPixelsMeasureFlatWithoutEdgesOrSpread) {
  const std::vector<Rgb8> white(32 * 24, Rgb8{255, 255, 255});
  const PixelFacts px = measure_pixels(white, 32, 24);
  EXPECT_DOUBLE_EQ(px.flat_share, 1.0);
  EXPECT_DOUBLE_EQ(px.edge_density, 0.0);
  EXPECT_NEAR(px.colour_stddev, 0.0, 1e-9);
  EXPECT_NEAR(px.mean_luma, 1.0, 1e-9);
  EXPECT_EQ(px.distinct_colours, 1);
  EXPECT_DOUBLE_EQ(px.top_colours_share, 1.0);
}

TEST(AiFacts, MismatchedBufferMeasuresNothing) {
  const std::vector<Rgb8> pixels(10);
  const PixelFacts px = measure_pixels(pixels, 4, 4);
  EXPECT_DOUBLE_EQ(px.mean_luma, 0.0);
  EXPECT_EQ(px.distinct_colours, 0);
}

TEST(AiFacts, FlatBlocksReadAsGraphicAndNoisyGradientsAsPhoto) {
  constexpr int kW = 128, kH = 96;
  std::vector<Rgb8> blocks(kW * kH), noisy(kW * kH);
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 6);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      blocks[y * kW + x] =
          x < kW / 2 ? Rgb8{200, 30, 30} : (y < kH / 2 ? Rgb8{30, 60, 200} : Rgb8{250, 220, 40});
      const auto channel = [&](double v) {
        return static_cast<std::uint8_t>(std::clamp(v + noise(rng), 0.0, 255.0));
      };
      noisy[y * kW + x] = Rgb8{channel(40 + 1.5 * x), channel(60 + 1.8 * y), channel(120 + 0.5 * (x - y))};
    }
  }
  const PixelFacts graphic = measure_pixels(blocks, kW, kH);
  const PixelFacts photo = measure_pixels(noisy, kW, kH);
  EXPECT_GT(graphic_likelihood(graphic), 0.8);
  EXPECT_LT(graphic_likelihood(photo), 0.2);
  EXPECT_LE(graphic.distinct_colours, 3);
  EXPECT_GT(photo.distinct_colours, 300);
}

TEST(AiFacts, OrientationIsCertainAwayFromSquareAndGradedNearIt) {
  ImageFacts facts{.width = 1600, .height = 900, .pixels = photo_pixels()};
  EXPECT_DOUBLE_EQ(confidence_of(facts, "landscape"), 1.0);
  facts.width = 900, facts.height = 1600;
  EXPECT_DOUBLE_EQ(confidence_of(facts, "portrait"), 1.0);
  facts.width = 1000, facts.height = 1000;
  EXPECT_DOUBLE_EQ(confidence_of(facts, "square"), 1.0);
  facts.width = 1050;
  EXPECT_GT(confidence_of(facts, "square"), 0.5);
  EXPECT_LT(confidence_of(facts, "square"), 1.0);
}

TEST(AiFacts, BrightnessAndContrastTagsGrowBeyondTheirThresholds) {
  ImageFacts facts{.width = 800, .height = 600, .pixels = photo_pixels()};
  auto tags = tags_for(facts);
  EXPECT_FALSE(has_tag(tags, "dark") || has_tag(tags, "bright"));
  EXPECT_FALSE(has_tag(tags, "low contrast") || has_tag(tags, "high contrast"));

  facts.pixels.mean_luma = 0.1;  // 0.15 below the 0.25 threshold, of 0.25 possible
  EXPECT_NEAR(confidence_of(facts, "dark"), 0.8, 1e-9);
  facts.pixels.mean_luma = 0.9;
  EXPECT_NEAR(confidence_of(facts, "bright"), 0.8, 1e-9);
  facts.pixels.luma_range = 0.07;  // 0.28 below the 0.35 threshold
  EXPECT_NEAR(confidence_of(facts, "low contrast"), 0.9, 1e-9);
  facts.pixels.luma_range = 1.0;
  facts.pixels.luma_stddev = 0.45;
  EXPECT_NEAR(confidence_of(facts, "high contrast"), 0.875, 1e-9);
}

TEST(AiFacts, ColourTagsCarryTheirShareAndSkipMinorColours) {
  ImageFacts facts{.width = 800, .height = 600, .pixels = photo_pixels()};
  facts.colours = {{"blue", 0.5}, {"green", 0.3}, {"white", 0.12}, {"black", 0.05}};
  const auto tags = tags_for(facts);
  EXPECT_DOUBLE_EQ(find_tag(tags, "blue")->confidence, 0.5);
  EXPECT_DOUBLE_EQ(find_tag(tags, "green")->confidence, 0.3);
  EXPECT_TRUE(has_tag(tags, "white"));
  EXPECT_FALSE(has_tag(tags, "black"));
}

TEST(AiFacts, TextConfidenceGrowsWithWordCountAndOcrConfidence) {
  ImageFacts facts{.width = 800, .height = 600, .pixels = flat_pixels()};
  facts.text = {.words = 2, .lines = 1, .mean_confidence = 90, .area_share = 0.02};
  const double two_words = confidence_of(facts, "text");
  facts.text.words = 10;
  const double ten_words = confidence_of(facts, "text");
  EXPECT_LT(two_words, ten_words);
  EXPECT_LE(ten_words, 0.9);
  facts.text.mean_confidence = 70;
  EXPECT_LT(confidence_of(facts, "text"), ten_words);
}

TEST(AiFacts, OneStrayWordIsNotText) {
  ImageFacts facts{.width = 800, .height = 600, .pixels = photo_pixels()};
  facts.text = {.words = 1, .lines = 1, .mean_confidence = 65, .area_share = 0.001};
  EXPECT_FALSE(has_text(facts.text));
  EXPECT_FALSE(has_tag(tags_for(facts), "text"));
  EXPECT_EQ(summary_for(facts).find("text"), std::string::npos);
}

TEST(AiFacts, ManyLinesOnALightPageAreADocument) {
  ImageFacts facts{.width = 1240, .height = 1754, .pixels = flat_pixels()};
  facts.pixels.mean_luma = 0.9;
  facts.pixels.mean_saturation = 0.02;
  facts.colours = {{"white", 0.85}, {"black", 0.1}};
  facts.text = {.words = 118, .lines = 14, .mean_confidence = 91, .area_share = 0.3};
  const auto tags = tags_for(facts);
  EXPECT_NEAR(find_tag(tags, "document")->confidence, 0.91, 1e-9);
  EXPECT_TRUE(has_tag(tags, "text"));
  EXPECT_FALSE(has_tag(tags, "graphic"));
  EXPECT_FALSE(has_tag(tags, "screenshot"));
  EXPECT_EQ(summary_for(facts), "A bright portrait document with about 120 words of text, mostly white.");
}

TEST(AiFacts, WordsNeedALetterOrDigit) {
  EXPECT_TRUE(is_word("INVOICE"));
  EXPECT_TRUE(is_word("1,250.00"));
  EXPECT_TRUE(is_word("\xC3\xA9t\xC3\xA9"));  // "été"
  EXPECT_TRUE(is_word("\xD0\x94"));           // Cyrillic "Д"
  EXPECT_FALSE(is_word(""));
  EXPECT_FALSE(is_word(" "));
  EXPECT_FALSE(is_word("|"));
  EXPECT_FALSE(is_word("\xE2\x80\x98"));  // a lone quotation mark
  EXPECT_FALSE(is_word("\xC2\xA0"));      // NBSP
}

TEST(AiFacts, ScreenAspectsAreCommonScreenProportions) {
  EXPECT_TRUE(screen_aspect(1920, 1080));
  EXPECT_TRUE(screen_aspect(1080, 2340));  // 19.5:9 phone
  EXPECT_TRUE(screen_aspect(1440, 900));
  EXPECT_FALSE(screen_aspect(1500, 1000));  // 3:2, a camera's
  EXPECT_FALSE(screen_aspect(1000, 1000));
  EXPECT_FALSE(screen_aspect(0, 100));
}

TEST(AiFacts, DiagramLabelsOnWhiteAreNotADocument) {
  ImageFacts facts{.width = 1500, .height = 1000, .pixels = flat_pixels()};
  facts.pixels.mean_luma = 0.9;
  facts.pixels.mean_saturation = 0.02;
  facts.colours = {{"white", 0.9}};
  facts.text = {.words = 40, .lines = 20, .mean_confidence = 90, .area_share = 0.2};  // two words a line
  const auto tags = tags_for(facts);
  EXPECT_FALSE(has_tag(tags, "document"));
  EXPECT_FALSE(has_tag(tags, "screenshot"));  // 3:2 is no screen's shape
  EXPECT_TRUE(has_tag(tags, "graphic"));
  EXPECT_TRUE(has_tag(tags, "text"));
}

TEST(AiFacts, FlatImageWithLinesOfTextIsAScreenshot) {
  ImageFacts facts{.width = 1080, .height = 1920, .pixels = flat_pixels()};
  facts.pixels.mean_saturation = 0.4;  // colourful UI, not a page
  facts.colours = {{"white", 0.7}, {"blue", 0.2}};
  facts.text = {.words = 40, .lines = 9, .mean_confidence = 88, .area_share = 0.1};
  const auto tags = tags_for(facts);
  EXPECT_TRUE(has_tag(tags, "screenshot"));
  EXPECT_FALSE(has_tag(tags, "graphic"));
  EXPECT_FALSE(has_tag(tags, "photo"));
  EXPECT_EQ(summary_for(facts), "A portrait screenshot with about 40 words of text, mostly white.");
}

TEST(AiFacts, PhotoSummaryNamesItsDominantColours) {
  ImageFacts facts{.width = 1600, .height = 1000, .pixels = photo_pixels()};
  facts.pixels.mean_luma = 0.8;
  facts.colours = {{"blue", 0.45}, {"green", 0.35}, {"white", 0.05}};
  const auto tags = tags_for(facts);
  EXPECT_TRUE(has_tag(tags, "photo"));
  EXPECT_FALSE(has_tag(tags, "graphic"));
  EXPECT_EQ(summary_for(facts), "A bright landscape photo dominated by blue and green.");
}

TEST(AiFacts, UniformImageIsBlankWithoutKindOrContrastTags) {
  const std::vector<Rgb8> white(64 * 48, Rgb8{255, 255, 255});
  ImageFacts facts{.width = 800, .height = 600, .pixels = measure_pixels(white, 64, 48)};
  facts.colours = {{"white", 1.0}};
  const auto tags = tags_for(facts);
  EXPECT_DOUBLE_EQ(find_tag(tags, "blank")->confidence, 1.0);
  for (const auto& label : {"photo", "graphic", "text", "low contrast"})
    EXPECT_FALSE(has_tag(tags, label)) << label;
  EXPECT_TRUE(has_tag(tags, "white"));
  EXPECT_EQ(summary_for(facts), "A blank white image.");

  facts.text = {.words = 3, .lines = 1, .mean_confidence = 90, .area_share = 0.001};  // tiny print is content
  EXPECT_FALSE(has_tag(tags_for(facts), "blank"));
}

TEST(AiFacts, TagsStayWithinLimitsForExtremeFacts) {
  ImageFacts facts{.width = 5000, .height = 10, .pixels = flat_pixels()};
  facts.pixels.mean_luma = 1.5;  // out-of-range measurements must not produce out-of-range confidences
  facts.pixels.luma_stddev = 3;
  facts.colours = {{"red", 0.3}, {"blue", 0.3}, {"green", 0.2}, {"white", 0.2}};
  facts.text = {.words = 1000, .lines = 200, .mean_confidence = 150, .area_share = 2};
  const auto tags = tags_for(facts);
  EXPECT_LE(tags.size(), kMaxTags);
  for (const auto& tag : tags) {
    EXPECT_GE(tag.confidence, 0.0) << tag.label;
    EXPECT_LE(tag.confidence, 1.0) << tag.label;
  }
  const std::string summary = summary_for(facts);
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '.'), 1);
  EXPECT_EQ(summary.back(), '.');
}

}  // namespace
}  // namespace imageproc::ai
