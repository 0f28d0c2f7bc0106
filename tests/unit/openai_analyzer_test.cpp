// The `openai` provider against a local server speaking OpenAI's Chat Completions wire format (the real API
// cannot be reached from here): what it sends, and how each kind of answer ends.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vips/vips8>

#include "ai/openai_analyzer.hpp"
#include "core/crypto.hpp"
#include "core/temp_file.hpp"
#include "fake_openai.hpp"
#include "imaging/pipeline.hpp"
#include "shell.hpp"
#include "vips_suite.hpp"

namespace imageproc::ai {
namespace {

namespace fs = std::filesystem;
using testing::FakeOpenAi;
using testing::FakeReply;
using vips::VImage;

class OpenAiAnalyzerTest : public testing::VipsSuite {
 protected:

  OpenAiSettings settings(const FakeOpenAi& fake) const {
    OpenAiSettings s;
    s.base_url = fake.base_url();
    s.api_key = "test-key";
    s.model = "gpt-4.1-mini";
    s.input_usd_per_1k = 0.0004;
    s.output_usd_per_1k = 0.0016;
    s.connect_timeout = std::chrono::milliseconds(1000);
    s.request_timeout = std::chrono::milliseconds(3000);
    return s;
  }

  // A 3000×2000 camera JPEG with orientation 6, camera tags and GPS, prepared as the AI stage does.
  AnalysisInput camera_input() {
    const auto path = dir_.path() / "camera.jpg";
    VImage xy = VImage::xyz(3000, 2000);
    (xy[0] * (255.0 / 3000)).bandjoin(xy[1] * (255.0 / 2000)).bandjoin(VImage::black(3000, 2000) + 90)
        .cast(VIPS_FORMAT_UCHAR)
        .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
        .jpegsave(path.c_str());
    testing::run_command("exiftool -q -q -overwrite_original -n -Orientation=6 -Make=TestCam -Model=Model-X "
                         "-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E '" +
                         path.string() + "'");
    EXPECT_NE(testing::run_command("exiftool -GPSLatitude '" + path.string() + "'").find("48"), std::string::npos);
    auto jpeg = imaging::analysis_jpeg(path, 1024);
    return AnalysisInput{std::move(jpeg.bytes), jpeg.mime_type, jpeg.width, jpeg.height};
  }

  static AnalysisInput small_input() {
    void* data = nullptr;
    std::size_t size = 0;
    (VImage::black(64, 48, VImage::option()->set("bands", 3)) + 128)
        .cast(VIPS_FORMAT_UCHAR)
        .write_to_buffer(".jpg", &data, &size);
    std::string bytes(static_cast<const char*>(data), size);
    g_free(data);
    return AnalysisInput{bytes, "image/jpeg", 64, 48};
  }

  // Runs one analysis against `fake` and returns the error it ended in (fails the test if it succeeded).
  AnalysisError failure(FakeOpenAi& fake, OpenAiSettings s) {
    OpenAiAnalyzer analyzer(std::move(s));
    try {
      analyzer.analyze(small_input());
    } catch (const AnalysisError& e) {
      return e;
    }
    ADD_FAILURE() << "the analysis succeeded";
    return AnalysisError(AnalysisError::Kind::Permanent, "");
  }

