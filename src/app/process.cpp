#include "app/process.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace imageproc::app {

std::optional<RunAs> lookup_user(const std::string& name) {
  struct passwd* pw = getpwnam(name.c_str());
  if (!pw) return std::nullopt;
  return RunAs{pw->pw_uid, pw->pw_gid};
}

ChildProcess::ChildProcess(std::string name, std::vector<std::string> argv,
                           std::map<std::string, std::string> env_overrides, std::optional<RunAs> run_as,
                           LineSink sink)
    : name_(std::move(name)) {
  // Build everything the child needs before fork(): only async-signal-safe calls happen after it.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : env_overrides) env[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (run_as) {
      if (setgroups(0, nullptr) != 0 || setgid(run_as->gid) != 0 || setuid(run_as->uid) != 0) _exit(126);
    }
    // A parent that dies without stopping its children (SIGKILL, a crash) must not leave them running: they
    // get SIGTERM. Set after the credential change, which clears it; the check closes the race with a
    // parent that died before this line.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    execve(args[0], args.data(), envp.data());
    const char msg[] = "exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  close(fds[1]);
  const int read_fd = fds[0];
  if (!sink) {
    sink = [prefix = "[" + name_ + "] "](const std::string& line) {
      const std::string out = prefix + line + "\n";
      fwrite(out.data(), 1, out.size(), stdout);
      fflush(stdout);
    };
  }
  relay_ = std::thread([read_fd, sink = std::move(sink)] {
    FILE* in = fdopen(read_fd, "r");
    if (!in) return;
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
      std::string text(line, static_cast<std::size_t>(n));
      if (!text.empty() && text.back() == '\n') text.pop_back();
      sink(text);
    }
    free(line);
    fclose(in);
  });
}

ChildProcess::~ChildProcess() {
  if (running()) {
    signal(SIGKILL);
    wait(std::chrono::seconds(5));
  }
  if (relay_.joinable()) relay_.join();
}

bool ChildProcess::running() {
  if (exit_code_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return r == 0;
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

bool ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void ChildProcess::stop(int sig, std::chrono::milliseconds grace) {
  if (!running()) return;
  signal(sig);
  if (!wait(grace)) {
    signal(SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

int run_to_completion(const std::string& name, std::vector<std::string> argv,
                      std::map<std::string, std::string> env_overrides, std::optional<RunAs> run_as) {
  ChildProcess child(name, std::move(argv), std::move(env_overrides), run_as);
  child.wait(std::chrono::hours(1));
  return child.exit_code().value_or(-1);
}

}  // namespace imageproc::app
