// mp::Pool: multiprocessing.Pool's API on worker processes (the Pool front over
// ProcessPoolExecutor). What seeds 000 and 002 use, callbacks in the parent, and the
// failures CPython's Pool hangs on: a worker killed in a task, a throwing initializer.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gilfree/multiprocessing/pool.hpp"
#include "gilfree/threading.hpp"

namespace {

using namespace std::chrono_literals;
namespace mp = gilfree::mp;

int square(int x) { return x * x; }
int my_pid(int) { return static_cast<int>(::getpid()); }
int bad_fib(int n) { return n < 2 ? n : bad_fib(n - 1) + bad_fib(n - 2); }
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Waits (bounded) until `r`'s call has been handed to a worker.
template <class T>
bool until_running(const mp::AsyncResult<T>& r) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!r.future().running() && !r.future().done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  return r.future().running();
}

class PoolOn : public ::testing::TestWithParam<std::string> {
 protected:
  mp::Pool::Options opts(int n) { return {.processes = n, .context = mp::get_context(GetParam())}; }
};

TEST_P(PoolOn, SeedMethods) {
  mp::Pool pool(opts(3));
  EXPECT_EQ(pool.processes(), 3u);
  // seed 000: bad_fib over [25, 25, 25], one per worker
  auto fibs = pool.map(bad_fib, std::vector<int>{25, 25, 25});
  EXPECT_EQ(fibs, (std::vector<int>{75025, 75025, 75025}));
  // seed 002: apply_async, map, imap
  EXPECT_EQ(pool.apply_async(square, std::tuple(20)).get(20s), 400);
  std::vector<int> in(100);
  std::iota(in.begin(), in.end(), 0);
  auto sq = pool.map(square, in);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(sq[i], i * i);
  int i = 0;
  for (int v : pool.imap(square, in, 8)) {
    EXPECT_EQ(v, i * i);
    ++i;
  }
  EXPECT_EQ(i, 100);
  std::set<int> unordered;
  for (int v : pool.imap_unordered(square, in)) unordered.insert(v);
  EXPECT_EQ(unordered.size(), 100u);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap([](int a, int b) { return a * b; }, pairs), (std::vector<int>{2, 12}));
  EXPECT_EQ(pool.apply([](int a, int b) { return a - b; }, 10, 4), 6);
  EXPECT_EQ(pool.map([](int) {}, in, 7).size(), 100u);  // void: a vector of monostate
  // the `time.sleep` timeout case of seed 002
  auto slow = pool.apply_async(sleep_ms, std::tuple(300));
  EXPECT_THROW(slow.get(10ms), gilfree::TimeoutError);
  EXPECT_EQ(slow.get(20s), 300);
}

TEST_P(PoolOn, CallbacksRunInTheParent) {
  mp::Pool pool(opts(2));
  std::atomic<int> got{0};
  std::string where;
  auto r = pool.apply_async(square, std::tuple(9), [&](const int& v) {
    got = v;
    where = gilfree::current_thread().name();
  });
  EXPECT_EQ(r.get(20s), 81);
  EXPECT_EQ(got.load(), 81);
  EXPECT_EQ(where, "Pool-result-handler");
  std::exception_ptr seen;
  auto bad = pool.map_async([](int x) -> int { throw gilfree::ValueError(std::to_string(x)); },
                            std::vector<int>{1, 2}, 1, {}, [&](std::exception_ptr e) { seen = e; });
  EXPECT_THROW(bad.get(20s), gilfree::ValueError);
  EXPECT_NE(seen, nullptr);
}

