// ProcessPoolExecutor when things go wrong: a worker killed in a task (both death
// policies), a worker that exits, aborts or crashes, per-task timeouts, terminate/kill with
// work pending, shutdown(wait=false) with work queued, SIGINT, the parent SIGKILLed, and
// many create/close cycles without a descriptor leak. Every wait is bounded.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/futures.hpp"
#include "gilfree/futures/process.hpp"
#include "mp_child.hpp"

// A worker that calls std::exit runs LeakSanitizer's exit check over what it inherited;
// it is off in a worker that is about to exit on purpose (as in test_fork.cpp).
namespace {
bool lsan_off = false;
}
extern "C" int __lsan_is_turned_off() { return lsan_off ? 1 : 0; }

namespace {

using namespace std::chrono_literals;
using gilfree::Future;
using gilfree::ProcessPoolExecutor;
using gilfree::WorkerDeathPolicy;
namespace mp = gilfree::mp;

int square(int x) { return x * x; }
int my_pid() { return static_cast<int>(::getpid()); }
int pid_after_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Waits (bounded) until `f` has been handed to a worker.
template <class T>
bool until_running(const Future<T>& f) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!f.running() && !f.done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  return f.running();
}

// The message of the exception `f` ends with ("" if none within 20 s).
template <class E, class T>
std::string error_of(const Future<T>& f) {
  try {
    (void)f.result(20s);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("another exception: ") + e.what();
  }
  return "no exception";
}

// True when `pid` is gone or a zombie (its parent died and nobody reaped it yet).
bool gone(pid_t pid) {
  char st = mp_test::proc_state(pid);
  return st == 0 || st == 'Z' || st == 'X';
}

int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

class Failures : public ::testing::TestWithParam<std::string> {
 protected:
  ProcessPoolExecutor::Options opts(int n, WorkerDeathPolicy p = WorkerDeathPolicy::break_pool) {
    return {.max_workers = n, .mp_context = mp::get_context(GetParam()), .on_worker_death = p};
  }
};

TEST_P(Failures, ByDefaultAKilledWorkerBreaksThePoolAsPythonDoes) {
  ProcessPoolExecutor ex(opts(2));
  auto victim = ex.submit(sleep_ms, 30000);
  ASSERT_TRUE(until_running(victim));
  std::vector<Future<int>> pending;
  for (int i = 0; i < 5; ++i) pending.push_back(ex.submit(sleep_ms, 30000));
  auto pids = ex.worker_pids();
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  std::string msg = error_of<gilfree::BrokenProcessPool>(victim);
  EXPECT_NE(msg.find("terminated abruptly"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pid " + std::to_string(pids[0])), std::string::npos) << msg;
  EXPECT_NE(msg.find("signal 9 (SIGKILL)"), std::string::npos) << msg;
  for (auto& f : pending) EXPECT_EQ(error_of<gilfree::BrokenProcessPool>(f), msg);
  EXPECT_THROW((void)ex.submit(square, 1), gilfree::BrokenProcessPool);
  ex.shutdown(true);
  EXPECT_TRUE(ex.worker_pids().empty());
}

TEST_P(Failures, WithRespawnOnlyTheDeadWorkersTaskFails) {
  ProcessPoolExecutor ex(opts(1, WorkerDeathPolicy::respawn));
  auto victim = ex.submit(sleep_ms, 30000);
  ASSERT_TRUE(until_running(victim));
  auto after = ex.submit(square, 6);  // queued behind it: must run on the new worker
  const pid_t old = ex.worker_pids().at(0);
  ASSERT_EQ(::kill(old, SIGKILL), 0);
  try {
    (void)victim.result(20s);
    FAIL();
  } catch (const gilfree::WorkerLostError& e) {
    EXPECT_EQ(e.pid(), old);
    EXPECT_EQ(e.exitcode(), -SIGKILL);
  }
  EXPECT_EQ(after.result(20s), 36);
  EXPECT_NE(ex.submit(my_pid).result(20s), old);
}

TEST_P(Failures, ExitAbortAndSegfaultAreDeaths) {
  {
    ProcessPoolExecutor ex(opts(1));
    auto f = ex.submit([]() -> int { std::_Exit(3); });
    auto msg = error_of<gilfree::BrokenProcessPool>(f);
    EXPECT_NE(msg.find("exit code 3"), std::string::npos) << msg;
  }
  ProcessPoolExecutor ex(opts(2, WorkerDeathPolicy::respawn));
  auto a = ex.submit([] { std::abort(); });
  auto b = ex.submit([] {
    ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would report the fault and exit
    ::raise(SIGSEGV);
  });
  auto c = ex.submit([] {
    lsan_off = true;
    std::exit(4);
  });
  EXPECT_NE(error_of<gilfree::WorkerLostError>(a).find("SIGABRT"), std::string::npos);
  EXPECT_NE(error_of<gilfree::WorkerLostError>(b).find("SIGSEGV"), std::string::npos);
  EXPECT_NE(error_of<gilfree::WorkerLostError>(c).find("exit code 4"), std::string::npos);
  EXPECT_EQ(ex.submit(square, 4).result(20s), 16);
}

TEST_P(Failures, ATaskTimeoutKillsOnlyThatWorker) {
  ProcessPoolExecutor ex(opts(2));  // even under break_pool: a timeout is not a death
  auto slow = ex.submit({.timeout = 200ms}, sleep_ms, 30000);
  ASSERT_TRUE(until_running(slow));
  const int survivor = ex.submit({.timeout = 20s}, my_pid).result(20s);  // the other worker
  const auto t0 = std::chrono::steady_clock::now();
  auto msg = error_of<gilfree::TimeoutError>(slow);
  EXPECT_NE(msg.find("Task timeout"), std::string::npos) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(square, i));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fs[i].result(20s), i * i);
  std::set<int> pids;
  for (int i = 0; i < 10 && !pids.count(survivor); ++i) {
    auto a = ex.submit(pid_after_ms, 50), b = ex.submit(pid_after_ms, 50);  // one per worker
    pids.insert(a.result(20s));
    pids.insert(b.result(20s));
  }
  EXPECT_TRUE(pids.count(survivor)) << "the worker that did not time out was replaced too";
}

