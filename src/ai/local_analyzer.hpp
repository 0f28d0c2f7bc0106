#pragma once
// The `local` AI provider (DESIGN §7): fully offline. Tesseract OCR gives `ocrText`; tags and the
// one-sentence summary come from measured facts (ai/facts.hpp); safety is not assessed (nullopt) and the cost
// is 0.
//
// Thread-safety: analyze() may be called from any number of threads. Each call borrows one of
// `ocr_instances` Tesseract engines for its OCR and waits while all are busy, so concurrent OCR (and its
// memory, ~30–50 MB per engine) is bounded by the pool size. Needs a live imaging::VipsRuntime.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ai/analyzer.hpp"

namespace tesseract {
class TessBaseAPI;
}

namespace imageproc::ai {

struct LocalAnalyzerSettings {
  std::string ocr_language = "eng";  // Tesseract language(s), e.g. "eng" or "eng+deu"
  std::string tessdata_dir;          // directory holding <language>.traineddata; "" = Tesseract's default
  int max_image_dimension = 2048;    // longest side of the input; OCR needs resolution, and nothing leaves
                                     // the machine, so this is larger than a remote provider's
  int ocr_instances = 2;             // Tesseract engines, i.e. OCR calls that can run at once
  void validate() const;             // throws std::invalid_argument naming the bad field
};

class LocalAnalyzer final : public Analyzer {
 public:
  // Starts `ocr_instances` Tesseract engines. Throws std::invalid_argument for bad settings and
  // std::runtime_error naming the language and data path when the traineddata cannot be loaded, so a worker
  // refuses to start instead of failing every job.
  explicit LocalAnalyzer(LocalAnalyzerSettings settings);
  ~LocalAnalyzer() override;
  LocalAnalyzer(const LocalAnalyzer&) = delete;
  LocalAnalyzer& operator=(const LocalAnalyzer&) = delete;

  int input_max_dimension() const override { return settings_.max_image_dimension; }

  // Throws AnalysisError (Permanent) when the bytes cannot be decoded as an image.
  Analysis analyze(const AnalysisInput& image) override;

  // "tesseract <version> + imageproc-heuristics <n>", reported as meta.model.
  const std::string& model() const { return model_; }

 private:
  class EngineLease;

  LocalAnalyzerSettings settings_;
  std::string model_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<tesseract::TessBaseAPI>> engines_;  // all engines, owned
  std::vector<tesseract::TessBaseAPI*> idle_;                     // guarded by mutex_
};

}  // namespace imageproc::ai
