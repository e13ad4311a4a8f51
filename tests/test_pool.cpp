// Tests for gilfree/multiprocessing/pool.hpp: ThreadPool with multiprocessing.pool's API
// (apply, apply_async + callbacks, AsyncResult, map/map_async/starmap/starmap_async,
// imap/imap_unordered with chunksize, close/terminate/join).
#include "gilfree/multiprocessing/pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/threading.hpp"

using namespace std::chrono_literals;
using gilfree::ThreadPool;

namespace {
int square(int x) { return x * x; }
}  // namespace

TEST(ThreadPool, Processes) {
  ThreadPool p(3);
  EXPECT_EQ(p.processes(), 3u);
  ThreadPool d;
  EXPECT_EQ(d.processes(), std::max(1u, std::thread::hardware_concurrency()));
  try {
    ThreadPool bad(0);
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "Number of processes must be at least 1");
  }
}

TEST(ThreadPool, Apply) {
  ThreadPool p(2);
  EXPECT_EQ(p.apply([](int a, int b) { return a * b; }, 6, 7), 42);
  EXPECT_THROW(p.apply([] { throw gilfree::ValueError("x"); }), gilfree::ValueError);
  std::atomic<int> n{0};
  p.apply([&] { n = 1; });
  EXPECT_EQ(n.load(), 1);
}

TEST(ThreadPool, ApplyAsyncAndAsyncResult) {
  ThreadPool p(1);
  gilfree::Event release;
  auto r = p.apply_async([&](int x) {
    release.wait();
    return x + 1;
  }, std::tuple(1));
  EXPECT_FALSE(r.ready());
  EXPECT_THROW(r.get(10ms), gilfree::TimeoutError);
  try {
    (void)r.successful();
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("not ready"), std::string::npos);
  }
  r.wait(5ms);  // never throws
  release.set();
  EXPECT_EQ(r.get(), 2);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  auto bad = p.apply_async([] {
    throw gilfree::ValueError("boom");
    return 0;
  });
  bad.wait();
  EXPECT_FALSE(bad.successful());
  EXPECT_THROW(bad.get(), gilfree::ValueError);
}

TEST(ThreadPool, CallbacksRunBeforeReady) {
  ThreadPool p(2);
  std::atomic<int> got{0};
  auto r = p.apply_async([](int x) { return x * 3; }, std::tuple(5),
                         [&](const int& v) { got = v; });
  EXPECT_EQ(r.get(), 15);
  EXPECT_EQ(got.load(), 15);
  std::string err;
  auto e = p.apply_async([]() -> int { throw std::runtime_error("bad"); }, std::tuple<>(), {},
                         [&](std::exception_ptr ep) {
                           try {
                             std::rethrow_exception(ep);
                           } catch (const std::exception& ex) {
                             err = ex.what();
                           }
                         });
  e.wait();
  EXPECT_EQ(err, "bad");
}

TEST(ThreadPool, Map) {
  ThreadPool p(3);
  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), 0);
  for (std::optional<std::size_t> cs : {std::optional<std::size_t>{}, std::optional<std::size_t>{1},
                                        std::optional<std::size_t>{7}, std::optional<std::size_t>{5000}}) {
    auto out = p.map(square, in, cs);
    ASSERT_EQ(out.size(), in.size());
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[i], i * i);
  }
  EXPECT_TRUE(p.map(square, std::vector<int>{}).empty());
  EXPECT_THROW(p.map(square, in, 0), gilfree::ValueError);
}

TEST(ThreadPool, MapRaisesFirstError) {
  ThreadPool p(2);
  std::vector<int> in(100);
  std::iota(in.begin(), in.end(), 0);
  std::atomic<int> errors{0};
  auto r = p.map_async(
      [](int x) {
        if (x == 50) throw gilfree::ValueError("fifty");
        return x;
      },
      in, 10, {}, [&](std::exception_ptr) { errors.fetch_add(1); });
  EXPECT_THROW(r.get(), gilfree::ValueError);
  EXPECT_FALSE(r.successful());
  EXPECT_EQ(errors.load(), 1);
}

