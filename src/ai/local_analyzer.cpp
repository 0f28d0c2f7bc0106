#include "ai/local_analyzer.hpp"

#include <glib.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <vips/vips8>

#include "ai/facts.hpp"
#include "imaging/colour.hpp"

namespace imageproc::ai {
namespace {

using vips::VError;
using vips::VImage;

// Bumped whenever the rules in ai/facts.cpp change what they say about the same image.
constexpr int kHeuristicsVersion = 1;
constexpr int kMeasureSize = 128;  // PixelFacts are measured on a copy this size (longest side)
constexpr int kPaletteSize = 64;   // imaging::dominant_colours wants ≤ 64×64 pixels

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};

// Pixels of an 8-bit image in memory, owned.
struct PixelBuffer {
  std::unique_ptr<void, GFreeDeleter> data;
  std::size_t size = 0;
  int width = 0;
  int height = 0;
};

PixelBuffer to_memory(const VImage& image) {
  PixelBuffer buffer;
  buffer.data.reset(image.write_to_memory(&buffer.size));
  buffer.width = image.width();
  buffer.height = image.height();
  return buffer;
}

std::span<const imaging::Rgb8> as_rgb(const PixelBuffer& buffer) {
  static_assert(sizeof(imaging::Rgb8) == 3);
  return {static_cast<const imaging::Rgb8*>(buffer.data.get()), buffer.size / 3};
}

// The input as upright 8-bit sRGB without alpha, in memory (decoded once, read three times).
VImage decode(const AnalysisInput& input, int max_dimension) {
  VImage image = VImage::new_from_buffer(input.bytes.data(), input.bytes.size(), "",
                                         VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
  if (image.has_alpha()) image = image.flatten(VImage::option()->set("background", std::vector<double>{255}));
  image = image.colourspace(VIPS_INTERPRETATION_sRGB).cast(VIPS_FORMAT_UCHAR);
  // The stage prepares the input to fit; a larger one only costs OCR time, so fit it rather than refuse.
  if (image.width() > max_dimension || image.height() > max_dimension) {
    image = image.thumbnail_image(max_dimension, VImage::option()->set("height", max_dimension));
  }
  return image.copy_memory();
}

VImage fitted(const VImage& image, int box) {
  return image.thumbnail_image(box, VImage::option()->set("height", box)->set("size", VIPS_SIZE_DOWN));
}

struct OcrResult {
  std::string text;  // credible words: spaces within a line, "\n" between lines, "\n\n" between paragraphs
  TextFacts facts;
};

struct Box {
  int left = 0, top = 0, right = 0, bottom = 0;
  void extend(const Box& other) {
    left = std::min(left, other.left), top = std::min(top, other.top);
    right = std::max(right, other.right), bottom = std::max(bottom, other.bottom);
  }
  double area() const { return static_cast<double>(right - left) * (bottom - top); }
};

// Recognises `grey` (8-bit, one band, in memory) and keeps only credible words, so the speckle Tesseract
// reads into photos does not become text.
OcrResult recognise(tesseract::TessBaseAPI& api, const PixelBuffer& grey) {
  OcrResult result;
  api.SetImage(static_cast<const unsigned char*>(grey.data.get()), grey.width, grey.height, 1, grey.width);
  if (api.Recognize(nullptr) != 0) {
    api.Clear();
    throw std::runtime_error("Tesseract recognition failed");
  }
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  enum class Break { None, Line, Paragraph } pending = Break::None;
  std::optional<Box> line_box;
  double area = 0, confidence_sum = 0;
  const auto close_line = [&] {
    if (line_box) area += line_box->area(), ++result.facts.lines;
    line_box.reset();
  };
  if (it) {
    constexpr auto kWord = tesseract::RIL_WORD;
    do {
      if (it->Empty(kWord)) continue;
      if (it->IsAtBeginningOf(tesseract::RIL_PARA)) {
        pending = Break::Paragraph, close_line();
      } else if (it->IsAtBeginningOf(tesseract::RIL_TEXTLINE)) {
        pending = std::max(pending, Break::Line), close_line();
      }
      const float confidence = it->Confidence(kWord);
      const std::unique_ptr<char[]> word(it->GetUTF8Text(kWord));
      if (!word || !is_word(word.get()) || confidence < kMinWordConfidence) continue;

      if (!result.text.empty()) {
        result.text += pending == Break::Paragraph ? "\n\n" : pending == Break::Line ? "\n" : " ";
      }
      pending = Break::None;
      result.text += word.get();
      ++result.facts.words;
      confidence_sum += confidence;
      Box box;
      if (it->BoundingBox(kWord, &box.left, &box.top, &box.right, &box.bottom)) {
        if (line_box) {
          line_box->extend(box);
        } else {
          line_box = box;
        }
      }
    } while (it->Next(kWord));
  }
  close_line();
  it.reset();
  api.Clear();  // drop the image and results now rather than holding them until the next call

  if (result.facts.words > 0) result.facts.mean_confidence = confidence_sum / result.facts.words;
  result.facts.area_share = std::min(1.0, area / (static_cast<double>(grey.width) * grey.height));
  return result;
}

}  // namespace

void LocalAnalyzerSettings::validate() const {
  if (ocr_language.empty()) throw std::invalid_argument("ocr_language must not be empty");
  if (ocr_language.find_first_of("/\\") != std::string::npos) {
    throw std::invalid_argument("ocr_language must be a language name such as \"eng\", not a path");
  }
  if (max_image_dimension < 256 || max_image_dimension > 8192) {
    throw std::invalid_argument("max_image_dimension must be in [256, 8192]");
  }
  if (ocr_instances < 1 || ocr_instances > 64)
    throw std::invalid_argument("ocr_instances must be in [1, 64]");
}

// One engine borrowed from the pool for the length of a scope; waits while all are busy.
class LocalAnalyzer::EngineLease {
 public:
  explicit EngineLease(LocalAnalyzer& owner) : owner_(owner) {
    std::unique_lock lock(owner_.mutex_);
    owner_.available_.wait(lock, [&] { return !owner_.idle_.empty(); });
    engine_ = owner_.idle_.back();
    owner_.idle_.pop_back();
  }
  ~EngineLease() {
    {
      std::lock_guard lock(owner_.mutex_);
      owner_.idle_.push_back(engine_);
    }
    owner_.available_.notify_one();
  }
  EngineLease(const EngineLease&) = delete;
  EngineLease& operator=(const EngineLease&) = delete;
  tesseract::TessBaseAPI& operator*() const { return *engine_; }

