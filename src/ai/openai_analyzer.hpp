#pragma once
// The `openai` provider (DESIGN §7): any OpenAI-compatible Chat Completions endpoint (OpenAI itself, Azure's
// OpenAI-compatible endpoint, vLLM, Ollama, LiteLLM, …). One POST {base}/chat/completions per image: a system
// instruction, the image as a `data:image/jpeg;base64,…` URL, and a strict JSON-schema response format for
// {summary, ocrText, tags[{label, confidence}], safety{adult, violence, selfHarm}}.
//
// Outcomes (ai::AnalysisError for failures; what() is for the image's owner, detail() for the log):
//   200 with a schema-conforming answer → Analysis (model from the answer, tokens from `usage`, cost priced);
//   200 with a refusal, a truncated answer, content that is not JSON or not the schema → Permanent;
//   429 → Transient with Retry-After (seconds or HTTP date; `retry-after-ms` too), 408/409/5xx → Transient;
//   401/403 → Permanent (the key), other 4xx → Permanent with the provider's message;
//   connect/total timeouts and network failures → Transient; a bad URL or TLS setup → Permanent.
// The API key is sent only in the Authorization header and never appears in messages or logs.
// Thread-safe: each call uses its own curl handle (a call lasts seconds, so connection reuse buys little).

#include <chrono>
#include <string>

#include "ai/analyzer.hpp"

namespace imageproc::ai {

struct OpenAiSettings {
  std::string base_url = "https://api.openai.com/v1";  // …/v1 of any OpenAI-compatible server
  std::string api_key;                                  // sent as a Bearer token
  std::string model = "gpt-4.1-mini";                   // requested model
  double input_usd_per_1k = 0.0004;                     // price of 1,000 prompt tokens
  double output_usd_per_1k = 0.0016;                    // price of 1,000 completion tokens
  std::chrono::milliseconds connect_timeout{5000};      // TCP + TLS
  std::chrono::milliseconds request_timeout{60000};     // the whole call
  int max_image_dimension = 1024;                       // longest side of the image sent
  int max_output_tokens = 1000;                         // max_completion_tokens of the answer
  void validate() const;                                // throws std::invalid_argument naming the field
};

class OpenAiAnalyzer : public Analyzer {
 public:
  explicit OpenAiAnalyzer(OpenAiSettings settings);
  int input_max_dimension() const override { return settings_.max_image_dimension; }
  Analysis analyze(const AnalysisInput& image) override;

  // The request body for `image` (exposed for tests and for logging its shape).
  nlohmann::json request_body(const AnalysisInput& image) const;

 private:
  OpenAiSettings settings_;
  std::string endpoint_;
};

// Parses a 200 answer of Chat Completions into an Analysis (before normalisation). Throws Permanent
// AnalysisError for refusals, truncated answers, and content that is not the requested JSON.
Analysis parse_chat_completion(const std::string& body, const OpenAiSettings& settings);

// Retry-After as sent by the provider: delta-seconds or an HTTP date; nullopt when absent or unreadable.
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace imageproc::ai