TEST(ThreadPool, MapAsyncCallback) {
  ThreadPool p(2);
  std::vector<int> in{1, 2, 3};
  std::vector<int> seen;
  auto r = p.map_async(square, in, {}, [&](const std::vector<int>& v) { seen = v; });
  EXPECT_EQ(r.get(), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(seen, (std::vector<int>{1, 4, 9}));
}

TEST(ThreadPool, Starmap) {
  ThreadPool p(2);
  std::vector<std::tuple<int, int>> args{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(p.starmap([](int a, int b) { return a * b; }, args), (std::vector<int>{2, 12, 30}));
  auto r = p.starmap_async([](int a, int b) { return a + b; }, args, 1);
  EXPECT_EQ(r.get(), (std::vector<int>{3, 7, 11}));
}

TEST(ThreadPool, ImapOrdered) {
  ThreadPool p(3);
  std::vector<int> in(500);
  std::iota(in.begin(), in.end(), 0);
  for (std::size_t cs : {1, 3, 1000}) {
    int i = 0;
    for (int v : p.imap(
             [](int x) {
               if (x % 13 == 0) std::this_thread::sleep_for(20us);
               return x * 2;
             },
             in, cs)) {
      EXPECT_EQ(v, i * 2);
      ++i;
    }
    EXPECT_EQ(i, 500);
  }
}

TEST(ThreadPool, ImapUnbounded) {
  ThreadPool p(2);
  std::atomic<int> calls{0};
  int n = 0;
  for (int v : p.imap(
           [&](int x) {
             calls.fetch_add(1);
             return x;
           },
           std::views::iota(0), 4)) {
    EXPECT_EQ(v, n);
    if (++n == 200) break;
  }
  EXPECT_LE(calls.load(), 200 + 4 * 2 * 4 + 4);  // bounded run-ahead
}

TEST(ThreadPool, ImapUnorderedYieldsAll) {
  ThreadPool p(3);
  std::vector<int> in(300);
  std::iota(in.begin(), in.end(), 0);
  for (std::size_t cs : {1, 10}) {
    std::multiset<int> got;
    for (int v : p.imap_unordered(square, in, cs)) got.insert(v);
    ASSERT_EQ(got.size(), 300u);
    for (int i = 0; i < 300; ++i) EXPECT_EQ(got.count(i * i), 1u);
  }
}

TEST(ThreadPool, ImapUnorderedCompletionOrder) {
  ThreadPool p(2);
  gilfree::Event release;
  std::vector<int> in{0, 1};
  auto r = p.imap_unordered(
      [&](int x) {
        if (x == 0) release.wait();
        return x;
      },
      in);
  auto it = r.begin();
  EXPECT_EQ(*it, 1);  // 0 is still blocked
  release.set();
  ++it;
  EXPECT_EQ(*it, 0);
}

TEST(ThreadPool, ImapRethrowsAtElement) {
  ThreadPool p(2);
  std::vector<int> in{0, 1, 2, 3};
  std::vector<int> got;
  try {
    for (int v : p.imap(
             [](int x) {
               if (x == 2) throw gilfree::ValueError("two");
               return x;
             },
             in))
      got.push_back(v);
    FAIL();
  } catch (const gilfree::ValueError&) {
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1}));
}

TEST(ThreadPool, CloseJoin) {
  ThreadPool p(2);
  std::atomic<int> ran{0};
  std::vector<gilfree::AsyncResult<void>> rs;
  for (int i = 0; i < 50; ++i) rs.push_back(p.apply_async([&] {
    std::this_thread::sleep_for(50us);
    ran.fetch_add(1);
  }));
  try {
    p.join();
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "Pool is still running");
  }
  p.close();
  try {
    p.apply_async([] {});
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "Pool not running");
  }
  EXPECT_THROW(p.map(square, std::vector<int>{1}), gilfree::ValueError);
  p.join();
  EXPECT_EQ(ran.load(), 50);
  for (auto& r : rs) EXPECT_TRUE(r.successful());
}

