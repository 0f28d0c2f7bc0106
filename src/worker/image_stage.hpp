#pragma once
// The image stage consumer (DESIGN §6, §7): one delivery of image-jobs in, the job row updated (with its
// outbox messages) before the delivery is acknowledged.
//
//   1–2. decode, claim, crash guard (StageFlow);
//   3. fetch the original to a private temp dir, run imaging::process_image, upload every output under its
//      deterministic key (processed/{userId}/{jobId}/{name}.{format}, so a re-run overwrites);
//   4. record Completed + outputs + metadata and queue the AI stage — or Error with a readable message for
//      inputs that can never succeed — or, for transient failures (store or disk), Pending again with the
//      next attempt on a TTL'd retry queue; after the last retry delay, Error.
// Database failures propagate (the consumer returns the message to the queue and backs off).
// Thread-safe: one ImageStage serves every consumer thread.

#include <string>

#include "db/jobs.hpp"
#include "imaging/pipeline.hpp"
#include "queue/amqp.hpp"
#include "queue/consumer.hpp"
#include "queue/topology.hpp"
#include "storage/object_store.hpp"
#include "worker/stage_flow.hpp"

namespace imageproc::worker {

struct ImageStageSettings {
  imaging::ImageStageOptions imaging;
  std::string temp_dir;       // "" = the system temp directory
  int lease_seconds = 600;    // a Processing stage older than this is presumed abandoned
};

class ImageStage {
 public:
  ImageStage(db::JobRepository& jobs, storage::ObjectStore& store, queue::Topology topology,
             ImageStageSettings settings);

  queue::Disposition handle(const queue::Delivery& delivery);

 private:
  struct Outcome;
  Outcome process(const db::JobRecord& job);

  db::JobRepository& jobs_;
  storage::ObjectStore& store_;
  StageFlow flow_;
  ImageStageSettings settings_;
};

}  // namespace imageproc::worker
