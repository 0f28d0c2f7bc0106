#pragma once
// Child-process supervision for `imageproc up`: spawn with an environment, optionally as another user (the
// PostgreSQL server refuses to run as root), in its own process group so the terminal's Ctrl-C reaches only
// the supervisor, which then stops children in order. Output lines are relayed with a "[name] " prefix.
// Not thread-safe per instance; the relay runs on its own thread. A child gets SIGTERM when the thread that
// started it ends (Linux's parent-death signal), so a supervisor killed outright leaves nothing running: start
// children from a thread that outlives them.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace imageproc::app {

struct RunAs {
  uid_t uid;
  gid_t gid;
};

// The uid/gid of a system user, or nullopt when it does not exist.
std::optional<RunAs> lookup_user(const std::string& name);

// Receives each output line of a child (without the newline), on the relay thread.
using LineSink = std::function<void(const std::string& line)>;

class ChildProcess {
 public:
  // Without a sink, lines are printed to stdout as "[name] line".
  ChildProcess(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env_overrides,
               std::optional<RunAs> run_as = std::nullopt, LineSink sink = {});
  ~ChildProcess();  // SIGKILLs and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  std::optional<int> exit_code() const { return exit_code_; }
  void signal(int sig);
  // Waits up to `timeout`; true when the child has exited.
  bool wait(std::chrono::milliseconds timeout);
  // SIGTERM (or `sig`), wait up to `grace`, then SIGKILL.
  void stop(int sig, std::chrono::milliseconds grace);

 private:
  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::thread relay_;
};

// Runs a command to completion (output relayed with a prefix); returns its exit status.
int run_to_completion(const std::string& name, std::vector<std::string> argv,
                      std::map<std::string, std::string> env_overrides, std::optional<RunAs> run_as = std::nullopt);

}  // namespace imageproc::app