TEST(ThreadPool, TerminateCancelsQueued) {
  ThreadPool p(1);
  gilfree::Event started, release;
  auto first = p.apply_async([&] {
    started.set();
    release.wait();
    return 1;
  });
  started.wait();
  auto second = p.apply_async([] { return 2; });
  std::vector<int> in{1, 2, 3};
  auto mapped = p.map_async(square, in, 1);
  std::thread t([&] {
    std::this_thread::sleep_for(5ms);
    release.set();
  });
  p.terminate();
  p.join();
  t.join();
  EXPECT_EQ(first.get(), 1);
  EXPECT_THROW(second.get(), gilfree::CancelledError);
  EXPECT_THROW(mapped.get(1s), gilfree::CancelledError);
}

TEST(ThreadPool, BrokenInitializer) {
  auto prev = gilfree::set_log_hook([](std::string_view, std::exception_ptr) {});
  {
    ThreadPool p({.processes = 1, .initializer = [] { throw std::runtime_error("init"); }});
    auto r = p.apply_async([] { return 1; });
    EXPECT_THROW(r.get(5s), gilfree::BrokenThreadPool);
    std::vector<int> in{1, 2};
    EXPECT_THROW(p.map(square, in), gilfree::BrokenThreadPool);
  }
  gilfree::set_log_hook(prev);
}

TEST(ThreadPool, NestedApplyOnOneWorker) {
  ThreadPool p(1);
  // A task waiting on a result of its own pool: the executor's deadlock guard runs it inline.
  EXPECT_EQ(p.apply([&p] { return p.apply_async([] { return 5; }).get() + 1; }), 6);
}

TEST(ThreadPool, CallbacksRunOnTheResultHandlerThreadNotOnAWorker) {
  ThreadPool p(2);
  std::string ok_thread, err_thread, map_thread;
  auto r = p.apply_async([](int x) { return x; }, std::tuple(1),
                         [&](const int&) { ok_thread = gilfree::current_thread().name(); });
  auto e = p.apply_async([]() -> int { throw gilfree::ValueError("x"); }, std::tuple<>(), {},
                         [&](std::exception_ptr) { err_thread = gilfree::current_thread().name(); });
  std::vector<int> in{1, 2, 3};
  auto m = p.map_async(square, in, 1,
                       [&](const std::vector<int>&) { map_thread = gilfree::current_thread().name(); });
  r.wait(10s);
  e.wait(10s);
  m.wait(10s);
  ASSERT_TRUE(r.ready() && e.ready() && m.ready());
  EXPECT_EQ(ok_thread, "ThreadPool-result-handler");
  EXPECT_EQ(err_thread, "ThreadPool-result-handler");
  EXPECT_EQ(map_thread, "ThreadPool-result-handler");
}

TEST(ThreadPool, CallbacksRunInCompletionOrderOneAtATime) {
  ThreadPool p(3);
  std::atomic<int> inside{0}, overlap{0};
  std::vector<gilfree::AsyncResult<int>> rs;
  for (int i = 0; i < 30; ++i)
    rs.push_back(p.apply_async([](int x) { return x; }, std::tuple(i), [&](const int&) {
      if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
      std::this_thread::sleep_for(100us);
      inside.fetch_sub(1);
    }));
  for (std::size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].get(10s), static_cast<int>(i));
  EXPECT_EQ(overlap.load(), 0);
}

TEST(ThreadPool, OptionsAndWhatAThreadPoolDoesNotTake) {
  ThreadPool p({.processes = 2});
  EXPECT_EQ(p.processes(), 2u);
  EXPECT_THROW(ThreadPool({.maxtasksperchild = 5}), gilfree::ValueError);
  EXPECT_THROW(ThreadPool({.context = "fork"}), gilfree::ValueError);
  gilfree::mp::ThreadPool q(1);  // the multiprocessing namespace, as `mp.pool.ThreadPool`
  EXPECT_EQ(q.apply([] { return 3; }), 3);
}
