// Test helpers for the process-shared objects: run a function in a fork child, wait for a
// child with a bound (SIGKILL and a test failure past it), wait until a child sleeps; and
// for Process tests: a bounded join and a fixture parameterised by start method.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <gilfree/multiprocessing/process.hpp>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>

namespace mp_test {

// Forks; the child runs fn and _exits with its result (3 if it throws), never returning
// into the test framework.
inline pid_t fork_child(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    int rc = 3;
    try {
      rc = fn();
    } catch (...) {
    }
    ::_exit(rc);
  }
  return pid;
}

// Waits up to `limit` for the child; past it SIGKILLs it, reaps it and fails the test.
// Returns the exit code, or 128+signal.
inline int bounded_wait(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not end within the bound";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The state letter of /proc/<pid>/stat ('S' sleeping, 'R' running, ...), or 0.
inline char proc_state(pid_t pid) {
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* rp = __builtin_strrchr(buf, ')');
  return rp && rp[1] ? rp[2] : 0;
}

// Polls `done()` every millisecond until it is true (returns true) or `limit` passes
// (returns false): for states another process reaches with no way to signal it.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Polls (bounded) until the child is asleep in the kernel — inside its futex wait.
inline bool wait_until_sleeping(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return eventually([pid] { return proc_state(pid) == 'S'; }, limit);
}

// Joins `p` within `limit`; a child still alive then is killed, reaped, and the test fails.
inline void bounded_join(gilfree::mp::Process& p,
                         std::chrono::seconds limit = std::chrono::seconds(20)) {
  p.join(limit);
  if (p.is_alive()) {
    p.kill();
    p.join();
    ADD_FAILURE() << "child did not end within the bound";
  }
}

// A test run once per start method (its parameter), starting Processes with it.
class StartMethodTest : public ::testing::TestWithParam<const char*> {
 protected:
  bool forked() const { return std::string(GetParam()) == "fork"; }
  // Starts fn(args...) with the parameter's start method, without joining.
  template <class F, class... A>
  std::unique_ptr<gilfree::mp::Process> start(F fn, A&&... args) {
    auto p = std::make_unique<gilfree::mp::Process>(
        gilfree::mp::Process::Options{.start_method = GetParam()}, fn, std::forward<A>(args)...);
    p->start();
    return p;
  }
  // Joins p within 20 s; its exit code, or -100 when the bound passed (it was killed).
  static int finish(gilfree::mp::Process& p) {
    p.join(std::chrono::seconds(20));
    if (p.is_alive()) {
      p.kill();
      p.join();
      return -100;
    }
    return p.exitcode().value_or(-101);
  }
};

}  // namespace mp_test
