#include "imaging/vips_runtime.hpp"

#include <atomic>
#include <stdexcept>
#include <string>
#include <vips/vips8>

namespace imageproc::imaging {
namespace {
std::atomic<bool> g_runtime_alive{false};  // guards against two owners of libvips' process-wide state
}  // namespace

void VipsConfig::validate() const {
  if (concurrency < 1 || concurrency > 64) throw std::invalid_argument("VIPS_CONCURRENCY must be in [1, 64]");
  if (cache_max_operations < 0) throw std::invalid_argument("vips cache_max_operations must be >= 0");
  if (cache_max_files < 0) throw std::invalid_argument("vips cache_max_files must be >= 0");
}

VipsRuntime::VipsRuntime(const VipsConfig& config) : config_(config) {
  config_.validate();
  if (g_runtime_alive.exchange(true))
    throw std::runtime_error("a VipsRuntime already exists in this process");
  // VIPS_INIT is idempotent inside libvips; it needs a program name for its message prefix only.
  if (VIPS_INIT("imageproc") != 0) {
    g_runtime_alive = false;
    throw std::runtime_error(std::string("libvips failed to start: ") + vips_error_buffer());
  }
  vips_block_untrusted_set(TRUE);
  vips_concurrency_set(config_.concurrency);
  vips_cache_set_max(config_.cache_max_operations);
  vips_cache_set_max_mem(config_.cache_max_bytes);
  vips_cache_set_max_files(config_.cache_max_files);
}

VipsRuntime::~VipsRuntime() {
  // Empty the operation cache but keep it: vips_cache_drop_all() also frees the cache's table, which only
  // vips_init creates (once per process), so the next VipsRuntime's first cached operation would crash.
  vips_cache_set_max(0);
  vips_thread_shutdown();
  g_runtime_alive = false;
}

}  // namespace imageproc::imaging
