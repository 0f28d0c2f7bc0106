#include <gtest/gtest.h>

#include "contracts/jobs.hpp"

namespace imageproc::contracts {
namespace {

TEST(OverallStatus, FollowsTheDesignTableForEveryCombination) {
  const std::vector<std::string> image = {"Pending", "Processing", "Completed", "Error"};
  const std::vector<std::string> ai = {"Pending", "Processing", "Completed", "Error", "Skipped"};
  for (const auto& s : image) {
    for (const auto& a : ai) {
      SCOPED_TRACE(s + "/" + a);
      std::string expected;
      if (s == "Error" || a == "Error") {
        expected = "Error";
      } else if (s == "Pending" || s == "Processing") {
        expected = "Processing";
      } else if (a == "Pending" || a == "Processing") {
        expected = "AiProcessing";
      } else {
        expected = "Completed";
      }
      EXPECT_EQ(overall_status(s, a), expected);
      const auto& all = overall_statuses();
      EXPECT_NE(std::find(all.begin(), all.end(), expected), all.end());
    }
  }
  EXPECT_EQ(overall_status("Completed", "Skipped"), "Completed");
  EXPECT_EQ(overall_status("Error", "Skipped"), "Error");
}

TEST(StageMessage, RoundTripsAndRejectsWhatIsNotOne) {
  const StageMessage m{"0190f5a4-1b2c-7d3e-8f40-123456789abc", "0190f5a4-1b2c-7d3e-8f40-abcdefabcdef", 3,
                       "t1"};
  const auto back = decode_stage_message(encode(m));
  EXPECT_EQ(back.job_id, m.job_id);
  EXPECT_EQ(back.user_id, m.user_id);
  EXPECT_EQ(back.attempt, 3);
  EXPECT_EQ(back.trace_id, "t1");
  EXPECT_EQ(nlohmann::json::parse(encode(m))["v"], 1);

  for (
      const std::string bad : {
          "",
          "not json",
          "[]",
          R"({"jobId":"x"})",
          R"({"v":2,"jobId":"0190f5a4-1b2c-7d3e-8f40-123456789abc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef"})",
          R"({"v":1,"jobId":"../../etc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef"})",
          R"({"v":1,"jobId":"0190f5a4-1b2c-7d3e-8f40-123456789abc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef","attempt":0})",
          R"({"v":1,"jobId":"0190f5a4-1b2c-7d3e-8f40-123456789abc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef","attempt":"2"})",
      }) {
    EXPECT_THROW(decode_stage_message(bad), MalformedMessage) << bad;
  }
  // attempt is optional (first attempt).
  EXPECT_EQ(
      decode_stage_message(
          R"({"v":1,"jobId":"0190f5a4-1b2c-7d3e-8f40-123456789abc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef"})")
          .attempt,
      1);
}

TEST(JobEvent, RoundTripsTheSummary) {
  JobSummaryData s;
  s.id = "j";
  s.user_id = "u";
  s.original_filename = "cat.jpg";
  s.file_size = 1234;
  s.status = "Completed";
  s.ai_status = "Pending";
  s.created_at = "2026-11-22T07:00:00Z";
  s.completed_at = "2026-11-22T07:00:01Z";
  s.width = 640;
  s.height = 480;
  s.thumbnail_key = "processed/u/j/thumb-512.webp";
  s.blurhash = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
  s.tags = {"cat", "indoor"};
  const auto back = summary_from_event(to_event(s));
  EXPECT_EQ(back.id, s.id);
  EXPECT_EQ(back.user_id, s.user_id);
  EXPECT_EQ(back.file_size, 1234);
  EXPECT_EQ(back.completed_at, s.completed_at);
  EXPECT_EQ(back.width, 640);
  EXPECT_EQ(back.thumbnail_key, s.thumbnail_key);
  EXPECT_EQ(back.blurhash, s.blurhash);
  EXPECT_EQ(back.tags, s.tags);

  JobSummaryData pending = s;
  pending.completed_at.reset();
  pending.width.reset();
  pending.thumbnail_key.reset();
  const auto back2 = summary_from_event(to_event(pending));
  EXPECT_FALSE(back2.completed_at);
  EXPECT_FALSE(back2.width);
  EXPECT_FALSE(back2.thumbnail_key);
  EXPECT_THROW(summary_from_event(nlohmann::json{{"v", 1}, {"id", "x"}}), MalformedMessage);
  EXPECT_EQ(events_routing_key("u1"), "job.u1");
}

// fuzz/jobs_fuzz's invariant (numbers come back exactly as sent) fails on this, seed
// fuzz/corpus/jobs/regression-message-version-4294967297: the version was read with get<int>(), so 4294967297
// passed as 1.
TEST(StageMessage, VersionAndAttemptMustBeExactlyTheIntegersSent) {
  const std::string ids =
      R"("jobId":"0190f5a4-1b2c-7d3e-8f40-123456789abc","userId":"0190f5a4-1b2c-7d3e-8f40-abcdefabcdef")";
  EXPECT_EQ(decode_stage_message("{\"v\":1," + ids + ",\"attempt\":1000}").attempt, 1000);
  for (const std::string bad : {R"("v":4294967297)", R"("v":1.0)", R"("v":"1")",
                                R"("v":18446744073709551617)", R"("v":1,"attempt":4294967297)",
                                R"("v":1,"attempt":18446744073709551615)", R"("v":1,"attempt":2.5)"}) {
    EXPECT_THROW(decode_stage_message("{" + bad + "," + ids + "}"), MalformedMessage) << bad;
  }
}

// fuzz/jobs_fuzz fails on these (seeds fuzz/corpus/jobs/regression-event-*): "fileSize":1e300 converted a
// double to int64 (undefined behaviour, UBSan's "1e+300 is outside the range of representable values"), 1.9
// was read as version 1, and a width of 4294967297 became 1.
TEST(JobEvent, RefusesNumbersItCannotHoldExactly) {
  const nlohmann::json valid = {
      {"v", 1},        {"id", "j"},     {"userId", "u"},   {"originalFilename", "f"},
      {"fileSize", 5}, {"status", "s"}, {"aiStatus", "a"}, {"createdAt", "c"}};
  nlohmann::json big = valid;
  big["fileSize"] = 9007199254740993LL;  // above 2^53: exact as an integer, not as a double
  EXPECT_EQ(summary_from_event(big).file_size, 9007199254740993LL);
  const std::vector<std::pair<std::string, nlohmann::json>> bad = {
      {"fileSize", 1e300}, {"fileSize", 1.5},       {"fileSize", 18446744073709551615ULL},
      {"v", 1.9},          {"v", 4294967297LL},     {"width", 4294967297LL},
      {"height", 2.5},     {"width", -2147483649LL}};
  for (const auto& [field, value] : bad) {
    nlohmann::json event = valid;
    event[field] = value;
    EXPECT_THROW(summary_from_event(event), MalformedMessage) << field << "=" << value.dump();
  }
  EXPECT_THROW(summary_from_event(nlohmann::json::array({1})), MalformedMessage);
}

TEST(ObjectKeys, AreDeterministicAndNeverUseTheFilename) {
  EXPECT_EQ(original_key("u", "j"), "originals/u/j");
  EXPECT_EQ(processed_prefix("u", "j"), "processed/u/j/");
  EXPECT_EQ(output_key("u", "j", "thumb-128", "webp"), "processed/u/j/thumb-128.webp");
  EXPECT_EQ(output_key("u", "j", "optimized", "avif"), "processed/u/j/optimized.avif");
}

TEST(ObjectKeys, OwnerIsReadBackFromOurLayoutOnly) {
  const std::string u = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  const std::string j = "0190a1b2-c3d4-7e5f-8a9b-000000000001";
  for (const auto& key :
       {original_key(u, j), output_key(u, j, "thumb-128", "webp"), output_key(u, j, "optimized", "webp")}) {
    const auto owner = owner_of_key(key);
    ASSERT_TRUE(owner) << key;
    EXPECT_EQ(owner->user_id, u);
    EXPECT_EQ(owner->job_id, j);
  }
  for (const std::string& key : std::vector<std::string>{
           "originals/" + u, "originals/" + u + "/" + j + "/extra", "processed/" + u + "/" + j,
           "processed/" + u + "/" + j + "/", "processed/" + u + "/" + j + "/a/b.webp",
           "originals/not-a-uuid/" + j, "originals/" + u + "/0190A1B2-C3D4-7E5F-8A9B-000000000001",
           "other/" + u + "/" + j, "", "originals/"}) {
    EXPECT_FALSE(owner_of_key(key)) << key;
  }
}

}  // namespace
}  // namespace imageproc::contracts