 private:
  LocalAnalyzer& owner_;
  tesseract::TessBaseAPI* engine_ = nullptr;
};

LocalAnalyzer::LocalAnalyzer(LocalAnalyzerSettings settings) : settings_(std::move(settings)) {
  settings_.validate();
  // Tesseract's LSTM parallelises with OpenMP, and libgomp reads OMP_THREAD_LIMIT only when it loads, at
  // process start: the worker's environment must carry OMP_THREAD_LIMIT=1 (`up` sets it) so that
  // `ocr_instances` calls use that many cores rather than oversubscribing them.
  const char* datapath = settings_.tessdata_dir.empty() ? nullptr : settings_.tessdata_dir.c_str();
  for (int i = 0; i < settings_.ocr_instances; ++i) {
    auto engine = std::make_unique<tesseract::TessBaseAPI>();
    if (engine->Init(datapath, settings_.ocr_language.c_str(), tesseract::OEM_DEFAULT) != 0) {
      const char* env_prefix = std::getenv("TESSDATA_PREFIX");
      const std::string where = datapath     ? "\"" + settings_.tessdata_dir + "\""
                                : env_prefix ? "TESSDATA_PREFIX \"" + std::string(env_prefix) + "\""
                                             : "Tesseract's default tessdata directory";
      throw std::runtime_error("local analyzer: Tesseract cannot load language \"" + settings_.ocr_language +
                               "\" from " + where + " (is " + settings_.ocr_language +
                               ".traineddata installed there?)");
    }
    // Automatic page segmentation: finds columns and paragraphs on documents and still picks up the text
    // blocks of screenshots; SPARSE_TEXT finds more stray words in photos, which is mostly noise here.
    engine->SetPageSegMode(tesseract::PSM_AUTO);
    // Its diagnostics ("Estimating resolution as …") are not ours to print.
    engine->SetVariable("debug_file", "/dev/null");
    idle_.push_back(engine.get());
    engines_.push_back(std::move(engine));
  }
  model_ = std::string("tesseract ") + tesseract::TessBaseAPI::Version() + " + imageproc-heuristics " +
           std::to_string(kHeuristicsVersion);
}

LocalAnalyzer::~LocalAnalyzer() {
  for (auto& engine : engines_) engine->End();
}

Analysis LocalAnalyzer::analyze(const AnalysisInput& input) {
  const auto started = std::chrono::steady_clock::now();

  ImageFacts facts;
  PixelBuffer grey;
  try {
    const VImage image = decode(input, settings_.max_image_dimension);
    facts.width = image.width();
    facts.height = image.height();

    const PixelBuffer small = to_memory(fitted(image, kMeasureSize));
    facts.pixels = measure_pixels(as_rgb(small), small.width, small.height);

    const PixelBuffer tiny = to_memory(fitted(image, kPaletteSize));
    const auto pixels = as_rgb(tiny);
    facts.colours = name_palette(imaging::dominant_colours(pixels), pixels.size());

    const VImage grey_image =
        image.colourspace(VIPS_INTERPRETATION_B_W).cast(VIPS_FORMAT_UCHAR).copy_memory();
    // Contrast at full resolution and from the 0.1 % tails: thin or sparse print fades to grey at 128 px and
    // hides under the 1 % tail, yet black text on white is not low contrast.
    facts.pixels.luma_range = (grey_image.percent(99.9) - grey_image.percent(0.1)) / 255.0;
    grey = to_memory(grey_image);
  } catch (const VError& e) {
    const std::string detail = std::string("local analyzer: decode failed: ") + e.what();
    vips_error_clear();
    throw AnalysisError(AnalysisError::Kind::Permanent, "The image could not be read for analysis.", detail);
  }

  OcrResult ocr;
  {
    EngineLease engine(*this);
    ocr = recognise(*engine, grey);
  }
  facts.text = ocr.facts;

  Analysis analysis;
  analysis.summary = summary_for(facts);
  if (has_text(facts.text)) analysis.ocr_text = ocr.text;
  analysis.tags = tags_for(facts);
  analysis.safety = std::nullopt;  // not assessed offline
  analysis.meta.provider = "local";
  analysis.meta.model = model_;
  analysis.meta.estimated_cost_usd = 0;
  analysis.meta.latency_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  return analysis;
}

}  // namespace imageproc::ai
