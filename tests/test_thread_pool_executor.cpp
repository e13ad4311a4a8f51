// ThreadPoolExecutor beyond the Executor contract (tests/test_executor.cpp): workers
// on demand, names, initializer, bounded submission, the deadlock guard, shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <numeric>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "futures_support.hpp"
#include "gilfree/futures.hpp"
#include "gilfree/threading.hpp"
#include "stress_scale.hpp"

using namespace std::chrono_literals;
using gilfree::AnyFuture;
using gilfree::Future;
using gilfree::FutureState;
using gilfree::ThreadPoolExecutor;
using gilfree_test::LogCapture;
using gilfree_test::thread_os_name;
using gilfree_test::kStressScale;

// ---- ThreadPoolExecutor -----------------------------------------------------------------

TEST(ThreadPoolExecutor, SubmitAndResult) {
  ThreadPoolExecutor ex({.max_workers = 2});
  auto f = ex.submit([](int a, int b) { return a + b; }, 2, 3);
  EXPECT_EQ(f.result(), 5);
  auto g = ex.submit([] { throw gilfree::ValueError("nope"); });
  static_assert(std::is_same_v<decltype(g), Future<void>>);
  EXPECT_THROW(g.result(), gilfree::ValueError);
  std::string s = "abc";
  auto h = ex.submit([](std::string x) { return x + "!"; }, s);
  EXPECT_EQ(h.result(), "abc!");
  auto m = ex.submit([](std::unique_ptr<int> p) { return *p; }, std::make_unique<int>(8));
  EXPECT_EQ(m.result(), 8);
}

TEST(ThreadPoolExecutor, MaxWorkers) {
  ThreadPoolExecutor ex;
  EXPECT_EQ(ex.max_workers(),
            std::min(32, static_cast<int>(std::thread::hardware_concurrency()) + 4));
  EXPECT_THROW(ThreadPoolExecutor({.max_workers = 0}), gilfree::ValueError);
  try {
    ThreadPoolExecutor bad({.max_workers = -1});
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
  }
}

TEST(ThreadPoolExecutor, ThreadNames) {
  ThreadPoolExecutor ex({.max_workers = 1, .thread_name_prefix = "dl"});
  EXPECT_EQ(ex.submit([] { return gilfree::current_thread().name(); }).result(), "dl_0");
  EXPECT_EQ(ex.submit(thread_os_name).result(), "dl_0");
  ThreadPoolExecutor unnamed({.max_workers = 1});
  EXPECT_EQ(unnamed.thread_name_prefix().rfind("ThreadPoolExecutor-", 0), 0u);
  EXPECT_EQ(unnamed.submit([] { return gilfree::current_thread().name(); }).result(),
            unnamed.thread_name_prefix() + "_0");
}

TEST(ThreadPoolExecutor, IdleWorkerIsReused) {
  ThreadPoolExecutor ex({.max_workers = 4});
  for (int i = 0; i < 20; ++i) ex.submit([] {}).result();
  EXPECT_EQ(ex.num_threads(), 1u);
}

TEST(ThreadPoolExecutor, WorkersStartedOnDemand) {
  ThreadPoolExecutor ex({.max_workers = 3});
  EXPECT_EQ(ex.num_threads(), 0u);
  std::latch all_running(3);
  gilfree::Event release;
  std::vector<Future<void>> fs;
  for (int i = 0; i < 3; ++i)
    fs.push_back(ex.submit([&] {
      all_running.count_down();
      release.wait();
    }));
  all_running.wait();  // deadlocks unless three threads were started
  EXPECT_EQ(ex.num_threads(), 3u);
  release.set();
  for (auto& f : fs) f.result();
}

