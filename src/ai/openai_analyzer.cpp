#include "ai/openai_analyzer.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "core/crypto.hpp"
#include "core/curl_support.hpp"
#include "core/logging.hpp"

namespace imageproc::ai {

namespace {

using Kind = AnalysisError::Kind;

constexpr const char* kInstruction =
    "You describe images for a photo library. Answer only with the JSON object the schema describes. "
    "summary: one or two factual sentences about what is visible; do not guess names of people. "
    "ocrText: all legible text in the image, transcribed exactly, lines separated by newlines; an empty "
    "string when there is none. tags: up to 12 short lowercase labels (objects, scene, style, colours) with "
    "your confidence from 0 to 1. safety: true only when the image clearly shows adult content, violence or "
    "self-harm.";

constexpr std::size_t kMaxAnswerBytes = 4 * 1024 * 1024;  // a completion is a few KiB; never buffer without bound
constexpr std::size_t kMaxQuoted = 200;                   // provider text quoted in a public message

std::string truncated(std::string text, std::size_t max = kMaxQuoted) {
  if (text.size() > max) {
    text.resize(max);
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();  // UTF-8
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
    text += "…";
  }
  return text;
}

nlohmann::json response_schema() {
  const nlohmann::json boolean = {{"type", "boolean"}};
  return {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"summary", "ocrText", "tags", "safety"}},
      {"properties",
       {{"summary", {{"type", "string"}}},
        {"ocrText", {{"type", "string"}}},
        {"tags",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"additionalProperties", false},
            {"required", {"label", "confidence"}},
            {"properties", {{"label", {{"type", "string"}}}, {"confidence", {{"type", "number"}}}}}}}}},
        {"safety",
         {{"type", "object"},
          {"additionalProperties", false},
          {"required", {"adult", "violence", "selfHarm"}},
          {"properties", {{"adult", boolean}, {"violence", boolean}, {"selfHarm", boolean}}}}}}}};
}

[[noreturn]] void not_the_format(const std::string& what) {
  throw AnalysisError(Kind::Permanent, "The AI provider's answer did not match the expected format: " + what + ".",
                      what);
}

const nlohmann::json& field(const nlohmann::json& object, const char* name, nlohmann::json::value_t type,
                            const std::string& path) {
  const auto it = object.find(name);
  if (it == object.end()) not_the_format(path + name + " is missing");
  const bool ok = type == nlohmann::json::value_t::number_float ? it->is_number() : it->type() == type;
  if (!ok) not_the_format(path + name + " has the wrong type");
  return *it;
}

// The content the schema asked for, checked field by field (a provider may ignore `strict`).
void read_content(const nlohmann::json& content, Analysis& analysis) {
  using T = nlohmann::json::value_t;
  if (!content.is_object()) not_the_format("the answer is not a JSON object");
  analysis.summary = field(content, "summary", T::string, "").get<std::string>();
  analysis.ocr_text = field(content, "ocrText", T::string, "").get<std::string>();
  const auto& tags = field(content, "tags", T::array, "");
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const std::string path = "tags[" + std::to_string(i) + "].";
    if (!tags[i].is_object()) not_the_format("tags[" + std::to_string(i) + "] is not an object");
    analysis.tags.push_back(Tag{field(tags[i], "label", T::string, path).get<std::string>(),
                                field(tags[i], "confidence", T::number_float, path).get<double>()});
  }
  const auto& safety = field(content, "safety", T::object, "");
  analysis.safety = Safety{field(safety, "adult", T::boolean, "safety.").get<bool>(),
                           field(safety, "violence", T::boolean, "safety.").get<bool>(),
                           field(safety, "selfHarm", T::boolean, "safety.").get<bool>()};
}

struct HttpResult {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  const std::size_t n = size * count;
  if (result->body.size() + n > kMaxAnswerBytes) {
    result->too_large = true;
    return 0;  // aborts the transfer
  }
  result->body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  const std::size_t n = size * count;
  const std::string line(data, n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t\r\n");
    result->headers[name] = first == std::string::npos ? "" : value.substr(first, last - first + 1);
  } else if (line.rfind("HTTP/", 0) == 0) {
    result->headers.clear();  // a new response (after 100 Continue or a redirect)
  }
  return n;
}