  TempDir dir_ = TempDir::create(fs::temp_directory_path(), "openai-test-");
};

TEST_F(OpenAiAnalyzerTest, SendsTheModelSchemaKeyAndAMetadataFreeImageAsADataUrl) {
  FakeOpenAi fake({{200, {}, testing::chat_completion(testing::sample_analysis(), 1234, 56)}});
  OpenAiAnalyzer analyzer(settings(fake));
  const auto input = camera_input();
  analyzer.analyze(input);

  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/chat/completions");
  EXPECT_EQ(r.header("authorization"), "Bearer test-key");
  EXPECT_EQ(r.header("content-type"), "application/json");
  const auto body = r.json();
  EXPECT_EQ(body["model"], "gpt-4.1-mini");
  const auto& format = body["response_format"];
  EXPECT_EQ(format["type"], "json_schema");
  EXPECT_EQ(format["json_schema"]["strict"], true);
  const auto& schema = format["json_schema"]["schema"];
  EXPECT_EQ(schema["required"], (nlohmann::json{"summary", "ocrText", "tags", "safety"}));
  EXPECT_EQ(schema["additionalProperties"], false);
  EXPECT_EQ(schema["properties"]["safety"]["required"], (nlohmann::json{"adult", "violence", "selfHarm"}));
  EXPECT_EQ(schema["properties"]["tags"]["items"]["required"], (nlohmann::json{"label", "confidence"}));

  std::string url;
  for (const auto& part : body["messages"].back()["content"]) {
    if (part["type"] == "image_url") url = part["image_url"]["url"];
  }
  const std::string prefix = "data:image/jpeg;base64,";
  ASSERT_EQ(url.rfind(prefix, 0), 0u);
  std::string encoded = url.substr(prefix.size());
  for (auto& c : encoded) c = c == '+' ? '-' : c == '/' ? '_' : c;  // standard base64 → base64url
  const auto bytes = crypto::base64url_decode(encoded);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(*bytes, input.bytes);  // exactly the prepared image
  EXPECT_EQ(static_cast<unsigned char>((*bytes)[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>((*bytes)[1]), 0xD8);
  EXPECT_EQ(bytes->find("Exif"), std::string::npos);
  EXPECT_EQ(bytes->find("GPS"), std::string::npos);
  EXPECT_EQ(bytes->find("TestCam"), std::string::npos);
  const VImage sent = VImage::new_from_buffer(bytes->data(), bytes->size(), "");
  EXPECT_EQ(sent.width(), 683);  // upright: orientation 6 turns 3000×2000 into 2000×3000, fitted into 1024
  EXPECT_EQ(sent.height(), 1024);
}

TEST_F(OpenAiAnalyzerTest, SuccessGivesTheAnalysisTokensModelAndExactCost) {
  FakeOpenAi fake({{200, {}, testing::chat_completion(testing::sample_analysis(), 1234, 56)}});
  OpenAiAnalyzer analyzer(settings(fake));
  const Analysis a = analyzer.analyze(small_input());
  EXPECT_EQ(a.summary, "  A red bicycle leaning against a brick wall.  ");  // raw: the stage normalises
  ASSERT_EQ(a.tags.size(), 3u);
  EXPECT_EQ(a.tags[0].label, "bicycle");
  EXPECT_DOUBLE_EQ(a.tags[0].confidence, 0.97);
  ASSERT_TRUE(a.safety.has_value());
  EXPECT_FALSE(a.safety->adult);
  EXPECT_EQ(a.meta.provider, "openai");
  EXPECT_EQ(a.meta.model, "gpt-4.1-mini-2025-04-14");  // from the answer, not the request
  EXPECT_EQ(a.meta.input_tokens, 1234);
  EXPECT_EQ(a.meta.output_tokens, 56);
  // 1234/1000 × 0.0004 + 56/1000 × 0.0016 = 0.0004936 + 0.0000896
  EXPECT_DOUBLE_EQ(a.meta.estimated_cost_usd, 0.0005832);
  EXPECT_GE(a.meta.latency_ms, 0);
  const Analysis n = normalized(a);
  EXPECT_EQ(n.summary, "A red bicycle leaning against a brick wall.");
  EXPECT_FALSE(n.ocr_text.has_value());
}

TEST_F(OpenAiAnalyzerTest, RateLimitIsTransientWithRetryAfter) {
  FakeOpenAi fake({{429, {{"Retry-After", "7"}}, testing::error_body("Rate limit reached", "requests", "rate_limit_exceeded")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_TRUE(e.transient());
  ASSERT_TRUE(e.retry_after().has_value());
  EXPECT_EQ(*e.retry_after(), std::chrono::seconds(7));
  EXPECT_STREQ(e.what(), "The AI provider is rate limiting requests.");
}

TEST_F(OpenAiAnalyzerTest, ServerErrorIsTransient) {
  FakeOpenAi fake({{500, {}, testing::error_body("The server had an error", "server_error", "server_error")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_TRUE(e.transient());
  EXPECT_FALSE(e.retry_after().has_value());
}

TEST_F(OpenAiAnalyzerTest, AHangPastTheTimeoutIsTransient) {
  FakeOpenAi fake({{0, {}, "", true}});
  auto s = settings(fake);
  s.request_timeout = std::chrono::milliseconds(300);
  const auto e = failure(fake, s);
  EXPECT_TRUE(e.transient());
  EXPECT_STREQ(e.what(), "The AI provider did not answer in time.");
}

TEST_F(OpenAiAnalyzerTest, ContentThatIsNotJsonIsPermanent) {
  FakeOpenAi fake({{200, {}, testing::chat_completion("{\"summary\": \"A cat", 300, 20)}});
  const auto e = failure(fake, settings(fake));
  EXPECT_FALSE(e.transient());
  EXPECT_STREQ(e.what(), "The AI provider's answer was not valid JSON.");
}

TEST_F(OpenAiAnalyzerTest, SchemaViolationsArePermanentAndNameTheField) {
  auto wrong_type = testing::sample_analysis();
  wrong_type["tags"][0]["confidence"] = "high";
  auto missing = testing::sample_analysis();
  missing.erase("safety");
  for (const auto& [content, field] : {std::pair{wrong_type, "tags[0].confidence"}, std::pair{missing, "safety"}}) {
    FakeOpenAi fake({{200, {}, testing::chat_completion(content, 300, 20)}});
    const auto e = failure(fake, settings(fake));
    EXPECT_FALSE(e.transient());
    EXPECT_NE(std::string(e.what()).find("did not match the expected format"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST_F(OpenAiAnalyzerTest, RefusalIsPermanentAndQuotesTheProvider) {
  FakeOpenAi fake({{200, {}, testing::refusal_completion("I'm sorry, I can't help with that.")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_FALSE(e.transient());
  EXPECT_STREQ(e.what(), "The AI provider declined to analyse this image: I'm sorry, I can't help with that.");
}

TEST_F(OpenAiAnalyzerTest, TruncatedAnswerIsPermanent) {
  FakeOpenAi fake({{200, {}, testing::chat_completion("{\"summary\": \"A", 300, 1000, "gpt-4.1-mini", "length")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_FALSE(e.transient());
  EXPECT_NE(std::string(e.what()).find("cut off"), std::string::npos);
}

TEST_F(OpenAiAnalyzerTest, RejectedKeyIsPermanentAndNeverQuotesTheKey) {
  FakeOpenAi fake({{401, {}, testing::error_body("Incorrect API key provided: test-key.", "invalid_request_error", "invalid_api_key")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_FALSE(e.transient());
  EXPECT_STREQ(e.what(), "The AI provider rejected the API key.");
}

TEST_F(OpenAiAnalyzerTest, OtherClientErrorsArePermanentWithTheProvidersMessage) {
  FakeOpenAi fake({{400, {}, testing::error_body("Invalid image data.", "invalid_request_error", "invalid_image")}});
  const auto e = failure(fake, settings(fake));
  EXPECT_FALSE(e.transient());
  EXPECT_STREQ(e.what(), "The AI provider rejected the request: Invalid image data.");
}

TEST_F(OpenAiAnalyzerTest, UnreachableServerIsTransient) {
  std::string closed_url;
  {
    FakeOpenAi gone({});
    closed_url = gone.base_url();
  }  // the port is closed now
  FakeOpenAi unused({});
  auto s = settings(unused);
  s.base_url = closed_url;
  OpenAiAnalyzer analyzer(s);
  try {
    analyzer.analyze(small_input());
    ADD_FAILURE() << "the analysis succeeded";
  } catch (const AnalysisError& e) {
    EXPECT_TRUE(e.transient());
    EXPECT_STREQ(e.what(), "The AI provider could not be reached.");
  }
}

TEST(OpenAiRetryAfter, AcceptsSecondsAndHttpDatesAndClamps) {
  const auto now = std::chrono::system_clock::from_time_t(1763800000);  // 2025-11-22T08:26:40Z
  EXPECT_EQ(parse_retry_after("7", now), std::chrono::seconds(7));
  EXPECT_EQ(parse_retry_after("0", now), std::chrono::seconds(1));
  EXPECT_EQ(parse_retry_after("86400", now), std::chrono::seconds(3600));
  EXPECT_EQ(parse_retry_after("Sat, 22 Nov 2025 08:27:10 GMT", now), std::chrono::seconds(30));
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
}

TEST(OpenAiSettingsTest, ValidateNamesTheField) {
  OpenAiSettings s;
  EXPECT_THROW(s.validate(), std::invalid_argument);  // no key
  s.api_key = "k";
  EXPECT_NO_THROW(s.validate());
  s.base_url = "ftp://example.com";
  EXPECT_THROW(s.validate(), std::invalid_argument);
}

}  // namespace
}  // namespace imageproc::ai
