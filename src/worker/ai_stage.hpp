#pragma once
// The AI stage consumer (DESIGN §6, §7): one delivery of image-ai-jobs in, the job's ai_* columns updated
// (with the event, through the outbox) before the delivery is acknowledged. Same reliability rules as the
// image stage (StageFlow: claim, crash guard, retry queues, dead-letter), then:
//   - provider `none` → Skipped "AI analysis is disabled.";
//   - the owner's spending today ≥ AI_DAILY_BUDGET_USD → Skipped with that reason;
//   - the original is fetched and turned into the analysis input (upright, metadata-free JPEG fitted into the
//     analyzer's box: EXIF and GPS never reach a provider);
//   - the analyzer's answer is normalised (ai::normalized) and recorded with its cost; a transient provider
//     failure (network, timeout, 429, 5xx) goes through the retry queues, waiting at least its Retry-After;
//     a permanent one (refusal, malformed answer) is an Error with a readable message.
// Once a provider has answered, its answer is never thrown away for a retry: recording it is retried here
// through short database outages rather than asking the provider (and paying) again.
// Thread-safe: one AiStage serves every AI consumer thread.

#include <memory>
#include <string>

#include "ai/analyzer.hpp"
#include "db/jobs.hpp"
#include "storage/object_store.hpp"
#include "worker/stage_flow.hpp"

namespace imageproc::worker {

struct AiStageSettings {
  double daily_budget_usd = 0;  // per user and UTC day; 0 = no cap
  std::string temp_dir;         // "" = the system temp directory
  int lease_seconds = 600;      // a Processing stage older than this is presumed abandoned
};

class AiStage {
 public:
  // `analyzer` null means provider `none`: every job's AI stage is Skipped.
  AiStage(db::JobRepository& jobs, storage::ObjectStore& store, queue::Topology topology, ai::Analyzer* analyzer,
          AiStageSettings settings);

  queue::Disposition handle(const queue::Delivery& delivery);

 private:
  struct Outcome;
  Outcome analyze(const db::JobRecord& job);
  bool record(const db::JobRecord& job, const ai::Analysis& analysis);
  std::optional<std::string> budget_exhausted(const db::JobRecord& job);

  db::JobRepository& jobs_;
  storage::ObjectStore& store_;
  StageFlow flow_;
  ai::Analyzer* analyzer_;
  AiStageSettings settings_;
};

}  // namespace imageproc::worker