std::optional<std::chrono::seconds> retry_after_of(const HttpResult& r) {
  if (auto it = r.headers.find("retry-after-ms"); it != r.headers.end()) {
    try {
      const auto ms = std::stoll(it->second);
      if (ms >= 0) return std::chrono::seconds(std::clamp<long long>((ms + 999) / 1000, 1, 3600));
    } catch (const std::exception&) {
    }
  }
  if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
    return parse_retry_after(it->second, std::chrono::system_clock::now());
  }
  return std::nullopt;
}

std::string provider_message(const std::string& body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
        j["error"]["message"].is_string()) {
      return j["error"]["message"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  return {};
}


}  // namespace

void OpenAiSettings::validate() const {
  if (api_key.empty()) throw std::invalid_argument("OpenAI api_key must not be empty");
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
    throw std::invalid_argument("OpenAI base_url must start with http:// or https://");
  }
  if (model.empty()) throw std::invalid_argument("OpenAI model must not be empty");
  if (input_usd_per_1k < 0 || output_usd_per_1k < 0) throw std::invalid_argument("OpenAI prices must be ≥ 0");
  if (connect_timeout.count() <= 0 || request_timeout.count() <= 0) {
    throw std::invalid_argument("OpenAI timeouts must be positive");
  }
  if (max_image_dimension < 1) throw std::invalid_argument("OpenAI max_image_dimension must be positive");
  if (max_output_tokens < 1) throw std::invalid_argument("OpenAI max_output_tokens must be positive");
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  std::chrono::seconds wait{0};
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    try {
      wait = std::chrono::seconds(std::stoll(value));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  } else {
    const time_t at = curl_getdate(value.c_str(), nullptr);
    if (at < 0) return std::nullopt;
    wait = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::from_time_t(at) - now);
  }
  return std::clamp(wait, std::chrono::seconds(1), std::chrono::seconds(3600));
}

OpenAiAnalyzer::OpenAiAnalyzer(OpenAiSettings settings) : settings_(std::move(settings)) {
  settings_.validate();
  ensure_curl_initialised();
  std::string base = settings_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  endpoint_ = base + "/chat/completions";
}

nlohmann::json OpenAiAnalyzer::request_body(const AnalysisInput& image) const {
  const std::string data_url = "data:" + image.mime_type + ";base64," + crypto::base64_encode(image.bytes);
  return {{"model", settings_.model},
          {"messages",
           {{{"role", "system"}, {"content", kInstruction}},
            {{"role", "user"},
             {"content",
              {{{"type", "text"}, {"text", "Analyse this image."}},
               {{"type", "image_url"}, {"image_url", {{"url", data_url}}}}}}}}},
          {"response_format",
           {{"type", "json_schema"},
            {"json_schema", {{"name", "image_analysis"}, {"strict", true}, {"schema", response_schema()}}}}},
          {"max_completion_tokens", settings_.max_output_tokens},
          {"temperature", 0.2}};
}

