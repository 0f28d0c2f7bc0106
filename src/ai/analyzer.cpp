#include "ai/analyzer.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/text.hpp"

namespace imageproc::ai {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double clamp_confidence(double c) {
  if (std::isnan(c)) return 0;
  return std::clamp(c, 0.0, 1.0);
}

nlohmann::json optional_number(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

Analysis normalized(Analysis analysis) {
  analysis.summary = text::trim(analysis.summary);
  if (analysis.ocr_text) {
    *analysis.ocr_text = text::trim(*analysis.ocr_text);
    if (analysis.ocr_text->empty()) analysis.ocr_text.reset();
  }
  std::vector<Tag> tags;
  for (auto& tag : analysis.tags) {
    tag.label = text::trim(tag.label);
    if (tag.label.empty()) continue;
    tag.confidence = clamp_confidence(tag.confidence);
    const auto key = lower(tag.label);
    auto same = std::find_if(tags.begin(), tags.end(), [&](const Tag& t) { return lower(t.label) == key; });
    if (same == tags.end()) {
      tags.push_back(std::move(tag));
    } else {
      same->confidence = std::max(same->confidence, tag.confidence);
    }
  }
  std::stable_sort(tags.begin(), tags.end(), [](const Tag& a, const Tag& b) { return a.confidence > b.confidence; });
  if (tags.size() > kMaxTags) tags.resize(kMaxTags);
  analysis.tags = std::move(tags);
  return analysis;
}

double estimated_cost_usd(std::int64_t input_tokens, std::int64_t output_tokens, double input_usd_per_1k,
                          double output_usd_per_1k) {
  return static_cast<double>(input_tokens) / 1000.0 * input_usd_per_1k +
         static_cast<double>(output_tokens) / 1000.0 * output_usd_per_1k;
}

nlohmann::json to_json(const Analysis& analysis) {
  nlohmann::json tags = nlohmann::json::array();
  for (const auto& t : analysis.tags) tags.push_back({{"label", t.label}, {"confidence", t.confidence}});
  nlohmann::json safety = nullptr;
  if (analysis.safety) {
    safety = {{"adult", analysis.safety->adult},
              {"violence", analysis.safety->violence},
              {"selfHarm", analysis.safety->self_harm}};
  }
  return {{"summary", analysis.summary},
          {"ocrText", analysis.ocr_text ? nlohmann::json(*analysis.ocr_text) : nlohmann::json(nullptr)},
          {"tags", tags},
          {"safety", safety},
          {"meta",
           {{"provider", analysis.meta.provider},
            {"model", analysis.meta.model},
            {"latencyMs", analysis.meta.latency_ms},
            {"inputTokens", optional_number(analysis.meta.input_tokens)},
            {"outputTokens", optional_number(analysis.meta.output_tokens)},
            {"estimatedCostUsd", analysis.meta.estimated_cost_usd}}}};
}

}  // namespace imageproc::ai
