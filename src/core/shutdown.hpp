#pragma once
// Turns SIGINT/SIGTERM into a flag that long-running loops can wait on. Construct it in the composition root
// before starting other threads: it blocks both signals in the calling thread (and so in every thread started
// afterwards) and receives them on its own thread with sigwait(). Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace imageproc {

class ShutdownSignal {
 public:
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  bool requested() const;
  // Waits up to `timeout`; returns true when shutdown was requested.
  bool wait_for(std::chrono::milliseconds timeout);
  // Requests shutdown from inside the program (tests, fatal errors).
  void request();

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  bool closing_ = false;
  std::thread waiter_;
};

}  // namespace imageproc
