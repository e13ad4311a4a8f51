// Stress runs of the futures machinery with checked invariants (sized by kStressScale).
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

// ---- stress ---------------------------------------------------------------------------

TEST(Stress, ManyTasksTwoWorkers) {
  const int n = 500000 * kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<Future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
  long long sum = 0;
  for (auto& f : fs) sum += f.result();
  EXPECT_EQ(sum, static_cast<long long>(n) * (n - 1) / 2);
}

TEST(Stress, ManySubmitters) {
  const int per = 10000 * kStressScale;
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
  const int n = 20000 * kStressScale;
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
  const int rounds = 100 * kStressScale + 5;
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
  const int n = 10000 * kStressScale;
  ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<Future<int>> fs;
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
  std::set<int> seen;
  for (auto& f : gilfree::as_completed(fs)) seen.insert(f.as<int>().result());
  EXPECT_EQ(static_cast<int>(seen.size()), n);
}

TEST(Stress, WaitFirstCompletedLoop) {
  const int n = 1000 * kStressScale;
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
  const int cycles = 300 * kStressScale;
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
  const int per = 1500 * kStressScale;
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
  const int per = 50000 * kStressScale;
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

