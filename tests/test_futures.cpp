// Tests for gilfree/futures.hpp: Future's state machine, callbacks, as_completed, wait,
// ThreadPoolExecutor (submit, map, shutdown, initializer, bounded submission, the
// deadlock guard) and stress runs with checked invariants.
#include "gilfree/futures.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/threading.hpp"

using namespace std::chrono_literals;
using gilfree::AnyFuture;
using gilfree::Future;
using gilfree::FutureState;
using gilfree::ThreadPoolExecutor;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kStressScale = 2;  // sanitizers run 5-20x slower on the 2-core machine
#else
constexpr int kStressScale = 1;
#endif

// Captures what the log hook receives while alive.
struct LogCapture {
  std::vector<std::string> messages;
  std::mutex mu;
  gilfree::LogHook previous;
  LogCapture() {
    previous = gilfree::set_log_hook([this](std::string_view m, std::exception_ptr e) {
      std::lock_guard g(mu);
      std::string s(m);
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          s += " | ";
          s += ex.what();
        }
      }
      messages.push_back(s);
    });
  }
  ~LogCapture() { gilfree::set_log_hook(previous); }
  std::size_t size() {
    std::lock_guard g(mu);
    return messages.size();
  }
};

std::string thread_os_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace

// ---- Future state machine -------------------------------------------------------------

TEST(Future, NewFutureIsPending) {
  Future<int> f;
  EXPECT_EQ(f.state(), FutureState::PENDING);
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
  EXPECT_NE(f.repr().find("state=pending"), std::string::npos);
}

TEST(Future, CancelPending) {
  Future<int> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(f.state(), FutureState::CANCELLED);
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancel());  // already cancelled: still true
  EXPECT_THROW(f.result(), gilfree::CancelledError);
  EXPECT_THROW(f.exception(), gilfree::CancelledError);
  EXPECT_THROW(f.set_result(1), gilfree::InvalidStateError);
  EXPECT_NE(f.repr().find("state=cancelled"), std::string::npos);
}

TEST(Future, CancelledThenNotified) {
  Future<int> f;
  f.cancel();
  EXPECT_FALSE(f.set_running_or_notify_cancel());
  EXPECT_EQ(f.state(), FutureState::CANCELLED_AND_NOTIFIED);
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(f.set_running_or_notify_cancel(), gilfree::RuntimeError);
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(gilfree::ValueError("x"))),
               gilfree::InvalidStateError);
}

TEST(Future, RunningCannotBeCancelled) {
  Future<int> f;
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  EXPECT_EQ(f.state(), FutureState::RUNNING);
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.set_running_or_notify_cancel(), gilfree::RuntimeError);
  f.set_result(42);
  EXPECT_EQ(f.state(), FutureState::FINISHED);
  EXPECT_FALSE(f.running());
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_THROW(f.set_running_or_notify_cancel(), gilfree::RuntimeError);
}

TEST(Future, SetResultFromPendingAndTwice) {
  Future<std::string> f;
  f.set_result(std::string("hello"));
  EXPECT_EQ(f.result(), "hello");
  EXPECT_EQ(f.result(0s), "hello");
  try {
    f.set_result(std::string("again"));
    FAIL() << "no InvalidStateError";
  } catch (const gilfree::InvalidStateError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("FINISHED: <Future at ", 0), 0u) << e.what();
  }
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               gilfree::InvalidStateError);
  EXPECT_EQ(f.result(), "hello");
  EXPECT_NE(f.repr().find("state=finished returned"), std::string::npos) << f.repr();
}

TEST(Future, SetException) {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(gilfree::ValueError("bad value")));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  auto e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), gilfree::ValueError);
  try {
    f.result();
    FAIL();
  } catch (const gilfree::ValueError& ex) {
    EXPECT_STREQ(ex.what(), "bad value");
  }
  EXPECT_NE(f.repr().find("raised ValueError"), std::string::npos) << f.repr();
  EXPECT_THROW(f.set_exception(nullptr), gilfree::ValueError);
}