TEST_P(Failures, TerminateAndKillWorkersWithPendingWork) {
  for (bool kill : {false, true}) {
    ProcessPoolExecutor ex(opts(1));
    auto running = ex.submit(sleep_ms, 30000);
    ASSERT_TRUE(until_running(running));
    std::vector<Future<int>> queued;
    for (int i = 0; i < 5; ++i) queued.push_back(ex.submit(square, i));
    auto pids = ex.worker_pids();
    const auto t0 = std::chrono::steady_clock::now();
    if (kill) {
      ex.kill_workers();
    } else {
      ex.terminate_workers();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    auto msg = error_of<gilfree::BrokenProcessPool>(running);
    EXPECT_NE(msg.find(kill ? "kill_workers" : "terminate_workers"), std::string::npos) << msg;
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(ex.worker_pids().empty());
    for (pid_t p : pids) EXPECT_TRUE(gone(p));
    EXPECT_THROW((void)ex.submit(square, 1), gilfree::RuntimeError);
  }
}

TEST_P(Failures, ShutdownWithoutWaitStillRunsQueuedWork) {
  auto ex = std::make_unique<ProcessPoolExecutor>(opts(2));
  std::vector<Future<int>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(ex->submit(square, i));
  ex->shutdown(false);
  EXPECT_THROW((void)ex->submit(square, 1), gilfree::RuntimeError);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(fs[i].result(30s), i * i);
  ex.reset();  // joins what is left
}

TEST_P(Failures, WorkersIgnoreSigint) {
  ProcessPoolExecutor ex(opts(1));
  auto f = ex.submit(sleep_ms, 300);
  ASSERT_TRUE(until_running(f));
  ASSERT_EQ(::kill(ex.worker_pids().at(0), SIGINT), 0);
  EXPECT_EQ(f.result(20s), 300);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, Failures, ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

// The parent SIGKILLed (or stopped by a Ctrl-C to its process group, which its workers
// ignore): no worker is left a second later.
void no_orphans(const std::string& method, int sig) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t child = mp_test::fork_child([&] {
    ::close(p[0]);
    if (sig == SIGINT) ::setpgid(0, 0);
    ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mp::get_context(method)});
    std::vector<Future<int>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(ex.submit(sleep_ms, 30000));
    if (!until_running(fs[0]) || !until_running(fs[1])) return 5;
    auto pids = ex.worker_pids();
    [[maybe_unused]] auto n = ::write(p[1], pids.data(), pids.size() * sizeof(pid_t));
    ::close(p[1]);
    std::this_thread::sleep_for(60s);  // killed long before
    return 0;
  });
  ::close(p[1]);
  pid_t pids[2] = {0, 0};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof pids)) {
    ssize_t n = ::read(p[0], reinterpret_cast<char*>(pids) + got, sizeof pids - got);
    if (n <= 0) break;
    got += n;
  }
  ::close(p[0]);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof pids));
  for (pid_t w : pids) ASSERT_FALSE(gone(w));
  if (sig == SIGINT) {
    ::kill(-child, SIGINT);  // the terminal's Ctrl-C reaches the whole group
  } else {
    ::kill(child, sig);
  }
  EXPECT_EQ(mp_test::bounded_wait(child, 20s), 128 + sig);
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until && !(gone(pids[0]) && gone(pids[1])))
    std::this_thread::sleep_for(5ms);
  for (pid_t w : pids) {
    EXPECT_TRUE(gone(w)) << "worker " << w << " outlived its parent by 1 s";
    if (!gone(w)) ::kill(w, SIGKILL);
  }
}

TEST(ProcessPoolParent, SigkilledParentLeavesNoWorker) {
  no_orphans("fork", SIGKILL);
  no_orphans("forkserver", SIGKILL);
}

TEST(ProcessPoolParent, CtrlCStopsTheParentAndItsWorkers) { no_orphans("fork", SIGINT); }

TEST(ProcessPoolCycles, ThousandCreateCloseCyclesLeakNoDescriptor) {
  {
    ProcessPoolExecutor warm({.max_workers = 1, .mp_context = mp::get_context("fork")});
    (void)warm.submit(square, 1).result(20s);
  }
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  const int cycles = 40;  // a fork of an instrumented process costs ~0.2 s under TSan
#else
  const int cycles = 1000;
#endif
  const int before = open_fds();
  for (int i = 0; i < cycles; ++i) {
    ProcessPoolExecutor ex({.max_workers = 1, .mp_context = mp::get_context("fork")});
    if (i % 20 == 0) {
      ASSERT_EQ(ex.submit(square, i).result(20s), i * i);
    }
  }
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
