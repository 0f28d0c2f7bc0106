#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ai/analyzer.hpp"

using namespace imageproc::ai;

namespace {

TEST(AiAnalysis, NormalisationTrimsDropsMergesClampsSortsAndCaps) {
  Analysis a;
  a.summary = "  \n A cat on a sofa.\t ";
  a.ocr_text = " \n\t ";
  a.tags = {{"cat", 0.9},       {" Cat ", 0.95}, {"", 0.99},     {"sofa", 1.7},
            {"indoor", -0.3},   {"nan", std::numeric_limits<double>::quiet_NaN()}};
  for (int i = 0; i < 20; ++i) a.tags.push_back({"extra-" + std::to_string(i), 0.5});
  const auto n = normalized(a);
  EXPECT_EQ(n.summary, "A cat on a sofa.");
  EXPECT_FALSE(n.ocr_text.has_value());
  ASSERT_EQ(n.tags.size(), kMaxTags);
  EXPECT_EQ(n.tags[0].label, "sofa");
  EXPECT_EQ(n.tags[0].confidence, 1.0);
  EXPECT_EQ(n.tags[1].label, "cat");  // the first spelling is kept, with the higher confidence
  EXPECT_DOUBLE_EQ(n.tags[1].confidence, 0.95);
  for (const auto& t : n.tags) {
    EXPECT_FALSE(t.label.empty());
    EXPECT_GE(t.confidence, 0.0);
    EXPECT_LE(t.confidence, 1.0);
  }
}

TEST(AiAnalysis, OcrTextIsTrimmedButKeptWhenPresent) {
  Analysis a;
  a.ocr_text = "\n  TOTAL 12.50\nThank you  \n";
  EXPECT_EQ(*normalized(a).ocr_text, "TOTAL 12.50\nThank you");
}

TEST(AiAnalysis, CostIsPromptAndCompletionPricedPerThousandTokens) {
  EXPECT_DOUBLE_EQ(estimated_cost_usd(1234, 56, 0.0004, 0.0016), 0.0005832);
  EXPECT_DOUBLE_EQ(estimated_cost_usd(1000, 1000, 0.0025, 0.01), 0.0125);
  EXPECT_EQ(estimated_cost_usd(0, 0, 0.5, 0.5), 0.0);
}

TEST(AiAnalysis, JsonHasTheDesignShapeWithNullsForWhatWasNotMeasured) {
  Analysis a;
  a.summary = "A blank white image.";
  a.tags = {{"blank", 0.99}};
  a.meta = {"local", "tesseract 5.3.0", 42, std::nullopt, std::nullopt, 0};
  const auto j = to_json(a);
  EXPECT_EQ(j["summary"], "A blank white image.");
  EXPECT_TRUE(j["ocrText"].is_null());
  EXPECT_TRUE(j["safety"].is_null());
  EXPECT_EQ(j["tags"], (nlohmann::json{{{"label", "blank"}, {"confidence", 0.99}}}));
  EXPECT_EQ(j["meta"]["provider"], "local");
  EXPECT_EQ(j["meta"]["latencyMs"], 42);
  EXPECT_TRUE(j["meta"]["inputTokens"].is_null());
  EXPECT_TRUE(j["meta"]["outputTokens"].is_null());
  EXPECT_EQ(j["meta"]["estimatedCostUsd"], 0.0);

  a.safety = Safety{false, true, false};
  a.meta.input_tokens = 10;
  a.meta.output_tokens = 5;
  const auto k = to_json(a);
  EXPECT_EQ(k["safety"], (nlohmann::json{{"adult", false}, {"violence", true}, {"selfHarm", false}}));
  EXPECT_EQ(k["meta"]["inputTokens"], 10);
}

}  // namespace
