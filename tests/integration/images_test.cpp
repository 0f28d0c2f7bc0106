// The pipeline end to end (issue: upload → outbox → RabbitMQ → worker image stage → job API): the real api and
// worker binaries against PostgreSQL, RabbitMQ and the local object store. Images are made here with libvips
// and exiftool; outputs are read back from the signed URLs the API hands out.

#include "images_fixture.hpp"

namespace imageproc::testing {
namespace {

TEST_F(ImagesTest, PhonePhotoCompletesWithOrientedCleanOutputsBehindSignedUrls) {
  start();
  const auto token = register_user("phone@example.com");
  const auto id = upload_ok(token, "IMG_0001.JPG", jpeg_with_exif(1200, 800, 6, scratch_.path()));
  ASSERT_FALSE(id.empty());
  const auto d = wait_for_image_stage(token, id);
  ASSERT_EQ(d["status"], "Completed") << d.dump();
  EXPECT_EQ(d["originalFilename"], "IMG_0001.JPG");
  EXPECT_EQ(d["mimeType"], "image/jpeg");
  EXPECT_EQ(d["metadata"]["orientation"], 6);
  EXPECT_EQ(d["metadata"]["width"], 800);   // oriented: the camera's 1200 × 800 stands upright
  EXPECT_EQ(d["metadata"]["height"], 1200);
  EXPECT_EQ(d["metadata"]["exif"]["Make"], "TestCam");
  EXPECT_NEAR(d["metadata"]["gps"]["lat"].get<double>(), 48.8584, 1e-3);
  EXPECT_NEAR(d["metadata"]["gps"]["lon"].get<double>(), 2.2945, 1e-3);
  EXPECT_EQ(d["overallStatus"], contracts::overall_status("Completed", d["aiStatus"].get<std::string>()));

  const std::map<std::string, std::pair<int, int>> expected = {
      {"thumb-128", {85, 128}}, {"thumb-512", {341, 512}}, {"thumb-1024", {683, 1024}}, {"optimized", {800, 1200}}};
  ASSERT_EQ(d["thumbnails"].size(), 3u) << d.dump();
  ASSERT_TRUE(d["optimized"].contains("webp"));
  for (const auto& output : d["outputs"]) {
    const std::string name = output["name"];
    SCOPED_TRACE(name);
    ASSERT_TRUE(expected.count(name));
    EXPECT_EQ(output["width"], expected.at(name).first);
    EXPECT_EQ(output["height"], expected.at(name).second);
    const auto file = fetch(output["url"]);
    ASSERT_EQ(file.status, 200);
    EXPECT_EQ(file.header("content-type").value_or(""), "image/webp");
    EXPECT_EQ(file.body.size(), output["bytes"].get<std::size_t>());
    const VImage back = VImage::new_from_buffer(file.body.data(), file.body.size(), "");
    EXPECT_EQ(back.width(), expected.at(name).first);
    EXPECT_EQ(back.height(), expected.at(name).second);
    const fs::path saved = scratch_.path() / (name + ".webp");
    std::ofstream(saved, std::ios::binary) << file.body;
    const auto tags = nlohmann::json::parse(run_command("exiftool -n -json '" + saved.string() + "'")).at(0);
    EXPECT_FALSE(tags.contains("Make"));
    EXPECT_FALSE(tags.contains("GPSLatitude"));
    EXPECT_EQ(tags.value("Orientation", 1), 1);
  }
  // The original is served back untouched.
  const auto original = fetch(d["originalUrl"]);
  EXPECT_EQ(original.status, 200);
  EXPECT_EQ(original.body, read_file(scratch_.path() / "exif-6.jpg"));
  // Signed URLs are stable within their window, so browsers can cache them.
  EXPECT_EQ(detail(token, id)["thumbnails"]["thumb-128"], d["thumbnails"]["thumb-128"]);
}

TEST_F(ImagesTest, EveryAcceptedFormatAndOrientationCompletesWithTheRightSize) {
  start();
  const auto token = register_user("formats@example.com");
  const VImage base = picture(300, 200);
  const VImage alpha = (VImage::black(300, 200) + 180).cast(VIPS_FORMAT_UCHAR);
  std::vector<std::tuple<std::string, std::string, int, int>> cases = {
      {"baseline.jpg", jpeg(base), 300, 200},
      {"progressive.jpg", jpeg(base, true), 300, 200},
      {"cmyk.jpg", jpeg(base.colourspace(VIPS_INTERPRETATION_CMYK)), 300, 200},
      {"grey.jpg", jpeg(base.colourspace(VIPS_INTERPRETATION_B_W)), 300, 200},
      {"rgba.png", png(base.bandjoin(alpha)), 300, 200},
      {"palette.png", png(base, true), 300, 200},
      {"deep.png",
       png((base.cast(VIPS_FORMAT_USHORT) * 257)
               .cast(VIPS_FORMAT_USHORT)
               .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16)),
           false, 16),
       300, 200},
      {"lossy.webp", webp(base), 300, 200},
      {"lossless.webp", webp(base, true), 300, 200},
      {"alpha.webp", webp(base.bandjoin(alpha)), 300, 200},
      {"animated.gif", animated_gif(), 200, 150},
  };
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const bool swapped = orientation >= 5;
    cases.emplace_back("orientation-" + std::to_string(orientation) + ".jpg",
                       jpeg_with_exif(300, 200, orientation, scratch_.path()), swapped ? 200 : 300,
                       swapped ? 300 : 200);
  }
  std::vector<std::string> ids;
  for (const auto& [name, bytes, w, h] : cases) ids.push_back(upload_ok(token, name, bytes));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [name, bytes, w, h] = cases[i];
    SCOPED_TRACE(name);
    ASSERT_FALSE(ids[i].empty());
    const auto d = wait_for_image_stage(token, ids[i]);
    ASSERT_EQ(d["status"], "Completed") << d.dump();
    EXPECT_EQ(d["metadata"]["width"], w);
    EXPECT_EQ(d["metadata"]["height"], h);
    for (const auto& output : d["outputs"]) {
      // Never upscaled: every output fits inside the original.
      EXPECT_LE(output["width"].get<int>(), w);
      EXPECT_LE(output["height"].get<int>(), h);
    }
    const auto optimized = fetch(d["optimized"]["webp"]);
    ASSERT_EQ(optimized.status, 200);
    const VImage back = VImage::new_from_buffer(optimized.body.data(), optimized.body.size(), "");
    EXPECT_EQ(back.width(), w);
    EXPECT_EQ(back.height(), h);
    EXPECT_EQ(back.get_typeof("exif-ifd0-Make"), 0u);
  }
}

