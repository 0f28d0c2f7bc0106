#pragma once
// Finishes deletions (DESIGN §4 "objects removed asynchronously, row gone from reads at once"): a job marked
// deleted loses its processed outputs, its original, then its row. Each step is idempotent, so an interrupted
// purge is simply run again (the scheduled purge of deleted jobs picks up rows whose purge failed).
//
// BackgroundPurger runs purges off the request path on one thread with a bounded queue; when the queue is
// full the job is left to the scheduled purge instead of growing memory. Thread-safe.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "db/jobs.hpp"
#include "storage/object_store.hpp"

namespace imageproc::worker {

// Removes the objects and the row of a job marked deleted; returns how many objects it removed. Throws on
// storage/database failure (nothing is lost: the row keeps deleted_at and the next purge repeats the
// idempotent steps).
std::size_t purge_deleted_job(db::JobRepository& jobs, storage::ObjectStore& store, const db::JobRecord& job);

class BackgroundPurger {
 public:
  static constexpr std::size_t kMaxQueued = 1000;
  BackgroundPurger(db::JobRepository& jobs, storage::ObjectStore& store);
  ~BackgroundPurger();  // finishes queued purges, then joins
  BackgroundPurger(const BackgroundPurger&) = delete;
  BackgroundPurger& operator=(const BackgroundPurger&) = delete;

  void enqueue(const db::JobRecord& job);

 private:
  void loop();

  db::JobRepository& jobs_;
  storage::ObjectStore& store_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<db::JobRecord> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace imageproc::worker