Analysis parse_chat_completion(const std::string& body, const OpenAiSettings& settings) {
  nlohmann::json answer;
  try {
    answer = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw AnalysisError(Kind::Permanent, "The AI provider returned an answer that could not be read.", e.what());
  }
  if (!answer.is_object() || !answer.contains("choices") || !answer["choices"].is_array() ||
      answer["choices"].empty() || !answer["choices"][0].is_object() ||
      !answer["choices"][0].contains("message") || !answer["choices"][0]["message"].is_object()) {
    throw AnalysisError(Kind::Permanent, "The AI provider returned an answer that could not be read.",
                        "no choices[0].message in: " + truncated(body, 500));
  }
  const auto& choice = answer["choices"][0];
  const auto& message = choice["message"];
  if (message.contains("refusal") && message["refusal"].is_string() && !message["refusal"].get<std::string>().empty()) {
    throw AnalysisError(Kind::Permanent,
                        "The AI provider declined to analyse this image: " +
                            truncated(message["refusal"].get<std::string>()),
                        "refusal");
  }
  if (choice.value("finish_reason", "") == "length") {
    throw AnalysisError(Kind::Permanent, "The AI provider's answer was cut off before it was complete.",
                        "finish_reason=length");
  }
  if (!message.contains("content") || !message["content"].is_string()) {
    throw AnalysisError(Kind::Permanent, "The AI provider returned an answer without content.",
                        "choices[0].message.content is not a string");
  }
  nlohmann::json content;
  try {
    content = nlohmann::json::parse(message["content"].get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw AnalysisError(Kind::Permanent, "The AI provider's answer was not valid JSON.", e.what());
  }

  Analysis analysis;
  read_content(content, analysis);
  analysis.meta.provider = "openai";
  analysis.meta.model = answer.contains("model") && answer["model"].is_string() ? answer["model"].get<std::string>()
                                                                                : settings.model;
  std::int64_t prompt = 0;
  std::int64_t completion = 0;
  if (answer.contains("usage") && answer["usage"].is_object()) {
    const auto& usage = answer["usage"];
    if (usage.contains("prompt_tokens") && usage["prompt_tokens"].is_number_integer()) prompt = usage["prompt_tokens"];
    if (usage.contains("completion_tokens") && usage["completion_tokens"].is_number_integer()) {
      completion = usage["completion_tokens"];
    }
  } else {
    log::warn("AI provider answer without usage; cost recorded as 0", {{"model", analysis.meta.model}});
  }
  analysis.meta.input_tokens = prompt;
  analysis.meta.output_tokens = completion;
  analysis.meta.estimated_cost_usd =
      estimated_cost_usd(prompt, completion, settings.input_usd_per_1k, settings.output_usd_per_1k);
  return analysis;
}

Analysis OpenAiAnalyzer::analyze(const AnalysisInput& image) {
  const std::string payload = request_body(image).dump();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw AnalysisError(Kind::Transient, "The AI provider could not be reached.", "curl_easy_init failed");
  const std::string authorization = "Authorization: Bearer " + settings_.api_key;
  curl_slist* raw_headers = nullptr;
  raw_headers = curl_slist_append(raw_headers, authorization.c_str());
  raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
  raw_headers = curl_slist_append(raw_headers, "Accept: application/json");
  raw_headers = curl_slist_append(raw_headers, "Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw_headers, &curl_slist_free_all);

  HttpResult result;
  char error[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, endpoint_.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &result);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate/br as curl supports

  const auto started = std::chrono::steady_clock::now();
  const CURLcode code = curl_easy_perform(h);
  const auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  const std::string where = " (" + endpoint_ + ")";
  if (code != CURLE_OK) {
    const std::string detail = std::string(curl_easy_strerror(code)) + ": " + error + where;
    if (result.too_large) {
      throw AnalysisError(Kind::Permanent, "The AI provider's answer was unreasonably large.", detail);
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      throw AnalysisError(Kind::Transient, "The AI provider did not answer in time.", detail);
    }
    if (is_permanent_curl_error(code)) {
      throw AnalysisError(Kind::Permanent, "The AI provider is not configured correctly (address or TLS).", detail);
    }
    throw AnalysisError(Kind::Transient, "The AI provider could not be reached.", detail);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);

  const std::string status = "HTTP " + std::to_string(result.status) + where;
  if (result.status == 429) {
    throw AnalysisError(Kind::Transient, "The AI provider is rate limiting requests.",
                        status + ": " + truncated(provider_message(result.body), 500), retry_after_of(result));
  }
  if (result.status >= 500 || result.status == 408 || result.status == 409) {
    throw AnalysisError(Kind::Transient, "The AI provider had a temporary problem.",
                        status + ": " + truncated(provider_message(result.body), 500), retry_after_of(result));
  }
  if (result.status == 401 || result.status == 403) {
    throw AnalysisError(Kind::Permanent, "The AI provider rejected the API key.",
                        status + ": " + truncated(provider_message(result.body), 500));
  }
  if (result.status != 200) {
    const auto said = provider_message(result.body);
    throw AnalysisError(Kind::Permanent,
                        "The AI provider rejected the request" + (said.empty() ? "." : ": " + truncated(said)),
                        status + ": " + truncated(result.body, 500));
  }
  Analysis analysis = parse_chat_completion(result.body, settings_);
  analysis.meta.latency_ms = latency;
  return analysis;
}

}  // namespace imageproc::ai
