#pragma once
// The AI stage's provider seam (DESIGN §7): one prepared image in, a typed Analysis out, or an AnalysisError
// that says whether trying again can help. Providers: `openai` (any OpenAI-compatible Chat Completions
// endpoint) and `local` (offline: Tesseract OCR plus measured facts). `none` has no analyzer; the stage is
// Skipped before one would be called.
//
// Contract for implementations:
//  - analyze() is thread-safe: one analyzer serves every AI consumer thread;
//  - the input never carries metadata (imaging::analysis_jpeg strips EXIF/GPS/ICC), and a provider must not
//    add any of the job's data to what it sends beyond the image itself;
//  - the result is returned raw; the stage applies normalized() (trim, ≤ 12 tags, confidences in [0, 1]).

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imageproc::ai {

struct Tag {
  std::string label;
  double confidence = 0;  // [0, 1] after normalized()
};

struct Safety {
  bool adult = false;
  bool violence = false;
  bool self_harm = false;
};

struct AnalysisMeta {
  std::string provider;                      // "openai" | "local"
  std::string model;                         // as reported by the provider (or engine and version)
  std::int64_t latency_ms = 0;               // wall time of the provider call
  std::optional<std::int64_t> input_tokens;  // nullopt where tokens are not a thing (local)
  std::optional<std::int64_t> output_tokens;
  double estimated_cost_usd = 0;
};

struct Analysis {
  std::string summary;
  std::optional<std::string> ocr_text;  // nullopt: no text found
  std::vector<Tag> tags;
  std::optional<Safety> safety;  // nullopt: not assessed
  AnalysisMeta meta;
};

// The prepared picture (imaging::analysis_jpeg): upright sRGB JPEG without metadata.
struct AnalysisInput {
  std::string bytes;
  std::string mime_type = "image/jpeg";
  int width = 0;
  int height = 0;
};

// A provider call that failed. Transient: worth another attempt later (network, timeout, 429, 5xx), after at
// least `retry_after` when the provider said so. Permanent: the same call would fail again (refusal, an answer
// that is not the requested JSON, a rejected request). what() is the public message shown to the owner;
// detail() goes to the log only.
class AnalysisError : public std::runtime_error {
 public:
  enum class Kind { Transient, Permanent };
  AnalysisError(Kind kind, std::string public_message, std::string detail = {},
                std::optional<std::chrono::seconds> retry_after = std::nullopt)
      : std::runtime_error(std::move(public_message)),
        kind_(kind),
        detail_(std::move(detail)),
        retry_after_(retry_after) {}
  Kind kind() const { return kind_; }
  bool transient() const { return kind_ == Kind::Transient; }
  const std::string& detail() const { return detail_; }
  std::optional<std::chrono::seconds> retry_after() const { return retry_after_; }

 private:
  Kind kind_;
  std::string detail_;
  std::optional<std::chrono::seconds> retry_after_;
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  // Longest side of the AnalysisInput this analyzer wants (the stage prepares the image to fit it).
  virtual int input_max_dimension() const = 0;
  virtual Analysis analyze(const AnalysisInput& image) = 0;
};

inline constexpr std::size_t kMaxTags = 12;

// Post-processing every provider's answer goes through: summary trimmed (whitespace collapsed at the ends),
// OCR text trimmed and empty → nullopt, tags with an empty label dropped, labels trimmed, duplicate labels
// (case-insensitive) merged keeping the highest confidence, confidences clamped to [0, 1] (NaN → 0), sorted by
// confidence (stable), at most kMaxTags.
Analysis normalized(Analysis analysis);

// cost = prompt/1000 × input price + completion/1000 × output price (DESIGN §7).
double estimated_cost_usd(std::int64_t input_tokens, std::int64_t output_tokens, double input_usd_per_1k,
                          double output_usd_per_1k);

// DESIGN §4 `aiAnalysis`: {summary, ocrText, tags: [{label, confidence}], safety: {adult, violence, selfHarm} |
// null, meta: {provider, model, latencyMs, inputTokens, outputTokens, estimatedCostUsd}}.
nlohmann::json to_json(const Analysis& analysis);

}  // namespace imageproc::ai
