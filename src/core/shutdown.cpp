#include "core/shutdown.hpp"

#include <csignal>
#include <pthread.h>

namespace imageproc {

ShutdownSignal::ShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // internal wake-up used by the destructor
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::lock_guard lock(mutex_);
      if (sig == SIGUSR2 && closing_) return;
      if (sig == SIGINT || sig == SIGTERM) {
        requested_ = true;
        changed_.notify_all();
      }
    }
  });
}

ShutdownSignal::~ShutdownSignal() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
}

bool StopFlag::requested() const {
  std::lock_guard lock(mutex_);
  return requested_;
}

bool StopFlag::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return requested_; });
  return requested_;
}

void StopFlag::request() {
  std::lock_guard lock(mutex_);
  requested_ = true;
  changed_.notify_all();
}

}  // namespace imageproc