TEST_F(ImagesTest, RefusalsGetTheirDocumentedStatusAndTheWorkerKeepsGoing) {
  start({{"UPLOAD_MAX_BYTES", "1048576"}, {"IMAGE_MAX_FRAMES", "1"}});
  const auto token = register_user("refusals@example.com");

  // The bytes decide, not the name: a PNG called .jpg is a PNG.
  const auto png_id = upload_ok(token, "really-a-png.jpg", png(picture(64, 48)));
  auto expect_problem = [&](const HttpResponse& r, long status, const std::string& fragment) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json");
    EXPECT_NE(r.json().value("detail", "").find(fragment), std::string::npos) << r.body;
  };
  expect_problem(upload(token, "page.png", "<!DOCTYPE html><html><body>hi</body></html>", "image/png"), 415,
                 "accepted");
  expect_problem(upload(token, "drawing.png",
                        R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>)", "image/png"),
                 415, "accepted");
  expect_problem(upload(token, "empty.jpg", ""), 400, "empty");
  expect_problem(upload(token, "bomb.png", png_declaring(30000, 30000), "image/png"), 422, "megapixels");
  expect_problem(upload(token, "frames.gif", animated_gif(), "image/gif"), 422, "frames");
  expect_problem(upload(token, "doc.pdf", "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "application/pdf"), 415,
                 "accepted");
  std::string big = jpeg(picture(64, 64));
  big.resize(2 * 1024 * 1024, 'x');
  expect_problem(upload(token, "huge.jpg", big), 413, "1 MiB");
  // A truncated JPEG has a readable header: accepted, then the worker records a readable Error.
  const std::string whole = jpeg(picture(1200, 900));
  const auto truncated_id = upload_ok(token, "truncated.jpg", whole.substr(0, whole.size() / 2));

  const auto truncated = wait_for_image_stage(token, truncated_id);
  EXPECT_EQ(truncated["status"], "Error");
  EXPECT_EQ(truncated["aiStatus"], "Skipped");
  EXPECT_EQ(truncated["aiErrorMessage"], "Skipped because the image stage failed.");
  EXPECT_EQ(truncated["overallStatus"], "Error");
  EXPECT_NE(truncated["errorMessage"].get<std::string>().find("truncated"), std::string::npos) << truncated.dump();
  const auto png_job = wait_for_image_stage(token, png_id);
  EXPECT_EQ(png_job["status"], "Completed");
  EXPECT_EQ(png_job["mimeType"], "image/png");
  // Nothing refused left a job behind, and the worker still works.
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM jobs"), "2");
  const auto after = upload_ok(token, "after.jpg", jpeg(picture(100, 80)));
  EXPECT_EQ(wait_for_image_stage(token, after)["status"], "Completed");
}

