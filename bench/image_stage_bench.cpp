// The image stage's throughput benchmark: exactly the worker's code path (imaging::process_image with the
// settings `imageproc worker` builds from its default configuration: 3 WebP thumbnails at Q75, the
// full-resolution WebP at Q80, effort 4, metadata) from an encoded file to encoded outputs, on C images at
// once, like WORKER_IMAGE_CONCURRENCY consumers.
//
//   image_stage_bench [--concurrency C] [--iterations N] [--out DIR] FILE...
//
// Processes every FILE N times (files interleaved) with C threads pulling from one list, then prints one JSON
// object: images, wall seconds of the processing (start-up excluded), CPU seconds (user + system, every thread
// of the process), images/s, CPU seconds per image, the process's peak RSS, and the outputs of each FILE's
// last run (name, format, width, height, bytes), which bench/run compares with the peers'. Outputs of thread
// t go to DIR/t/<file stem>/ (default: a temporary directory, removed at exit). Exit status 1 when a file
// fails (the error is printed).

#include <sys/resource.h>
#include <unistd.h>
#include <vips/vips.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "imaging/pipeline.hpp"
#include "imaging/vips_runtime.hpp"

namespace {

namespace fs = std::filesystem;
using namespace imageproc;

struct Arguments {
  int concurrency = 1;
  int iterations = 1;
  fs::path out;
  std::vector<fs::path> files;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "image_stage_bench: " << problem
            << "\nusage: image_stage_bench [--concurrency C] [--iterations N] [--out DIR] FILE...\n";
  std::exit(2);
}

Arguments parse(int argc, char** argv) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--concurrency") {
      args.concurrency = std::stoi(value());
    } else if (arg == "--iterations") {
      args.iterations = std::stoi(value());
    } else if (arg == "--out") {
      args.out = value();
    } else if (arg.starts_with("--")) {
      usage("unknown option " + arg);
    } else {
      args.files.emplace_back(arg);
    }
  }
  if (args.files.empty()) usage("no input files");
  if (args.concurrency < 1 || args.concurrency > 64) usage("--concurrency must be in [1, 64]");
  if (args.iterations < 1 || args.iterations > 10'000) usage("--iterations must be in [1, 10000]");
  return args;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

// The settings `imageproc worker` gives process_image (src/app/worker_command.cpp), from the default
// configuration: qualities, effort and limits as deployed.
imaging::ImageStageOptions production_options() {
  const Config config;
  imaging::ImageStageOptions options;
  options.limits.max_pixels = config.images.max_pixels;
  options.limits.max_frames = config.images.max_frames;
  options.avif = config.images.output_avif;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments args = parse(argc, argv);
  const imaging::VipsRuntime vips(imaging::VipsConfig{});  // the worker's: one libvips thread per pipeline
  const imaging::ImageStageOptions options = production_options();

  bool own_out = false;
  fs::path out = args.out;
  if (out.empty()) {
    out = fs::temp_directory_path() / ("image-stage-bench-" + std::to_string(::getpid()));
    own_out = true;
  }

  // The work list: every file `iterations` times, files interleaved.
  std::vector<std::size_t> work;
  for (int n = 0; n < args.iterations; ++n)
    for (std::size_t f = 0; f < args.files.size(); ++f) work.push_back(f);

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex results_mutex;
  std::vector<nlohmann::json> last_outputs(args.files.size());

  const double cpu_start = cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.concurrency; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = next++; i < work.size() && !failed; i = next++) {
        const fs::path& file = args.files[work[i]];
        try {
          const auto result = imaging::process_image(file, options, out / std::to_string(t) / file.stem());
          nlohmann::json outputs = nlohmann::json::array();
          for (const auto& o : result.outputs) {
            outputs.push_back({{"name", o.name}, {"format", o.format}, {"width", o.width}, {"height", o.height},
                               {"bytes", o.bytes}});
          }
          const std::lock_guard lock(results_mutex);
          last_outputs[work[i]] = {{"file", file.filename().string()},
                                   {"outputs", std::move(outputs)},
                                   {"width", result.metadata.value("width", 0)},
                                   {"height", result.metadata.value("height", 0)},
                                   {"dominantColors", result.metadata.value("dominantColors", nlohmann::json())},
                                   {"exifTags", result.metadata.value("exif", nlohmann::json::object()).size()},
                                   {"gps", result.metadata.contains("gps")}};
        } catch (const std::exception& e) {
          const std::lock_guard lock(results_mutex);
          std::cerr << "image_stage_bench: " << file << ": " << e.what() << "\n";
          failed = true;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = cpu_seconds() - cpu_start;
  if (own_out) {
    std::error_code ignored;
    fs::remove_all(out, ignored);
  }
  if (failed) return 1;

  const auto images = static_cast<double>(work.size());
  const nlohmann::json report = {{"peer", "imageproc"},
                                 {"concurrency", args.concurrency},
                                 {"images", work.size()},
                                 {"wallSeconds", wall},
                                 {"cpuSeconds", cpu},
                                 {"imagesPerSecond", images / wall},
                                 {"cpuSecondsPerImage", cpu / images},
                                 {"peakRssKiB", peak_rss_kib()},
                                 {"libvips", vips_version_string()},
                                 {"files", last_outputs}};
  std::cout << report.dump() << "\n";
  return 0;
}
