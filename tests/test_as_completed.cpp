// as_completed() and wait(): completion order, duplicates, timeouts, typed handles.
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
  EXPECT_FALSE(a.set_running_or_notify_cancel());
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
    EXPECT_FALSE(a.set_running_or_notify_cancel());
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
  EXPECT_FALSE(c.set_running_or_notify_cancel());  // a cancellation does not stop FIRST_EXCEPTION
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


// ---- typed handles ----------------------------------------------------------------------

TEST(AsCompleted, OverFuturesOfOneTypeYieldsThatFutureType) {
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<Future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(ex.submit([](int x) { return x + 1; }, i));
  int sum = 0;
  for (auto f : gilfree::as_completed(fs)) {
    static_assert(std::is_same_v<decltype(f), Future<int>>);
    static_assert(std::is_same_v<decltype(f.result()), const int&>);
    sum += f.result();
  }
  EXPECT_EQ(sum, 55);
  // The very futures that went in come out (the same shared state).
  auto again = gilfree::as_completed(fs);
  std::size_t matched = 0;
  for (auto f : again) matched += std::count(fs.begin(), fs.end(), f);
  EXPECT_EQ(matched, fs.size());
}

TEST(AsCompleted, OverAnyFuturesYieldsAnyFuture) {
  Future<int> a;
  Future<std::string> b;
  a.set_result(1);
  b.set_result("x");
  std::vector<AnyFuture> mixed{a, b};
  for (auto f : gilfree::as_completed(mixed)) {
    static_assert(std::is_same_v<decltype(f), AnyFuture>);
    EXPECT_TRUE(f.done());
  }
}

TEST(Wait, OverFuturesOfOneTypeGivesThatFutureType) {
  Future<int> a, b;
  a.set_result(3);
  auto r = gilfree::wait(std::vector<Future<int>>{a, b}, 10ms);
  static_assert(std::is_same_v<decltype(r), gilfree::DoneAndNotDoneFutures<Future<int>>>);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done.begin()->result(), 3);
  EXPECT_EQ(r.not_done.count(b), 1u);
}
