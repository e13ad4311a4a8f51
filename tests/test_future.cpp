// Future and AnyFuture: the state machine, results and exceptions, done-callbacks.
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
  EXPECT_THROW((void)f.set_running_or_notify_cancel(), gilfree::RuntimeError);
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
  EXPECT_THROW((void)f.set_running_or_notify_cancel(), gilfree::RuntimeError);
  f.set_result(42);
  EXPECT_EQ(f.state(), FutureState::FINISHED);
  EXPECT_FALSE(f.running());
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_THROW((void)f.set_running_or_notify_cancel(), gilfree::RuntimeError);
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
  EXPECT_FALSE(f.set_running_or_notify_cancel());
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