TEST_F(ImagesTest, OtherUsersJobsAreNotFoundAndPagingIsBounded) {
  start();
  const auto alice = register_user("alice@example.com");
  const auto bob = register_user("bob@example.com");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(upload_ok(alice, "a" + std::to_string(i) + ".jpg", jpeg(picture(80, 60))));
  for (const auto& id : ids) wait_for_image_stage(alice, id);

  const auto missing = api_->get("/api/images/00000000-0000-7000-8000-000000000000", bearer(bob));
  const auto foreign = api_->get("/api/images/" + ids[0], bearer(bob));
  EXPECT_EQ(foreign.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(foreign.json()["detail"], missing.json()["detail"]);
  EXPECT_EQ(api_->request({"DELETE", "/api/images/" + ids[0], "", bearer(bob)}).status, 404);
  EXPECT_EQ(api_->request({"POST", "/api/images/" + ids[0] + "/retry", "", bearer(bob)}).status, 404);
  EXPECT_EQ(api_->get("/api/images/not-a-uuid", bearer(bob)).status, 404);
  EXPECT_EQ(api_->get("/api/images", bearer(bob)).json()["totalCount"], 0);
  EXPECT_EQ(api_->get("/api/images/" + ids[0]).status, 401);

  for (const auto* query : {"page=0", "pageSize=0", "pageSize=101", "page=abc", "pageSize=10x", "status=Done"}) {
    EXPECT_EQ(api_->get(std::string("/api/images?") + query, bearer(alice)).status, 400) << query;
  }
  const auto long_query = api_->get("/api/images?q=" + std::string(201, 'a'), bearer(alice));
  EXPECT_EQ(long_query.status, 400) << long_query.body;
  EXPECT_TRUE(long_query.json()["errors"].contains("q")) << long_query.body;
  EXPECT_EQ(api_->get("/api/images?q=" + std::string(200, 'a'), bearer(alice)).status, 200);
  const auto page1 = api_->get("/api/images?page=1&pageSize=2", bearer(alice)).json();
  EXPECT_EQ(page1["totalCount"], 3);
  EXPECT_EQ(page1["totalPages"], 2);
  ASSERT_EQ(page1["items"].size(), 2u);
  EXPECT_EQ(page1["items"][0]["id"], ids[2]);  // newest first
  EXPECT_EQ(page1["items"][1]["id"], ids[1]);
  const auto& item = page1["items"][0];
  EXPECT_TRUE(item["thumbnailUrl"].is_string());
  EXPECT_TRUE(item["blurhash"].is_string());
  EXPECT_FALSE(item.contains("metadata"));
  EXPECT_EQ(fetch(item["thumbnailUrl"]).status, 200);
  const auto page2 = api_->get("/api/images?page=2&pageSize=2", bearer(alice)).json();
  ASSERT_EQ(page2["items"].size(), 1u);
  EXPECT_EQ(page2["items"][0]["id"], ids[0]);
  const auto beyond = api_->get("/api/images?page=9&pageSize=2", bearer(alice)).json();
  EXPECT_EQ(beyond["items"].size(), 0u);
  EXPECT_EQ(beyond["totalCount"], 3);
  EXPECT_EQ(api_->get("/api/images?status=Error", bearer(alice)).json()["totalCount"], 0);

  const auto stats = api_->get("/api/images/stats", bearer(alice)).json();
  EXPECT_EQ(stats["total"], 3);
  EXPECT_EQ(stats["jobsToday"], 3);
  EXPECT_EQ(stats["successRate"], 1.0);
  EXPECT_TRUE(stats["avgProcessingMs"].is_number());
}

TEST_F(ImagesTest, DeleteRemovesTheRowAndEveryObject) {
  start();
  const auto token = register_user("delete@example.com");
  const auto user = user_id_of(token);
  const auto id = upload_ok(token, "gone.jpg", jpeg(picture(300, 200)));
  ASSERT_EQ(wait_for_image_stage(token, id)["status"], "Completed");
  EXPECT_EQ(processed_files(user, id).size(), 4u);
  const fs::path original = fs::path(objects_dir_for(db_)) / contracts::original_key(user, id);
  EXPECT_TRUE(fs::exists(original));

  EXPECT_EQ(api_->request({"DELETE", "/api/images/" + id, "", bearer(token)}).status, 204);
  EXPECT_EQ(api_->get("/api/images/" + id, bearer(token)).status, 404);  // gone from reads at once
  EXPECT_EQ(api_->request({"DELETE", "/api/images/" + id, "", bearer(token)}).status, 404);
  for (int i = 0; i < 100 && db_.scalar("SELECT count(*) FROM jobs") != "0"; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM jobs"), "0");
  EXPECT_TRUE(processed_files(user, id).empty());
  EXPECT_FALSE(fs::exists(original));
}

TEST_F(ImagesTest, RetryRerunsAFailedStageAndRefusesOthers) {
  start();
  const auto token = register_user("retry@example.com");
  const auto user = user_id_of(token);
  const std::string bytes = jpeg(picture(300, 200));
  // Take the original away before the worker runs: the stage fails with a readable message.
  worker_.reset();
  const auto id = upload_ok(token, "flaky.jpg", bytes);
  const fs::path original = fs::path(objects_dir_for(db_)) / contracts::original_key(user, id);
  const std::string kept = read_file(original);
  fs::remove(original);
  worker_ = std::make_unique<WorkerProcess>(db_);
  const auto failed = wait_for_image_stage(token, id);
  ASSERT_EQ(failed["status"], "Error");
  EXPECT_NE(failed["errorMessage"].get<std::string>().find("missing"), std::string::npos) << failed.dump();

  std::ofstream(original, std::ios::binary) << kept;
  const auto retried = api_->request({"POST", "/api/images/" + id + "/retry", "", bearer(token)});
  ASSERT_EQ(retried.status, 202) << retried.body;
  EXPECT_EQ(retried.json()["status"], "Pending");
  const auto done = wait_for_image_stage(token, id);
  EXPECT_EQ(done["status"], "Completed") << done.dump();
  EXPECT_EQ(api_->request({"POST", "/api/images/" + id + "/retry", "", bearer(token)}).status, 409);
}

TEST_F(ImagesTest, KilledWorkerMidStageStillCompletesTheJobOnce) {
  start({}, /*with_worker=*/false);
  const auto token = register_user("sigkill@example.com");
  const auto user = user_id_of(token);
  // Large enough that the stage takes a while under the sanitizers.
  const auto id = upload_ok(token, "big.jpg", jpeg(picture(6000, 4000)));
  {
    WorkerProcess doomed(db_);
    ASSERT_TRUE(doomed.process().wait_for_line("\"image stage started\"", 60s));
    EXPECT_EQ(detail(token, id)["status"], "Processing");
    doomed.process().process().signal(SIGKILL);
    ASSERT_TRUE(doomed.process().process().wait(10s));
  }
  worker_ = std::make_unique<WorkerProcess>(db_);
  const auto d = wait_for_image_stage(token, id, 180s);
  EXPECT_EQ(d["status"], "Completed") << d.dump();
  EXPECT_EQ(processed_files(user, id).size(), 4u);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM jobs"), "1");
}

TEST_F(ImagesTest, DuplicateDeliveriesAndMessagesForDeletedJobsAreAckedAndSkipped) {
  start();
  const auto token = register_user("dup@example.com");
  const auto user = user_id_of(token);
  const auto id = upload_ok(token, "once.jpg", jpeg(picture(300, 200)));
  const auto first = wait_for_image_stage(token, id);
  ASSERT_EQ(first["status"], "Completed");

  // Publish the same stage message again, as an at-least-once broker may.
  const auto topology = queue::Topology::make(db_.name() + ".");
  queue::AmqpConnection conn(queue::parse_amqp_url(required_env("IMAGEPROC_TEST_AMQP_URL")), "images-test");
  const std::string message = contracts::encode({id, user, 1, "dup"});
  ASSERT_EQ(conn.publish(topology.exchange, topology.image_jobs.name, message), queue::PublishOutcome::Confirmed);
  ASSERT_TRUE(worker_->process().wait_for_line("duplicate stage delivery skipped", 30s));
  const auto again = detail(token, id);
  EXPECT_EQ(again["completedAt"], first["completedAt"]);
  EXPECT_EQ(processed_files(user, id).size(), 4u);

  // A message for a job that was deleted is dropped, not retried.
  ASSERT_EQ(api_->request({"DELETE", "/api/images/" + id, "", bearer(token)}).status, 204);
  ASSERT_EQ(conn.publish(topology.exchange, topology.image_jobs.name, message), queue::PublishOutcome::Confirmed);
  ASSERT_TRUE(worker_->process().wait_for_line("message for a deleted or unknown job dropped", 30s));
  for (int i = 0; i < 50 && conn.queue_depth(topology.image_jobs.name) != 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(conn.queue_depth(topology.image_jobs.name), 0u);
  EXPECT_EQ(conn.queue_depth(topology.image_jobs.dead_letter_queue), 0u);

  // A message that is not a stage message goes to the dead-letter queue, where an operator can see it.
  ASSERT_EQ(conn.publish(topology.exchange, topology.image_jobs.name, "{not a stage message"),
            queue::PublishOutcome::Confirmed);
  ASSERT_TRUE(worker_->process().wait_for_line("malformed stage message dead-lettered", 30s));
  for (int i = 0; i < 100 && conn.queue_depth(topology.image_jobs.dead_letter_queue) == 0; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(conn.queue_depth(topology.image_jobs.dead_letter_queue), 1u);
}

// Reads an SSE stream with libcurl on a thread until stopped; keeps every `event:`/`data:` pair.
class SseClient {
 public:
  SseClient(const std::string& url, const std::string& token) {
    thread_ = std::thread([this, url, token] {
      CURL* curl = curl_easy_init();
      curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &SseClient::on_data);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &SseClient::on_progress);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT, 240L);
      curl_easy_perform(curl);
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
    });
  }
  ~SseClient() {
    stop_ = true;
    thread_.join();
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  bool wait_for(const std::string& needle, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (text().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

 private:
  static std::size_t on_data(char* data, std::size_t size, std::size_t n, void* self) {
    auto* client = static_cast<SseClient*>(self);
    std::lock_guard lock(client->mutex_);
    client->text_.append(data, size * n);
    return size * n;
  }
  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<SseClient*>(self)->stop_ ? 1 : 0;
  }
  std::mutex mutex_;
  std::string text_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(ImagesTest, EventsStreamShowsOwnJobProgressAndNothingOfOthers) {
  start();
  const auto alice = register_user("sse-alice@example.com");
  const auto bob = register_user("sse-bob@example.com");
  SseClient alice_events(api_->base_url() + "/api/images/events", alice);
  SseClient bob_events(api_->base_url() + "/api/images/events", bob);
  ASSERT_TRUE(alice_events.wait_for("event: ready", 30s));
  ASSERT_TRUE(bob_events.wait_for("event: ready", 30s));

  const auto id = upload_ok(alice, "live.jpg", jpeg(picture(300, 200)));
  ASSERT_TRUE(alice_events.wait_for("\"status\":\"Completed\"", 90s)) << alice_events.text();
  const std::string text = alice_events.text();
  const auto pending = text.find("\"status\":\"Pending\"");
  const auto processing = text.find("\"status\":\"Processing\"");
  const auto completed = text.find("\"status\":\"Completed\"");
  ASSERT_NE(pending, std::string::npos) << text;
  ASSERT_NE(processing, std::string::npos) << text;
  EXPECT_LT(pending, processing);
  EXPECT_LT(processing, completed);
  EXPECT_NE(text.find("event: job\ndata: {"), std::string::npos);
  EXPECT_NE(text.find(id), std::string::npos);
  EXPECT_NE(text.find("\"thumbnailUrl\":\"/files/"), std::string::npos) << text;
  EXPECT_EQ(bob_events.text().find(id), std::string::npos) << bob_events.text();
  EXPECT_EQ(bob_events.text().find("event: job\n"), std::string::npos);
}

// A RabbitMQ node of this test's own (scripts/services), so stopping it disturbs no other test.
class OwnBroker {
 public:
  explicit OwnBroker(fs::path base) : base_(std::move(base)) {}
  ~OwnBroker() { stop(); }
  // Starts a node (on `port` when given, as a restarted broker would be); returns its AMQP URL.
  std::string start(const std::string& port = "") {
    dir_ = base_ / ("broker-" + std::to_string(++starts_));
    const std::string out = run_command("SERVICES=rabbitmq " + (port.empty() ? "" : "RABBITMQ_AMQP_PORT=" + port + " ") +
                                        "'" IMAGEPROC_SOURCE_DIR "/scripts/services' start '" + dir_.string() +
                                        "' 2>/dev/null");
    const std::string key = "IMAGEPROC_TEST_AMQP_URL=";
    const auto at = out.find(key);
    if (at == std::string::npos) throw std::runtime_error("no AMQP URL from scripts/services: " + out);
    std::string url = out.substr(at + key.size(), out.find('\n', at) - at - key.size());
    std::erase(url, '\\');
    std::erase(url, '\'');
    running_ = true;
    return url;
  }
  void stop() {
    if (!running_) return;
    running_ = false;
    run_command("'" IMAGEPROC_SOURCE_DIR "/scripts/services' stop '" + dir_.string() + "' 2>/dev/null");
  }

 private:
  fs::path base_;
  fs::path dir_;
  int starts_ = 0;
  bool running_ = false;
};

TEST_F(ImagesTest, UploadsWhileTheBrokerIsDownCompleteWhenItReturns) {
  OwnBroker broker(scratch_.path());
  const std::string url = broker.start();
  const std::string port = url.substr(url.rfind(':') + 1, url.rfind('/') - url.rfind(':') - 1);
  api_ = std::make_unique<ApiServer>(db_, std::map<std::string, std::string>{{"AMQP_URL", url}});
  worker_ = std::make_unique<WorkerProcess>(db_, std::map<std::string, std::string>{{"AMQP_URL", url}});
  const auto token = register_user("broker@example.com");
  const auto before = upload_ok(token, "before.jpg", jpeg(picture(200, 100)));
  ASSERT_EQ(wait_for_image_stage(token, before)["status"], "Completed");

  broker.stop();
  // Uploads keep succeeding: the job and its message wait in the outbox.
  const auto during = upload_ok(token, "during.jpg", jpeg(picture(200, 100)));
  ASSERT_FALSE(during.empty());
  EXPECT_EQ(detail(token, during)["status"], "Pending");
  EXPECT_NE(db_.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"), "0");

  broker.start(port);
  const auto d = wait_for_image_stage(token, during, 180s);
  EXPECT_EQ(d["status"], "Completed") << d.dump();
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL AND exchange LIKE '%imageproc'"), "0");
}

}  // namespace
}  // namespace imageproc::testing
