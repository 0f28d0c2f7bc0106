#pragma once
// The fixture of the pipeline's end-to-end tests (images_test.cpp, ai_test.cpp): the real api and worker
// binaries against PostgreSQL, RabbitMQ and the local object store, with images made here by libvips and
// exiftool. Included by one test file each; everything is inline.

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vips/vips8>

#include "contracts/jobs.hpp"
#include "core/temp_file.hpp"
#include "harness.hpp"
#include "queue/amqp.hpp"
#include "queue/topology.hpp"
#include "shell.hpp"
#include "synthetic_png.hpp"
#include "vips_suite.hpp"

namespace imageproc::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vips::VImage;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline VImage picture(int width, int height) {
  VImage xy = VImage::xyz(width, height);
  return (xy[0] * (255.0 / width))
      .bandjoin(xy[1] * (255.0 / height))
      .bandjoin(VImage::black(width, height) + 90)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

inline std::string buffer_of(void* data, std::size_t size) {
  std::string out(static_cast<const char*>(data), size);
  g_free(data);
  return out;
}

inline std::string jpeg(const VImage& image, bool progressive = false) {
  void* data = nullptr;
  std::size_t size = 0;
  image.write_to_buffer(".jpg", &data, &size, VImage::option()->set("Q", 85)->set("interlace", progressive));
  return buffer_of(data, size);
}

inline std::string png(const VImage& image, bool palette = false, int bitdepth = 8) {
  void* data = nullptr;
  std::size_t size = 0;
  auto options = VImage::option()->set("palette", palette);
  if (bitdepth == 16) options->set("bitdepth", 16);
  image.write_to_buffer(".png", &data, &size, options);
  return buffer_of(data, size);
}

inline std::string webp(const VImage& image, bool lossless = false) {
  void* data = nullptr;
  std::size_t size = 0;
  image.write_to_buffer(".webp", &data, &size, VImage::option()->set("lossless", lossless));
  return buffer_of(data, size);
}

inline std::string animated_gif() {
  const auto frame = [](double r, double g, double b) {
    return (VImage::black(200, 150, VImage::option()->set("bands", 3)) + std::vector<double>{r, g, b})
        .cast(VIPS_FORMAT_UCHAR);
  };
  VImage frames = frame(255, 0, 0).join(frame(0, 255, 0), VIPS_DIRECTION_VERTICAL);
  frames = frames.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  frames.set("page-height", 150);
  frames.set("delay", std::vector<int>{100, 100});
  void* data = nullptr;
  std::size_t size = 0;
  frames.write_to_buffer(".gif", &data, &size);
  return buffer_of(data, size);
}

// A JPEG carrying EXIF orientation `orientation` plus camera tags and GPS, written with exiftool.
inline std::string jpeg_with_exif(int width, int height, int orientation, const fs::path& scratch) {
  const fs::path file = scratch / ("exif-" + std::to_string(orientation) + ".jpg");
  std::ofstream(file, std::ios::binary) << jpeg(picture(width, height));
  run_command("exiftool -q -q -overwrite_original -n -Orientation=" + std::to_string(orientation) +
              " -Make=TestCam -Model=Model-X -GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945"
              " -GPSLongitudeRef=E '" + file.string() + "'");
  return read_file(file);
}

inline std::string multipart(const std::string& boundary, const std::string& filename, const std::string& content_type,
                      const std::string& bytes) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: " + content_type + "\r\n\r\n" + bytes + "\r\n--" + boundary + "--\r\n";
}

class ImagesTest : public VipsSuite {
 protected:

  void start(std::map<std::string, std::string> api_env = {}, bool with_worker = true,
             std::map<std::string, std::string> worker_env = {}) {
    api_env.emplace("RATE_LIMIT_UPLOAD_PER_MINUTE", "1000");
    api_ = std::make_unique<ApiServer>(db_, api_env);
    if (with_worker) worker_ = std::make_unique<WorkerProcess>(db_, worker_env);
  }

  std::string register_user(const std::string& email) {
    auto r = api_->post_json("/api/auth/register",
                             {{"name", "Test"}, {"email", email}, {"password", "correct horse battery"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().at("token").get<std::string>();
  }

  static std::vector<std::pair<std::string, std::string>> bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  HttpResponse upload(const std::string& token, const std::string& filename, const std::string& bytes,
                      const std::string& content_type = "image/jpeg") {
    const std::string boundary = "----imageproc-test-boundary";
    auto headers = bearer(token);
    headers.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
    return api_->request({"POST", "/api/images/upload", multipart(boundary, filename, content_type, bytes), headers});
  }

  std::string upload_ok(const std::string& token, const std::string& filename, const std::string& bytes) {
    auto r = upload(token, filename, bytes);
    EXPECT_EQ(r.status, 202) << filename << ": " << r.body;
    if (r.status != 202) return "";
    EXPECT_EQ(r.header("location").value_or(""), "/api/images/" + r.json().at("id").get<std::string>());
    return r.json().at("id").get<std::string>();
  }

  nlohmann::json detail(const std::string& token, const std::string& id) {
    auto r = api_->get("/api/images/" + id, bearer(token));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json() : nlohmann::json::object();
  }

  // Polls the detail until the image stage leaves Pending/Processing (bounded); returns the last detail.
  nlohmann::json wait_for_image_stage(const std::string& token, const std::string& id,
                                      std::chrono::seconds timeout = 90s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json d;
    while (std::chrono::steady_clock::now() < deadline) {
      d = detail(token, id);
      const auto status = d.value("status", "");
      if (status == "Completed" || status == "Error") return d;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "image stage of " << id << " did not finish: " << d.dump();
    return d;
  }

  // Fetches a signed URL (local store: served by the API at /files/...).
  HttpResponse fetch(const std::string& url) { return api_->get(url); }

  std::vector<fs::path> processed_files(const std::string& user_id, const std::string& job_id) {
    std::vector<fs::path> files;
    const fs::path dir = fs::path(objects_dir_for(db_)) / contracts::processed_prefix(user_id, job_id);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      // The local store keeps each object's content type in a hidden sidecar next to it.
      if (e.is_regular_file() && e.path().filename().string().rfind(".imageproc-meta-", 0) != 0) {
        files.push_back(e.path());
      }
    }
    return files;
  }

  std::string user_id_of(const std::string& token) {
    return api_->get("/api/auth/me", bearer(token)).json().at("userId").get<std::string>();
  }

  TestDatabase db_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<WorkerProcess> worker_;
  TempDir scratch_ = TempDir::create(fs::temp_directory_path(), "images-test-");
};

}  // namespace imageproc::testing
