#pragma once
// What the image stage accepts, checked on the header before any pixel is decoded (DESIGN §4 limits, §12).

#include <cstdint>
#include <stdexcept>
#include <string>

namespace imageproc::imaging {

struct ImageLimits {
  std::uint64_t max_pixels = 100'000'000;  // width × height summed over all frames (animated GIF/WebP, HEIF)
  int max_dimension = 65'535;              // either side, before orientation (JPEG's own limit)
  int max_frames = 1'000;                  // pages/frames in one file
};

// The input is not an image we accept: undecodable, truncated, unknown or disallowed format, over a limit.
// Permanent (retrying cannot help): the image stage marks the job Error at once and the upload path answers
// 422. `what()` is the public message, safe to show to the uploader; `detail()` is for the log only.
class ImageRejected : public std::runtime_error {
 public:
  ImageRejected(std::string public_message, std::string detail = {})
      : std::runtime_error(std::move(public_message)), detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

}  // namespace imageproc::imaging