TEST(ThreadPoolExecutor, SubmitAfterShutdown) {
  ThreadPoolExecutor ex({.max_workers = 1});
  ex.shutdown();
  try {
    ex.submit([] {});
    FAIL();
  } catch (const gilfree::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
  ex.shutdown();  // idempotent
}

TEST(ThreadPoolExecutor, ShutdownWaitRunsEverything) {
  std::atomic<int> ran{0};
  std::vector<Future<void>> fs;
  {
    ThreadPoolExecutor ex({.max_workers = 2});
    for (int i = 0; i < 100; ++i)
      fs.push_back(ex.submit([&] {
        std::this_thread::sleep_for(100us);
        ran.fetch_add(1);
      }));
  }  // destructor = shutdown(true)
  EXPECT_EQ(ran.load(), 100);
  for (auto& f : fs) EXPECT_EQ(f.state(), FutureState::FINISHED);
}

TEST(ThreadPoolExecutor, ShutdownCancelFutures) {
  ThreadPoolExecutor ex({.max_workers = 1});
  gilfree::Event started, release;
  auto first = ex.submit([&] {
    started.set();
    release.wait();
    return 1;
  });
  started.wait();
  std::vector<Future<int>> rest;
  for (int i = 0; i < 10; ++i) rest.push_back(ex.submit([] { return 2; }));
  std::thread releaser([&] {
    std::this_thread::sleep_for(10ms);  // let shutdown drain first (passes either way)
    release.set();
  });
  ex.shutdown(true, true);
  releaser.join();
  EXPECT_EQ(first.result(), 1);
  for (auto& f : rest) {
    EXPECT_TRUE(f.cancelled());
    EXPECT_EQ(f.state(), FutureState::CANCELLED_AND_NOTIFIED);  // wait() hears of it
  }
  auto r = gilfree::wait(rest, 0s);
  EXPECT_EQ(r.done.size(), rest.size());
}

TEST(ThreadPoolExecutor, ShutdownNoWaitThenDestructorJoins) {
  std::atomic<bool> done{false};
  {
    ThreadPoolExecutor ex({.max_workers = 1});
    ex.submit([&] {
      std::this_thread::sleep_for(20ms);
      done = true;
    });
    ex.shutdown(false);
    EXPECT_THROW(ex.submit([] {}), gilfree::RuntimeError);
  }
  EXPECT_TRUE(done.load());
}

TEST(ThreadPoolExecutor, CancelPendingTask) {
  ThreadPoolExecutor ex({.max_workers = 1});
  gilfree::Event started, release;
  auto blocker = ex.submit([&] {
    started.set();
    release.wait();
  });
  started.wait();
  std::atomic<bool> ran{false};
  auto f = ex.submit([&] { ran = true; });
  EXPECT_FALSE(blocker.cancel());  // running
  EXPECT_TRUE(f.cancel());
  release.set();
  blocker.result();
  ex.shutdown();
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(f.state(), FutureState::CANCELLED_AND_NOTIFIED);
}

TEST(ThreadPoolExecutor, InitializerRunsPerWorker) {
  std::atomic<int> inits{0};
  thread_local int tl = 0;
  ThreadPoolExecutor ex({.max_workers = 2, .initializer = [&] {
                           inits.fetch_add(1);
                           tl = 42;
                         }});
  EXPECT_EQ(ex.submit([] { return tl; }).result(), 42);
  ex.shutdown();
  EXPECT_GE(inits.load(), 1);
  EXPECT_LE(inits.load(), 2);
}

TEST(ThreadPoolExecutor, FailingInitializerBreaksPool) {
  LogCapture log;
  ThreadPoolExecutor ex({.max_workers = 1, .initializer = [] {
                           throw std::runtime_error("init failed");
                         }});
  auto f = ex.submit([] { return 1; });
  try {
    f.result();
    FAIL();
  } catch (const gilfree::BrokenThreadPool& e) {
    EXPECT_STREQ(e.what(), "A thread initializer failed, the thread pool is not usable anymore");
  }
  EXPECT_THROW(ex.submit([] { return 2; }), gilfree::BrokenThreadPool);
  EXPECT_THROW(ex.submit([] { return 2; }), gilfree::BrokenExecutor);
  ASSERT_GE(log.size(), 1u);
  EXPECT_EQ(log.messages[0], "Exception in initializer: | init failed");
}

TEST(ThreadPoolExecutor, CallbacksRunOnWorkerAndThrowingOneIsHarmless) {
  LogCapture log;
  ThreadPoolExecutor ex({.max_workers = 1, .thread_name_prefix = "cb"});
  gilfree::Event release;
  auto f = ex.submit([&] {
    release.wait();
    return 5;
  });
  std::string where;
  gilfree::Event called;
  f.add_done_callback([](Future<int>) { throw std::runtime_error("cb boom"); });
  f.add_done_callback([&](Future<int> g) {
    where = gilfree::current_thread().name();
    EXPECT_EQ(g.result(), 5);
    called.set();
  });
  release.set();
  called.wait();
  EXPECT_EQ(where, "cb_0");
  EXPECT_EQ(ex.submit([] { return 6; }).result(), 6);  // the pool is fine
  EXPECT_EQ(log.size(), 1u);
}

TEST(ThreadPoolExecutor, DeadlockGuardRunsAwaitedTaskInline) {
  ThreadPoolExecutor ex({.max_workers = 1});
  auto outer = ex.submit([&ex] {
    auto inner = ex.submit([] { return 41; });
    return inner.result() + 1;  // one worker, and it is us: runs `inner` here
  });
  EXPECT_EQ(outer.result(5s), 42);
  // Deeper nesting.
  std::function<int(int)> rec = [&](int n) -> int {
    if (n == 0) return 0;
    return ex.submit(rec, n - 1).result() + 1;
  };
  EXPECT_EQ(ex.submit(rec, 10).result(5s), 10);
}

TEST(ThreadPoolExecutor, MaxPendingBlocksAndTimesOut) {
  ThreadPoolExecutor ex({.max_workers = 1, .max_pending = 2});
  gilfree::Event started, release;
  auto blocker = ex.submit([&] {
    started.set();
    release.wait();
  });
  started.wait();  // the worker took it: the queue is empty again
  auto a = ex.submit([] { return 1; });
  auto b = ex.submit_for(0s, [] { return 2; });
  EXPECT_THROW(ex.submit_for(20ms, [] { return 3; }), gilfree::Full);
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);  // submit below blocks first (passes either way)
    release.set();
  });
  auto c = ex.submit([] { return 3; });  // blocks until the worker frees a slot
  t.join();
  EXPECT_EQ(a.result() + b.result() + c.result(), 6);
  blocker.result();
}

TEST(ThreadPoolExecutor, MaxPendingSubmitterFailsOnShutdown) {
  ThreadPoolExecutor ex({.max_workers = 1, .max_pending = 1});
  gilfree::Event started, release;
  ex.submit([&] {
    started.set();
    release.wait();
  });
  started.wait();
  ex.submit([] {});
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    ex.shutdown(false, true);
    release.set();
  });
  EXPECT_THROW(ex.submit([] {}), gilfree::RuntimeError);
  t.join();
}

