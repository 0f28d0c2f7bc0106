#pragma once
// libvips process state (DESIGN §3 "no singletons"): build one VipsRuntime in the composition root of each
// subcommand that touches pixels, before any imaging call, and pass it by reference to whatever needs it.
//
// libvips itself is process-global (its init, operation cache and thread pool), so at most one VipsRuntime
// may exist at a time; constructing a second throws. One may be built again after the previous one is gone. `vips_shutdown()` is deliberately not called on
// destruction: libvips cannot be re-initialised after it, and glib keeps worker threads that it would race
// with at exit.

#include <cstddef>

namespace imageproc::imaging {

struct VipsConfig {
  int concurrency = 1;                             // VIPS_CONCURRENCY: libvips worker threads per pipeline
  int cache_max_operations = 50;                   // operation cache entries (uploads rarely repeat)
  std::size_t cache_max_bytes = 32 * 1024 * 1024;  // operation cache memory
  int cache_max_files = 20;                        // files kept open by cached operations
  void validate() const;                           // throws std::invalid_argument naming the bad field
};

class VipsRuntime {
 public:
  // Initialises libvips (once per process), blocks every loader libvips marks untrusted (SVG, PDF,
  // ImageMagick, …) so they can never run on uploads, and bounds the cache and thread pool.
  // Throws std::runtime_error when libvips fails to start or a runtime already exists.
  explicit VipsRuntime(const VipsConfig& config = {});
  ~VipsRuntime();
  VipsRuntime(const VipsRuntime&) = delete;
  VipsRuntime& operator=(const VipsRuntime&) = delete;

  const VipsConfig& config() const { return config_; }

 private:
  VipsConfig config_;
};

}  // namespace imageproc::imaging