TEST_P(PoolOn, AWorkerKilledInATaskFailsOnlyThatTask) {
  mp::Pool pool(opts(1));
  auto victim = pool.apply_async(sleep_ms, std::tuple(30000));
  ASSERT_TRUE(until_running(victim));
  auto pids = pool.worker_pids();
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  try {
    (void)victim.get(20s);
    FAIL() << "the task of a killed worker must fail";
  } catch (const mp::WorkerLostError& e) {
    EXPECT_EQ(e.pid(), pids[0]);
    EXPECT_EQ(e.exitcode(), -SIGKILL);
    EXPECT_NE(std::string(e.what()).find("signal 9 (SIGKILL)"), std::string::npos) << e.what();
  }
  // replaced: the pool goes on
  EXPECT_EQ(pool.apply(square, 5), 25);
  auto now = pool.worker_pids();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], pids[0]);
}

TEST_P(PoolOn, MapRaisesWhenAWorkerDiesInsteadOfHanging) {
  mp::Pool pool(opts(2));
  std::vector<int> in{1, 2, 3, 4, 5, 6};
  try {
    (void)pool.map(
        [](int x) {
          if (x == 4) ::kill(::getpid(), SIGKILL);
          return x;
        },
        in, 1);
    FAIL();
  } catch (const mp::WorkerLostError& e) {
    EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool.map(square, in), (std::vector<int>{1, 4, 9, 16, 25, 36}));
}

TEST_P(PoolOn, ExitAbortAndSegfaultAreDeathsToo) {
  mp::Pool pool(opts(2));
  auto a = pool.apply_async([] { std::_Exit(3); });
  auto b = pool.apply_async([] { std::abort(); });
  auto c = pool.apply_async([] {
    ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would report the fault and exit
    ::raise(SIGSEGV);
  });
  auto ok = pool.apply_async(square, std::tuple(3));
  auto what = [](const auto& r) {
    try {
      r.get(20s);
    } catch (const mp::WorkerLostError& e) {
      return std::string(e.what());
    }
    return std::string("no WorkerLostError");
  };
  EXPECT_NE(what(a).find("exit code 3"), std::string::npos) << what(a);
  EXPECT_NE(what(b).find("SIGABRT"), std::string::npos) << what(b);
  EXPECT_NE(what(c).find("SIGSEGV"), std::string::npos) << what(c);
  EXPECT_EQ(ok.get(20s), 9);
}

void init_throws() { throw std::runtime_error("no database"); }

TEST_P(PoolOn, AThrowingInitializerFailsTheResultsWithItsMessage) {
  mp::Pool pool({.processes = 2, .initializer = init_throws, .context = mp::get_context(GetParam())});
  try {
    (void)pool.map(square, std::vector<int>{1, 2, 3});
    FAIL();
  } catch (const gilfree::BrokenProcessPool& e) {
    EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
  }
  pool.close();
  pool.join();
  EXPECT_TRUE(pool.worker_pids().empty());  // no respawn storm
}

TEST_P(PoolOn, MaxTasksPerChild) {
  mp::Pool pool({.processes = 2, .maxtasksperchild = 1, .context = mp::get_context(GetParam())});
  std::vector<int> in(12);
  auto pids = pool.map(my_pid, in, 1);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 12u);
}

TEST_P(PoolOn, TerminateStopsRunningAndQueuedTasks) {
  mp::Pool pool(opts(1));
  auto running = pool.apply_async(sleep_ms, std::tuple(30000));
  ASSERT_TRUE(until_running(running));
  auto queued = pool.apply_async(square, std::tuple(2));  // never sent behind a lone call
  const auto t0 = std::chrono::steady_clock::now();
  pool.terminate();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_THROW(running.get(1s), gilfree::BrokenProcessPool);
  EXPECT_THROW(queued.get(1s), gilfree::CancelledError);
  pool.join();
  EXPECT_TRUE(pool.worker_pids().empty());
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoolOn, ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

TEST(PoolOptions, BadValues) {
  EXPECT_THROW(mp::Pool({.processes = 0}), gilfree::ValueError);
  EXPECT_THROW(mp::Pool({.processes = 1, .maxtasksperchild = 0}), gilfree::ValueError);
}

}  // namespace
