// The AI stage end to end (DESIGN §7): the real api and worker binaries, PostgreSQL, RabbitMQ and the local
// store, with each provider — `local` (Tesseract, offline), `none`, and `openai` against a local server that
// speaks OpenAI's wire format (the real API cannot be reached from here; the worker's real client code runs).

#include "fake_openai.hpp"
#include "images_fixture.hpp"

#include "core/crypto.hpp"

namespace imageproc::testing {
namespace {

// Dark text on a white page, like a scanned invoice line.
std::string text_png(const std::string& words) {
  VImage mask = VImage::text(words.c_str(), VImage::option()->set("dpi", 220)->set("font", "sans"));
  VImage page = (255 - mask).embed(60, 60, mask.width() + 120, mask.height() + 120,
                                   VImage::option()->set("extend", VIPS_EXTEND_WHITE));
  page = page.bandjoin(page).bandjoin(page).cast(VIPS_FORMAT_UCHAR).copy(
      VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return png(page);
}

class AiTest : public ImagesTest {
 protected:
  // Polls the detail until the AI stage leaves Pending/Processing (bounded); returns the last detail.
  nlohmann::json wait_for_ai_stage(const std::string& token, const std::string& id,
                                   std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json d;
    while (std::chrono::steady_clock::now() < deadline) {
      d = detail(token, id);
      const auto ai = d.value("aiStatus", "");
      if (ai == "Completed" || ai == "Error" || ai == "Skipped") return d;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "AI stage of " << id << " did not finish: " << d.dump();
    return d;
  }

  void start_with_openai(const FakeOpenAi& fake, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env = {{"AI_PROVIDER", "openai"},
                                              {"OPENAI_API_KEY", "sk-integration-test"},
                                              {"OPENAI_BASE_URL", fake.base_url()},
                                              {"AI_CONNECT_TIMEOUT_MS", "1000"},
                                              {"AI_REQUEST_TIMEOUT_MS", "5000"}};
    for (auto& [k, v] : extra) env[k] = v;
    start({}, true, env);
  }

  static bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
  }
};

TEST_F(AiTest, LocalProviderReadsTheTextOfAnUploadedDocumentAndMakesItSearchable) {
  start({}, true, {{"AI_PROVIDER", "local"}});
  const auto token = register_user("local-ai@example.com");
  const auto id = upload_ok(token, "invoice.png", text_png("INVOICE 2024-117\nTotal due 1,250.00 EUR"));
  const auto d = wait_for_ai_stage(token, id);
  ASSERT_EQ(d["aiStatus"], "Completed") << d.dump();
  EXPECT_EQ(d["overallStatus"], "Completed");
  const auto& analysis = d["aiAnalysis"];
  ASSERT_TRUE(analysis["ocrText"].is_string()) << analysis.dump();
  EXPECT_TRUE(contains(analysis["ocrText"], "INVOICE")) << analysis["ocrText"];
  EXPECT_TRUE(contains(analysis["ocrText"], "1,250.00")) << analysis["ocrText"];
  EXPECT_TRUE(analysis["safety"].is_null());  // not assessed
  EXPECT_EQ(analysis["meta"]["provider"], "local");
  EXPECT_TRUE(contains(analysis["meta"]["model"], "tesseract")) << analysis["meta"].dump();
  EXPECT_EQ(analysis["meta"]["estimatedCostUsd"], 0.0);
  EXPECT_FALSE(analysis["summary"].get<std::string>().empty());
  bool text_tag = false;
  for (const auto& tag : analysis["tags"]) text_tag = text_tag || tag["label"] == "text";
  EXPECT_TRUE(text_tag) << analysis["tags"].dump();
  EXPECT_TRUE(d["aiStartedAt"].is_string());
  EXPECT_TRUE(d["aiCompletedAt"].is_string());

  // The OCR text feeds the gallery search.
  const auto found = api_->get("/api/images?q=invoice", bearer(token)).json();
  ASSERT_EQ(found["totalCount"], 1) << found.dump();
  EXPECT_EQ(found["items"][0]["id"], id);
  EXPECT_EQ(api_->get("/api/images?q=zebra", bearer(token)).json()["totalCount"], 0);
}

TEST_F(AiTest, ProviderNoneSkipsTheStageWithItsReason) {
  start({}, true, {{"AI_PROVIDER", "none"}});
  const auto token = register_user("no-ai@example.com");
  const auto id = upload_ok(token, "photo.jpg", jpeg(picture(640, 480)));
  const auto d = wait_for_ai_stage(token, id);
  EXPECT_EQ(d["status"], "Completed");
  EXPECT_EQ(d["aiStatus"], "Skipped");
  EXPECT_EQ(d["aiErrorMessage"], "AI analysis is disabled.");
  EXPECT_TRUE(d["aiAnalysis"].is_null());
  EXPECT_EQ(d["overallStatus"], "Completed");
}

TEST_F(AiTest, OpenAiProviderGetsAMetadataFreeImageAndItsAnswerIsNormalisedAndCosted) {
  // First a 429 with Retry-After (through the retry queue), then an answer.
  FakeOpenAi fake({{429, {{"Retry-After", "1"}}, error_body("Rate limit reached", "requests", "rate_limit_exceeded")},
                   {200, {}, chat_completion(sample_analysis(), 1234, 56)}});
  start_with_openai(fake, {{"AI_INPUT_USD_PER_1K", "0.0004"}, {"AI_OUTPUT_USD_PER_1K", "0.0016"}});
  const auto token = register_user("openai@example.com");
  const auto id = upload_ok(token, "camera.jpg", jpeg_with_exif(3000, 2000, 6, scratch_.path()));
  const auto d = wait_for_ai_stage(token, id);
  ASSERT_EQ(d["aiStatus"], "Completed") << d.dump();
  EXPECT_EQ(d["aiRetryCount"], 1);

  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto& request = requests.back();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/v1/chat/completions");
  EXPECT_EQ(request.header("authorization"), "Bearer sk-integration-test");
  const auto body = request.json();
  EXPECT_EQ(body["model"], "gpt-4.1-mini");
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  // The image: upright (orientation 6 turns 3000×2000 into 2000×3000), fitted into 1024, no EXIF or GPS.
  std::string url;
  for (const auto& part : body["messages"].back()["content"]) {
    if (part["type"] == "image_url") url = part["image_url"]["url"];
  }
  const std::string prefix = "data:image/jpeg;base64,";
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url.substr(0, 40);
  std::string encoded = url.substr(prefix.size());
  for (auto& c : encoded) c = c == '+' ? '-' : c == '/' ? '_' : c;  // standard base64 → base64url
  const auto decoded = crypto::base64url_decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  const std::string& jpeg_bytes = *decoded;
  const VImage sent = VImage::new_from_buffer(jpeg_bytes.data(), jpeg_bytes.size(), "");
  EXPECT_EQ(sent.width(), 683);
  EXPECT_EQ(sent.height(), 1024);
  EXPECT_EQ(sent.get_typeof("exif-data"), 0u);
  EXPECT_FALSE(contains(jpeg_bytes, "Exif"));
  EXPECT_FALSE(contains(jpeg_bytes, "TestCam"));

  // Normalised: summary trimmed, blank OCR → null, confidences clamped and sorted.
  const auto& analysis = d["aiAnalysis"];
  EXPECT_EQ(analysis["summary"], "A red bicycle leaning against a brick wall.");
  EXPECT_TRUE(analysis["ocrText"].is_null());
  ASSERT_EQ(analysis["tags"].size(), 3u);
  EXPECT_EQ(analysis["tags"][0], (nlohmann::json{{"label", "wall"}, {"confidence", 1.0}}));
  EXPECT_EQ(analysis["tags"][1], (nlohmann::json{{"label", "bicycle"}, {"confidence", 0.97}}));
  EXPECT_EQ(analysis["tags"][2], (nlohmann::json{{"label", "street"}, {"confidence", 0.0}}));
  EXPECT_EQ(analysis["safety"], (nlohmann::json{{"adult", false}, {"violence", false}, {"selfHarm", false}}));
  EXPECT_EQ(analysis["meta"]["provider"], "openai");
  EXPECT_EQ(analysis["meta"]["model"], "gpt-4.1-mini-2025-04-14");
  EXPECT_EQ(analysis["meta"]["inputTokens"], 1234);
  EXPECT_EQ(analysis["meta"]["outputTokens"], 56);
  // 1234/1000 × 0.0004 + 56/1000 × 0.0016 = 0.0004936 + 0.0000896
  EXPECT_DOUBLE_EQ(analysis["meta"]["estimatedCostUsd"].get<double>(), 0.0005832);
  // The tags reach the gallery summary.
  const auto list = api_->get("/api/images", bearer(token)).json();
  EXPECT_EQ(list["items"][0]["tags"], (nlohmann::json{"wall", "bicycle", "street"}));
}

TEST_F(AiTest, RefusalIsAVisibleErrorAndRetryRerunsOnlyTheAiStage) {
  FakeOpenAi fake({{200, {}, refusal_completion("I'm sorry, I can't help with that.")}});
  start_with_openai(fake);
  const auto token = register_user("refusal@example.com");
  const auto id = upload_ok(token, "photo.jpg", jpeg(picture(800, 600)));
  const auto failed = wait_for_ai_stage(token, id);
  ASSERT_EQ(failed["aiStatus"], "Error") << failed.dump();
  EXPECT_EQ(failed["status"], "Completed");
  EXPECT_EQ(failed["overallStatus"], "Error");
  EXPECT_TRUE(contains(failed["aiErrorMessage"], "I'm sorry, I can't help with that.")) << failed["aiErrorMessage"];
  EXPECT_EQ(fake.requests().size(), 1u);  // a refusal is final: never retried on its own

  fake.set_script({{200, {}, chat_completion(sample_analysis(), 500, 40)}});
  const auto retry = api_->request({"POST", "/api/images/" + id + "/retry", "", bearer(token)});
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(retry.json()["aiStatus"], "Pending");
  EXPECT_EQ(retry.json()["status"], "Completed");
  const auto done = wait_for_ai_stage(token, id);
  EXPECT_EQ(done["aiStatus"], "Completed") << done.dump();
  EXPECT_EQ(done["startedAt"], failed["startedAt"]);  // the image stage did not run again
  EXPECT_EQ(done["thumbnails"].size(), failed["thumbnails"].size());
  EXPECT_EQ(done["overallStatus"], "Completed");
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST_F(AiTest, MalformedAndSchemaViolatingAnswersAreErrorsWithReadableMessages) {
  FakeOpenAi fake({{200, {}, chat_completion("{\"summary\": \"cut off", 300, 20)}});
  start_with_openai(fake);
  const auto token = register_user("malformed@example.com");
  const auto invalid = wait_for_ai_stage(token, upload_ok(token, "a.jpg", jpeg(picture(320, 240))));
  ASSERT_EQ(invalid["aiStatus"], "Error") << invalid.dump();
  EXPECT_TRUE(contains(invalid["aiErrorMessage"], "not valid JSON")) << invalid["aiErrorMessage"];

  auto wrong = sample_analysis();
  wrong["tags"][0]["confidence"] = "very";
  fake.set_script({{200, {}, chat_completion(wrong, 300, 20)}});
  const auto violating = wait_for_ai_stage(token, upload_ok(token, "b.jpg", jpeg(picture(320, 240))));
  ASSERT_EQ(violating["aiStatus"], "Error") << violating.dump();
  EXPECT_TRUE(contains(violating["aiErrorMessage"], "expected format")) << violating["aiErrorMessage"];
  EXPECT_EQ(fake.requests().size(), 2u);  // neither was asked twice
}

TEST_F(AiTest, ServerErrorsAndTimeoutsAreRetriedThenGiveUpVisibly) {
  // A hang past the request timeout, then a 500, then an answer: Completed on the third attempt.
  FakeOpenAi fake({{0, {}, "", true},
                   {500, {}, error_body("The server had an error", "server_error", "server_error")},
                   {200, {}, chat_completion(sample_analysis(), 100, 10)}});
  start_with_openai(fake, {{"AI_REQUEST_TIMEOUT_MS", "1000"}});
  const auto token = register_user("flaky@example.com");
  const auto recovered = wait_for_ai_stage(token, upload_ok(token, "a.jpg", jpeg(picture(320, 240))));
  EXPECT_EQ(recovered["aiStatus"], "Completed") << recovered.dump();
  EXPECT_EQ(recovered["aiRetryCount"], 2);

  // Always 500: after the last retry delay (QUEUE_RETRY_DELAYS_MS has two) the stage is an Error.
  fake.set_script({{503, {}, error_body("Service unavailable", "server_error", "server_error")}});
  const auto gave_up = wait_for_ai_stage(token, upload_ok(token, "b.jpg", jpeg(picture(320, 240))));
  ASSERT_EQ(gave_up["aiStatus"], "Error") << gave_up.dump();
  EXPECT_TRUE(contains(gave_up["aiErrorMessage"], "Gave up after 3 attempts")) << gave_up["aiErrorMessage"];
}

TEST_F(AiTest, DailyBudgetSkipsAnalysesOnceSpent) {
  FakeOpenAi fake({{200, {}, chat_completion(sample_analysis(), 1234, 56)}});
  start_with_openai(fake, {{"AI_DAILY_BUDGET_USD", "0.0005"}, {"WORKER_AI_CONCURRENCY", "1"}});
  const auto token = register_user("budget@example.com");
  const auto first = wait_for_ai_stage(token, upload_ok(token, "a.jpg", jpeg(picture(320, 240))));
  ASSERT_EQ(first["aiStatus"], "Completed") << first.dump();  // 0.0005832 spent: over the cap now
  const auto second = wait_for_ai_stage(token, upload_ok(token, "b.jpg", jpeg(picture(320, 240))));
  EXPECT_EQ(second["aiStatus"], "Skipped") << second.dump();
  EXPECT_TRUE(contains(second["aiErrorMessage"], "daily AI budget of $0.0005 is used up")) << second["aiErrorMessage"];
  EXPECT_EQ(fake.requests().size(), 1u);

  // Another user has their own budget.
  const auto other = register_user("budget-other@example.com");
  EXPECT_EQ(wait_for_ai_stage(other, upload_ok(other, "c.jpg", jpeg(picture(320, 240))))["aiStatus"], "Completed");
}

TEST_F(AiTest, OpenAiWithoutAKeyRefusesToStartTheWorker) {
  TestDatabase db;
  auto env = stack_env(db);
  env["AI_PROVIDER"] = "openai";
  ImageprocProcess worker({"worker"}, env);
  EXPECT_TRUE(worker.wait_for_line("OPENAI_API_KEY is required when AI_PROVIDER=openai", 30s).has_value());
  EXPECT_FALSE(worker.wait_for_line("\"worker started\"", 1s).has_value());
}

}  // namespace
}  // namespace imageproc::testing
