// The `local` AI provider end to end: images rendered here with libvips go through imaging::analysis_jpeg (as
// in production) into a LocalAnalyzer running the real Tesseract with the installed English traineddata.

#include "ai/local_analyzer.hpp"

#include <gtest/gtest.h>

#include "core/temp_file.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <vips/vips8>

#include "imaging/pipeline.hpp"
#include "imaging/vips_runtime.hpp"

namespace imageproc::ai {
namespace {

namespace fs = std::filesystem;
using vips::VImage;


VImage solid(int width, int height, std::vector<double> rgb) {
  return (VImage::black(width, height, VImage::option()->set("bands", 3)) + rgb).cast(VIPS_FORMAT_UCHAR);
}

// Black text on a white canvas of the given size, `dpi` sized so Tesseract sees print-like glyphs.
VImage text_on_white(const std::string& text, int width, int height, int dpi = 300) {
  const VImage ink =
      VImage::text(text.c_str(), VImage::option()->set("dpi", dpi)->set("font", "DejaVu Sans 12"));
  const VImage glyphs = (255 - ink).cast(VIPS_FORMAT_UCHAR);
  const VImage page = glyphs.embed(80, 80, width, height, VImage::option()->set("extend", VIPS_EXTEND_WHITE));
  return page.bandjoin(page).bandjoin(page).copy(
      VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

const Tag* find_tag(const Analysis& analysis, const std::string& label) {
  auto it = std::find_if(analysis.tags.begin(), analysis.tags.end(),
                         [&](const Tag& t) { return t.label == label; });
  return it == analysis.tags.end() ? nullptr : &*it;
}

bool has_tag(const Analysis& analysis, const std::string& label) {
  return find_tag(analysis, label) != nullptr;
}

std::string labels(const Analysis& analysis) {
  std::string out;
  for (const auto& t : analysis.tags) out += t.label + "=" + std::to_string(t.confidence) + " ";
  return out + "| " + analysis.summary;
}

class LocalAnalyzerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    runtime_ = new imaging::VipsRuntime();
    analyzer_ = new LocalAnalyzer(LocalAnalyzerSettings{});
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    analyzer_ = nullptr;
    delete runtime_;
    runtime_ = nullptr;
  }

  // The image as the AI stage would send it: through analysis_jpeg at the analyzer's input size.
  AnalysisInput prepared(const VImage& image) {
    const fs::path file = dir_ / ("input-" + std::to_string(counter_++) + ".png");
    image.write_to_file(file.c_str());
    const auto jpeg = imaging::analysis_jpeg(file, analyzer_->input_max_dimension());
    return AnalysisInput{jpeg.bytes, jpeg.mime_type, jpeg.width, jpeg.height};
  }

  static VImage invoice() { return text_on_white("INVOICE 2024-117\nTotal due 1,250.00 EUR", 1400, 1000); }

  static inline imaging::VipsRuntime* runtime_ = nullptr;
  static inline LocalAnalyzer* analyzer_ = nullptr;
  TempDir dir_ = TempDir::create(fs::temp_directory_path(), "local-analyzer-test-");
  int counter_ = 0;
};

TEST_F(LocalAnalyzerTest, ReadsTheTextOfARenderedInvoiceLine) {
  const auto started = std::chrono::steady_clock::now();
  const Analysis analysis = analyzer_->analyze(prepared(invoice()));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(analysis.ocr_text.has_value()) << labels(analysis);
  EXPECT_NE(analysis.ocr_text->find("INVOICE"), std::string::npos) << *analysis.ocr_text;
  EXPECT_NE(analysis.ocr_text->find("1,250.00"), std::string::npos) << *analysis.ocr_text;
  EXPECT_NE(analysis.ocr_text->find("Total"), std::string::npos) << *analysis.ocr_text;
  EXPECT_TRUE(has_tag(analysis, "text")) << labels(analysis);
  EXPECT_TRUE(has_tag(analysis, "landscape")) << labels(analysis);
  EXPECT_TRUE(has_tag(analysis, "graphic")) << labels(analysis);
  EXPECT_FALSE(has_tag(analysis, "photo")) << labels(analysis);
  EXPECT_FALSE(has_tag(analysis, "low contrast")) << labels(analysis);
  EXPECT_NE(analysis.summary.find("words of text"), std::string::npos) << analysis.summary;
  std::cout << "[ info ] invoice: " << labels(analysis) << " ("
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms, latencyMs "
            << analysis.meta.latency_ms << ")\n";
}

TEST_F(LocalAnalyzerTest, FlatGraphicIsGraphicAndNoisyGradientIsPhoto) {
  VImage graphic = solid(1200, 800, {30, 60, 200});
  graphic = graphic.insert(solid(500, 300, {220, 30, 30}), 100, 100);
  graphic = graphic.insert(solid(300, 500, {250, 220, 40}), 800, 200);
  graphic = graphic.insert(solid(400, 150, {255, 255, 255}), 200, 600);
  const Analysis flat = analyzer_->analyze(prepared(graphic));
  EXPECT_TRUE(has_tag(flat, "graphic")) << labels(flat);
  EXPECT_FALSE(has_tag(flat, "photo")) << labels(flat);
  EXPECT_FALSE(flat.ocr_text.has_value()) << *flat.ocr_text;

  // Smooth colour gradients over the frame plus sensor-like gaussian noise in every channel.
  const VImage xy = VImage::xyz(1200, 800);
  const VImage x = xy[0], y = xy[1];
  const VImage r = x * (180.0 / 1200) + 40;
  const VImage g = y * (150.0 / 800) + 70;
  const VImage b = (x + y) * (100.0 / 2000) + 100 + (x * 0.01).sin() * 40;
  const auto noise = [] { return VImage::gaussnoise(1200, 800, VImage::option()->set("sigma", 18.0)) - 128; };
  const VImage photo = (r + noise())
                           .bandjoin(g + noise())
                           .bandjoin(b + noise())
                           .cast(VIPS_FORMAT_UCHAR)
                           .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  const Analysis natural = analyzer_->analyze(prepared(photo));
  EXPECT_TRUE(has_tag(natural, "photo")) << labels(natural);
  EXPECT_FALSE(has_tag(natural, "graphic")) << labels(natural);
  EXPECT_FALSE(has_tag(natural, "screenshot")) << labels(natural);
}

TEST_F(LocalAnalyzerTest, BlankWhiteImageHasNoTextAndSaysBlank) {
  const Analysis analysis = analyzer_->analyze(prepared(solid(900, 600, {255, 255, 255})));
  EXPECT_FALSE(analysis.ocr_text.has_value());
  EXPECT_TRUE(has_tag(analysis, "blank")) << labels(analysis);
  EXPECT_TRUE(has_tag(analysis, "white")) << labels(analysis);
  EXPECT_EQ(analysis.summary, "A blank white image.");
}

TEST_F(LocalAnalyzerTest, MostlyRedImageIsTaggedRed) {
  const VImage image = solid(800, 800, {200, 25, 30}).insert(solid(150, 150, {255, 255, 255}), 600, 600);
  const Analysis analysis = analyzer_->analyze(prepared(image));
  const Tag* red = find_tag(analysis, "red");
  ASSERT_NE(red, nullptr) << labels(analysis);
  EXPECT_GT(red->confidence, 0.8);
  EXPECT_TRUE(has_tag(analysis, "square")) << labels(analysis);
  EXPECT_NE(analysis.summary.find("red"), std::string::npos) << analysis.summary;
}

TEST_F(LocalAnalyzerTest, ResultHonoursTheAnalysisContract) {
  const Analysis analysis = analyzer_->analyze(prepared(invoice()));
  EXPECT_LE(analysis.tags.size(), kMaxTags);
  for (const auto& tag : analysis.tags) {
    EXPECT_FALSE(tag.label.empty());
    EXPECT_GE(tag.confidence, 0.0) << tag.label;
    EXPECT_LE(tag.confidence, 1.0) << tag.label;
  }
  ASSERT_FALSE(analysis.summary.empty());
  EXPECT_EQ(analysis.summary.back(), '.');
  EXPECT_EQ(analysis.summary.find(". "), std::string::npos) << analysis.summary;  // one sentence
  EXPECT_FALSE(analysis.safety.has_value());
  EXPECT_EQ(analysis.meta.provider, "local");
  EXPECT_EQ(analysis.meta.model.rfind("tesseract 5.", 0), 0u) << analysis.meta.model;
  EXPECT_NE(analysis.meta.model.find("imageproc-heuristics"), std::string::npos);
  EXPECT_FALSE(analysis.meta.input_tokens.has_value());
  EXPECT_FALSE(analysis.meta.output_tokens.has_value());
  EXPECT_EQ(analysis.meta.estimated_cost_usd, 0.0);
  EXPECT_GE(analysis.meta.latency_ms, 0);
  EXPECT_EQ(analyzer_->input_max_dimension(), 2048);
  // The stage's post-processing leaves a local answer as it was.
  EXPECT_EQ(normalized(analysis).tags.size(), analysis.tags.size());
}

TEST_F(LocalAnalyzerTest, UndecodableBytesAreAPermanentError) {
  try {
    analyzer_->analyze(AnalysisInput{"not an image at all", "image/jpeg", 10, 10});
    FAIL() << "expected AnalysisError";
  } catch (const AnalysisError& e) {
    EXPECT_FALSE(e.transient());
  }
}

TEST_F(LocalAnalyzerTest, MissingLanguageRefusesToStartNamingIt) {
  LocalAnalyzerSettings settings;
  settings.ocr_language = "xxx";
  settings.ocr_instances = 1;
  try {
    LocalAnalyzer analyzer(settings);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("\"xxx\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tessdata"), std::string::npos) << e.what();
  }
}

TEST_F(LocalAnalyzerTest, InvalidSettingsAreRefused) {
  LocalAnalyzerSettings settings;
  settings.ocr_instances = 0;
  EXPECT_THROW(settings.validate(), std::invalid_argument);
  settings = {};
  settings.max_image_dimension = 10;
  EXPECT_THROW(settings.validate(), std::invalid_argument);
  settings = {};
  settings.ocr_language = "../../etc/passwd";
  EXPECT_THROW(settings.validate(), std::invalid_argument);
}

TEST_F(LocalAnalyzerTest, ConcurrentCallsReadTheSameText) {
  const AnalysisInput input = prepared(invoice());
  const auto expected = analyzer_->analyze(input).ocr_text;
  ASSERT_TRUE(expected.has_value());
  std::vector<std::optional<std::string>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = analyzer_->analyze(input).ocr_text; });
  }
  for (auto& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

}  // namespace
}  // namespace imageproc::ai
