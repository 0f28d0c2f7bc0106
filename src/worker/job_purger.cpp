#include "worker/job_purger.hpp"

#include "core/logging.hpp"

namespace imageproc::worker {

std::size_t purge_deleted_job(db::JobRepository& jobs, storage::ObjectStore& store,
                              const db::JobRecord& job) {
  std::size_t removed = store.remove_prefix(contracts::processed_prefix(job.user_id, job.id));
  if (store.head(job.original_key)) {
    store.remove(job.original_key);
    ++removed;
  }
  jobs.purge(job.id);
  log::info("deleted image purged", {{"jobId", job.id}, {"objectsRemoved", removed}});
  return removed;
}

BackgroundPurger::BackgroundPurger(db::JobRepository& jobs, storage::ObjectStore& store)
    : jobs_(jobs), store_(store), thread_([this] { loop(); }) {}

BackgroundPurger::~BackgroundPurger() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BackgroundPurger::enqueue(const db::JobRecord& job) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) {
      log::warn("purge queue full; leaving the job to the scheduled purge", {{"jobId", job.id}});
      return;
    }
    queue_.push_back(job);
  }
  changed_.notify_one();
}

void BackgroundPurger::loop() {
  for (;;) {
    db::JobRecord job;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      purge_deleted_job(jobs_, store_, job);
    } catch (const std::exception& e) {
      log::warn("purge of a deleted image failed; the scheduled purge retries it",
                {{"jobId", job.id}, {"error", e.what()}});
    }
  }
}

}  // namespace imageproc::worker