TEST(Future, ResultTimesOut) {
  Future<int> f;
  EXPECT_THROW(f.result(0s), gilfree::TimeoutError);
  EXPECT_THROW(f.exception(0.0), gilfree::TimeoutError);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(f.result(30ms), gilfree::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_THROW(f.result(-1.0), gilfree::ValueError);
}

TEST(Future, ResultWaitsForAnotherThread) {
  Future<int> f;
  std::latch started(1);
  std::thread t([&] {
    started.wait();
    std::this_thread::sleep_for(5ms);  // let the main thread reach its sleep (passes either way)
    f.set_result(7);
  });
  started.count_down();
  EXPECT_EQ(f.result(), 7);
  t.join();
}

TEST(Future, CancelWakesWaiter) {
  Future<int> f;
  std::latch started(1);
  std::thread t([&] {
    started.count_down();
    EXPECT_THROW(f.result(), gilfree::CancelledError);
  });
  started.wait();
  f.cancel();
  t.join();
}

TEST(Future, VoidFuture) {
  Future<void> f;
  EXPECT_THROW(f.result(0s), gilfree::TimeoutError);
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  f.set_result();
  f.result();
  EXPECT_THROW(f.set_result(), gilfree::InvalidStateError);
  EXPECT_EQ(f.value_type(), typeid(void));
}

TEST(Future, CopiesShareState) {
  Future<int> a;
  Future<int> b = a;
  AnyFuture c = b;
  EXPECT_EQ(a, b);
  EXPECT_EQ(AnyFuture(a), c);
  EXPECT_EQ(std::hash<AnyFuture>()(a), std::hash<AnyFuture>()(c));
  b.set_result(3);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(c.as<int>().result(), 3);
  EXPECT_THROW(c.as<long>(), std::bad_cast);
  Future<int> other;
  EXPECT_NE(AnyFuture(other), c);
}

TEST(Future, MoveOnlyValue) {
  Future<std::unique_ptr<int>> f;
  f.set_result(std::make_unique<int>(5));
  EXPECT_EQ(*f.result(), 5);
}

// ---- callbacks ------------------------------------------------------------------------

TEST(FutureCallbacks, RunInOrderOnCompletion) {
  Future<int> f;
  std::vector<int> seen;
  f.add_done_callback([&](Future<int> g) { seen.push_back(g.result()); });
  f.add_done_callback([&](Future<int> g) { seen.push_back(g.result() * 10); });
  AnyFuture(f).add_done_callback([&](AnyFuture g) { seen.push_back(g.done() ? 100 : -1); });
  EXPECT_TRUE(seen.empty());
  f.set_result(2);
  EXPECT_EQ(seen, (std::vector<int>{2, 20, 100}));
}

TEST(FutureCallbacks, RunAtOnceWhenDone) {
  Future<int> f;
  f.set_result(1);
  bool ran = false;
  f.add_done_callback([&](Future<int>) { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(FutureCallbacks, RunOnCancelNotOnNotify) {
  Future<int> f;
  int runs = 0;
  f.add_done_callback([&](Future<int> g) {
    EXPECT_TRUE(g.cancelled());
    ++runs;
  });
  f.cancel();
  EXPECT_EQ(runs, 1);
  f.set_running_or_notify_cancel();
  EXPECT_EQ(runs, 1);
}

TEST(FutureCallbacks, ThrowingCallbackIsLoggedAndHarmless) {
  LogCapture log;
  Future<int> f;
  bool second = false;
  f.add_done_callback([](Future<int>) { throw std::runtime_error("boom"); });
  f.add_done_callback([&](Future<int>) { second = true; });
  f.set_result(9);
  EXPECT_TRUE(second);
  EXPECT_EQ(f.result(), 9);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log.messages[0].rfind("exception calling callback for <Future at ", 0), 0u);
  EXPECT_NE(log.messages[0].find("boom"), std::string::npos);
  // Added after completion: runs at once, and still only logged.
  f.add_done_callback([](Future<int>) { throw std::runtime_error("late"); });
  EXPECT_EQ(log.size(), 2u);
}

TEST(FutureCallbacks, CallbackMayUseTheFuture) {
  Future<int> f;
  int got = 0;
  f.add_done_callback([&](Future<int> g) {
    got = g.result();
    g.add_done_callback([&](Future<int> h) { got += h.result(); });  // nested: runs at once
  });
  f.set_result(4);
  EXPECT_EQ(got, 8);
}

// ---- as_completed ---------------------------------------------------------------------

TEST(AsCompleted, YieldsDoneFirstThenCompletionOrder) {
  Future<int> a, b, c;
  b.set_result(2);
  auto range = gilfree::as_completed(std::vector<Future<int>>{a, b, c});
  auto it = range.begin();
  EXPECT_EQ(*it, AnyFuture(b));
  std::thread t([&] {
    c.set_result(3);
    std::this_thread::sleep_for(2ms);
    a.set_result(1);
  });
  ++it;
  EXPECT_EQ(*it, AnyFuture(c));
  ++it;
  EXPECT_EQ(*it, AnyFuture(a));
  ++it;
  EXPECT_TRUE(it == range.end());
  t.join();
}

TEST(AsCompleted, DuplicatesOnceAndMixedTypes) {
  Future<int> a;
  Future<std::string> s;
  Future<void> v;
  a.set_result(1);
  s.set_result(std::string("x"));
  v.set_result();
  std::vector<AnyFuture> all{a, s, a, v, s};
  int n = 0;
  for (const AnyFuture& f : gilfree::as_completed(all)) {
    EXPECT_TRUE(f.done());
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(AsCompleted, TimeoutMessage) {
  Future<int> a, b, c;
  a.set_result(1);
  auto range = gilfree::as_completed({a, b, c}, 20ms);
  auto it = range.begin();
  EXPECT_EQ(*it, AnyFuture(a));
  try {
    ++it;
    FAIL() << "no TimeoutError";
  } catch (const gilfree::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "2 (of 3) futures unfinished");
  }
}

TEST(AsCompleted, AddWhileIterating) {
  std::vector<Future<int>> fs(3);
  fs[0].set_result(0);
  auto range = gilfree::as_completed(std::vector<Future<int>>{fs[0]});
  int n = 0;
  for (auto it = range.begin(); it != range.end(); ++it) {
    int v = it->as<int>().result();
    EXPECT_EQ(v, n);
    ++n;
    if (v + 1 < 3) {
      range.add(fs[v + 1]);
      fs[v + 1].set_result(v + 1);
    }
  }
  EXPECT_EQ(n, 3);
}

TEST(AsCompleted, CancelledCountsOnlyOnceNotified) {
  Future<int> a;
  a.cancel();
  auto range = gilfree::as_completed({a}, 10ms);
  EXPECT_THROW(range.begin(), gilfree::TimeoutError);  // CANCELLED is not yet "completed"
  auto range2 = gilfree::as_completed({a}, 1s);
  a.set_running_or_notify_cancel();
  auto it = range2.begin();
  EXPECT_EQ(*it, AnyFuture(a));
}

TEST(AsCompleted, NotifiedWhileBlocked) {
  Future<int> a;
  auto range = gilfree::as_completed({a});
  std::latch go(1);
  std::thread t([&] {
    go.wait();
    a.cancel();
    a.set_running_or_notify_cancel();
  });
  go.count_down();
  auto it = range.begin();
  EXPECT_TRUE(it->cancelled());
  t.join();
}

TEST(AsCompleted, DestroyedRangeDetaches) {
  Future<int> a;
  { auto range = gilfree::as_completed({a}); }
  a.set_result(1);  // must not touch the destroyed range
  EXPECT_EQ(a.result(), 1);
}

TEST(AsCompleted, ReleasesYieldedFuture) {
  std::weak_ptr<int> weak;
  AnyFuture keep;
  {
    Future<std::shared_ptr<int>> f;
    auto p = std::make_shared<int>(1);
    weak = p;
    f.set_result(std::move(p));
    auto range = gilfree::as_completed({AnyFuture(f)});
    f = Future<std::shared_ptr<int>>();  // drop our handle
    auto it = range.begin();
    EXPECT_FALSE(weak.expired());
    ++it;  // yielded one released at once
    EXPECT_TRUE(it == range.end());
    EXPECT_TRUE(weak.expired());
  }
}

// ---- wait -----------------------------------------------------------------------------

TEST(Wait, AllCompleted) {
  std::vector<Future<int>> fs(3);
  std::thread t([&] {
    for (auto& f : fs) f.set_result(1);
  });
  auto r = gilfree::wait(fs);
  EXPECT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.not_done.empty());
  t.join();
}

TEST(Wait, FirstCompleted) {
  Future<int> a, b;
  std::thread t([&] { b.set_result(2); });
  auto r = gilfree::wait({a, b}, {}, gilfree::FIRST_COMPLETED);
  EXPECT_EQ(r.done.count(b), 1u);
  EXPECT_EQ(r.not_done.count(a), 1u);
  t.join();
  // Already done: returns at once.
  auto r2 = gilfree::wait({a, b}, 0s, gilfree::FIRST_COMPLETED);
  EXPECT_EQ(r2.done.size(), 1u);
}

TEST(Wait, FirstException) {
  Future<int> a, b, c;
  c.cancel();
  c.set_running_or_notify_cancel();  // a cancellation does not stop FIRST_EXCEPTION
  a.set_result(1);
  auto r0 = gilfree::wait({a, b, c}, 10ms, gilfree::FIRST_EXCEPTION);
  EXPECT_EQ(r0.done.size(), 2u);
  EXPECT_EQ(r0.not_done.size(), 1u);
  Future<int> d;
  std::thread t([&] { d.set_exception(std::make_exception_ptr(gilfree::ValueError("v"))); });
  auto r = gilfree::wait({a, b, c, d}, {}, gilfree::FIRST_EXCEPTION);
  t.join();
  EXPECT_EQ(r.done.count(d), 1u);
  EXPECT_EQ(r.not_done.count(b), 1u);
  // Already failed: returns at once.
  auto r2 = gilfree::wait({b, d}, {}, gilfree::FIRST_EXCEPTION);
  EXPECT_EQ(r2.done.size(), 1u);
}

TEST(Wait, FirstExceptionWithoutErrorsWaitsForAll) {
  Future<int> a, b;
  std::thread t([&] {
    a.set_result(1);
    b.set_result(2);
  });
  auto r = gilfree::wait({a, b}, {}, gilfree::FIRST_EXCEPTION);
  t.join();
  EXPECT_EQ(r.done.size(), 2u);
}

TEST(Wait, TimeoutReturnsNotDone) {
  Future<int> a, b;
  a.set_result(1);
  auto r = gilfree::wait({a, b, a}, 20ms);
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), 1u);
  EXPECT_THROW(gilfree::wait({a}, -1.0), gilfree::ValueError);
}

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

// ---- map ------------------------------------------------------------------------------

TEST(ExecutorMap, InputOrder) {
  ThreadPoolExecutor ex({.max_workers = 4});
  std::vector<int> in(200);
  std::iota(in.begin(), in.end(), 0);
  std::vector<int> out;
  for (int v : ex.map(
           [](int x) {
             if (x % 7 == 0) std::this_thread::sleep_for(50us);
             return x * x;
           },
           in))
    out.push_back(v);
  ASSERT_EQ(out.size(), in.size());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(out[i], i * i);
}

TEST(ExecutorMap, ZipsTwoRangesToShortest) {
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<int> a{1, 2, 3, 4};
  std::vector<std::string> b{"a", "b", "c"};
  std::vector<std::string> out;
  for (auto& s : ex.map([](int n, const std::string& t) { return std::string(n, t[0]); }, a, b,
                        {.buffersize = 2}))
    out.push_back(s);
  EXPECT_EQ(out, (std::vector<std::string>{"a", "bb", "ccc"}));
}

TEST(ExecutorMap, BufferSizeBoundsRunAheadOnUnboundedInput) {
  ThreadPoolExecutor ex({.max_workers = 2});
  std::atomic<int> calls{0};
  auto results = ex.map(
      [&](int x) {
        calls.fetch_add(1);
        return x;
      },
      std::views::iota(0), {.buffersize = 4});
  int n = 0;
  for (int v : results) {
    EXPECT_EQ(v, n);
    EXPECT_LE(calls.load(), n + 1 + 4);  // never more than buffersize ahead
    if (++n == 100) break;
  }
  EXPECT_EQ(n, 100);
  EXPECT_THROW(ex.map([](int x) { return x; }, std::vector<int>{1}, {.buffersize = 0}),
               gilfree::ValueError);
}

TEST(ExecutorMap, RethrowsAtFailingElement) {
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<int> in{0, 1, 2, 3, 4};
  std::vector<int> got;
  auto r = ex.map(
      [](int x) {
        if (x == 3) throw gilfree::ValueError("three");
        return x;
      },
      in);
  try {
    for (int v : r) got.push_back(v);
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "three");
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
}

TEST(ExecutorMap, Timeout) {
  ThreadPoolExecutor ex({.max_workers = 1});
  gilfree::Event release;
  std::vector<int> in{0, 1};
  auto r = ex.map(
      [&](int x) {
        release.wait();
        return x;
      },
      in, {.timeout = 20ms});
  EXPECT_THROW(r.begin(), gilfree::TimeoutError);
  release.set();
}

TEST(ExecutorMap, VoidFunction) {
  ThreadPoolExecutor ex({.max_workers = 2});
  std::atomic<int> sum{0};
  std::vector<int> in{1, 2, 3};
  int n = 0;
  for (auto m : ex.map([&](int x) { sum += x; }, in)) {
    static_assert(std::is_same_v<decltype(m), std::monostate>);
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(sum.load(), 6);
}

TEST(ExecutorMap, DestroyingRangeCancelsUnstarted) {
  ThreadPoolExecutor ex({.max_workers = 1});
  gilfree::Event started, release;
  std::atomic<int> ran{0};
  std::vector<int> in(50, 0);
  {
    auto r = ex.map(
        [&](int) {
          started.set();
          release.wait();
          ran.fetch_add(1);
          return 0;
        },
        in);
    started.wait();
  }
  release.set();
  ex.shutdown();
  EXPECT_EQ(ran.load(), 1);
}

// ---- stress ---------------------------------------------------------------------------

TEST(Stress, ManyTasksTwoWorkers) {
  const int n = 1'000'000 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<Future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
  long long sum = 0;
  for (auto& f : fs) sum += f.result();
  EXPECT_EQ(sum, static_cast<long long>(n) * (n - 1) / 2);
}

TEST(Stress, ManySubmitters) {
  const int per = 20'000 / kStressScale;
  const int submitters = 4;
  ThreadPoolExecutor ex({.max_workers = 3});
  std::atomic<long long> sum{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < submitters; ++t)
    ts.emplace_back([&, t] {
      std::vector<Future<int>> fs;
      for (int i = 0; i < per; ++i) fs.push_back(ex.submit([](int x) { return x; }, t * per + i));
      for (auto& f : fs) sum.fetch_add(f.result());
    });
  for (auto& t : ts) t.join();
  long long n = static_cast<long long>(per) * submitters;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST(Stress, CancellationRacesCompletion) {
  const int n = 40'000 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::atomic<int> ran{0};
  std::atomic<int> callbacks{0};
  std::vector<Future<int>> fs;
  for (int i = 0; i < n; ++i) {
    fs.push_back(ex.submit([&] {
      ran.fetch_add(1);
      return 1;
    }));
    fs.back().add_done_callback([&](Future<int>) { callbacks.fetch_add(1); });
    if (i % 2 == 0) fs[i / 2].cancel();
  }
  auto r = gilfree::wait(fs);  // every future must complete or be cancelled-and-notified
  EXPECT_EQ(r.done.size(), fs.size());
  int finished = 0, cancelled = 0;
  for (auto& f : fs) {
    if (f.cancelled()) {
      ++cancelled;
      EXPECT_EQ(f.state(), FutureState::CANCELLED_AND_NOTIFIED);
    } else {
      ++finished;
      EXPECT_EQ(f.result(), 1);
    }
  }
  EXPECT_EQ(finished, ran.load());  // a cancelled call never ran
  EXPECT_EQ(finished + cancelled, n);
  EXPECT_EQ(callbacks.load(), n);  // each callback exactly once
}

TEST(Stress, ShutdownRacesSubmit) {
  const int rounds = 200 / kStressScale + 5;
  for (int round = 0; round < rounds; ++round) {
    ThreadPoolExecutor ex({.max_workers = 2});
    std::atomic<int> accepted{0}, ran{0};
    std::latch go(3);
    std::vector<std::thread> ts;
    std::vector<std::vector<Future<void>>> fs(2);
    for (int t = 0; t < 2; ++t)
      ts.emplace_back([&, t] {
        go.arrive_and_wait();
        for (int i = 0; i < 200; ++i) {
          try {
            fs[t].push_back(ex.submit([&] { ran.fetch_add(1); }));
            accepted.fetch_add(1);
          } catch (const gilfree::RuntimeError&) {
            break;
          }
        }
      });
    go.arrive_and_wait();
    ex.shutdown(true, round % 2 == 1);
    for (auto& t : ts) t.join();
    // Every accepted call either ran or (with cancel_futures) was cancelled; none hangs.
    int cancelled = 0;
    for (auto& v : fs)
      for (auto& f : v) {
        EXPECT_TRUE(f.done());
        if (f.cancelled()) ++cancelled;
      }
    EXPECT_EQ(ran.load() + cancelled, accepted.load());
  }
}

TEST(Stress, AsCompletedManyFutures) {
  const int n = 20'000 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<Future<int>> fs;
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
  std::set<int> seen;
  for (auto& f : gilfree::as_completed(fs)) seen.insert(f.as<int>().result());
  EXPECT_EQ(static_cast<int>(seen.size()), n);
}

TEST(Stress, WaitFirstCompletedLoop) {
  const int n = 2'000 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<AnyFuture> pending;
  for (int i = 0; i < n; ++i) pending.push_back(ex.submit([] {}));
  std::size_t completed = 0;
  while (!pending.empty()) {
    auto r = gilfree::wait(pending, {}, gilfree::FIRST_COMPLETED);
    ASSERT_FALSE(r.done.empty());
    completed += r.done.size();
    pending.assign(r.not_done.begin(), r.not_done.end());
  }
  EXPECT_EQ(completed, static_cast<std::size_t>(n));
}

// Workers go to sleep between bursts and must be woken for each one: a lost wake-up
// shows up as a TimeoutError here instead of a hang.
TEST(Stress, SleepWakeCycles) {
  const int cycles = 600 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 3});
  for (int c = 0; c < cycles; ++c) {
    std::vector<Future<int>> fs;
    int k = 1 + c % 7;
    for (int i = 0; i < k; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
    for (int i = 0; i < k; ++i) ASSERT_EQ(fs[i].result(10s), i) << "cycle " << c;
    if (c % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50 * (c % 40)));
  }
}

// Submitters from several threads with pauses, so that wake-ups race with workers going
// to sleep and with each other.
TEST(Stress, ConcurrentSubmittersWithPauses) {
  const int per = 3000 / kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; ++i) {
        auto f = ex.submit([](int x) { return x + 1; }, i);
        try {
          if (f.result(10s) != i + 1) bad.fetch_add(1);
        } catch (const gilfree::TimeoutError&) {
          bad.fetch_add(1);
        }
        if ((i + t) % 97 == 0) std::this_thread::sleep_for(200us);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// Futures dropped at once: the workers free the states, the submitter allocates new ones
// (blocks flow back through the state pools' shared depot).
TEST(Stress, FireAndForgetFromManyThreads) {
  const int per = 100'000 / kStressScale;
  std::atomic<long> ran{0};
  {
    ThreadPoolExecutor ex({.max_workers = 2});
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t)
      ts.emplace_back([&] {
        for (int i = 0; i < per; ++i) ex.submit([&ran](int x) { ran.fetch_add(x); }, 1);
      });
    for (auto& t : ts) t.join();
  }
  EXPECT_EQ(ran.load(), 2L * per);
}
