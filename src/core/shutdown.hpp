#pragma once
// Turns SIGINT/SIGTERM into a flag that long-running loops can wait on. Construct it in the composition root
// before starting other threads: it blocks both signals in the calling thread (and so in every thread started
// afterwards) and receives them on its own thread with sigwait(). Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace imageproc {

// A stop request that background loops poll or wait on. Thread-safe.
class StopFlag {
 public:
  StopFlag() = default;
  StopFlag(const StopFlag&) = delete;
  StopFlag& operator=(const StopFlag&) = delete;

  bool requested() const;
  // Waits up to `timeout`; returns true when a stop was requested.
  bool wait_for(std::chrono::milliseconds timeout);
  void request();

 protected:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
};

// A StopFlag raised by SIGINT/SIGTERM (and by request(), for tests and fatal errors).
class ShutdownSignal : public StopFlag {
 public:
  ShutdownSignal();
  ~ShutdownSignal();

 private:
  bool closing_ = false;
  std::thread waiter_;
};

}  // namespace imageproc
