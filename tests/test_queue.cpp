// Tests for gilfree/queue.hpp: Python's queue module semantics, edge cases and stress.
#include "gilfree/queue.hpp"

#include "gilfree/threading.hpp"
#include "stress_scale.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <latch>
#include <ctime>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>  // this_thread only
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using gilfree::Empty;
using gilfree::Full;
using gilfree::LifoQueue;
using gilfree::PriorityQueue;
using gilfree::Queue;
using gilfree::ShutDown;
using gilfree::SimpleQueue;
using gilfree::ValueError;

namespace {

using gilfree_test::kStressScale;  // base amounts below are sized for sanitizers

using Clock = std::chrono::steady_clock;

// The threads in these tests are gilfree's own: started here, joined by the test.
using Threads = std::vector<std::unique_ptr<gilfree::Thread>>;
template <class F>
std::unique_ptr<gilfree::Thread> spawn(F&& fn) {
  auto thread = std::make_unique<gilfree::Thread>(std::forward<F>(fn));
  thread->start();
  return thread;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- ordering of the three kinds -----------------------------------------------------

TEST(QueueOrder, FifoIsFirstInFirstOut) {
  for (long maxsize : {0L, 8L, 5L, 200000L}) {  // deque, ring (2^n), ring (% n), big deque
    Queue<int> q(maxsize);
    for (int i = 0; i < 5; ++i) q.put(i);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get(), i) << "maxsize " << maxsize;
  }
}

TEST(QueueOrder, RingWrapsAroundManyLaps) {
  Queue<int> q(3);  // not a power of two: positions map with %
  int next_out = 0;
  for (int i = 0; i < 1000; ++i) {
    q.put(i);
    if (q.full()) {
      while (!q.empty()) EXPECT_EQ(q.get(), next_out++);
    }
  }
  while (!q.empty()) EXPECT_EQ(q.get(), next_out++);
  EXPECT_EQ(next_out, 1000);
  Queue<int> r(64);  // a power of two large enough for the cache-line shuffle
  for (int lap = 0; lap < 10; ++lap) {
    for (int i = 0; i < 64; ++i) r.put(lap * 64 + i);
    EXPECT_TRUE(r.full());
    for (int i = 0; i < 64; ++i) EXPECT_EQ(r.get(), lap * 64 + i);
  }
}

TEST(QueueOrder, LifoIsLastInFirstOut) {
  LifoQueue<int> q;
  for (int i = 0; i < 5; ++i) q.put(i);
  for (int i = 4; i >= 0; --i) EXPECT_EQ(q.get(), i);
}

TEST(QueueOrder, PriorityIsSmallestFirst) {
  PriorityQueue<int> q;
  for (int v : {5, 1, 4, 1, 3, 9, 2}) q.put(v);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 2, 3, 4, 5, 9}));
}

TEST(QueueOrder, PriorityWithPairsAsInPython) {
  PriorityQueue<std::pair<int, std::string>> q;
  q.put({2, "code"});
  q.put({1, "eat"});
  q.put({3, "sleep"});
  EXPECT_EQ(q.get().second, "eat");
  EXPECT_EQ(q.get().second, "code");
  EXPECT_EQ(q.get().second, "sleep");
}

struct ByLength {
  bool operator()(const std::string& a, const std::string& b) const {
    return a.size() < b.size();
  }
};

TEST(QueueOrder, PriorityWithCustomComparator) {
  PriorityQueue<std::string, ByLength> shortest;
  for (const char* s : {"ccc", "a", "bb", "dddd"}) shortest.put(s);
  EXPECT_EQ(shortest.get(), "a");
  EXPECT_EQ(shortest.get(), "bb");

  PriorityQueue<int, std::greater<int>> largest;
  for (int v : {3, 7, 1}) largest.put(v);
  EXPECT_EQ(largest.get(), 7);
  EXPECT_EQ(largest.get(), 3);
  EXPECT_EQ(largest.get(), 1);
}

TEST(QueueOrder, PriorityMatchesASortedReference) {
  PriorityQueue<int> q;
  std::multiset<int> reference;
  std::mt19937 random(42);
  for (int step = 0; step < 5000; ++step) {
    if (reference.empty() || random() % 3 != 0) {
      const int v = static_cast<int>(random() % 100);  // plenty of duplicates
      q.put(v);
      reference.insert(v);
    } else {
      ASSERT_EQ(q.get(), *reference.begin());
      reference.erase(reference.begin());
    }
  }
  while (!reference.empty()) {
    ASSERT_EQ(q.get(), *reference.begin());
    reference.erase(reference.begin());
  }
  EXPECT_TRUE(q.empty());
}

// A comparison that throws (Python's `<` on unorderable items does) must leave the
// queue as it was: no item lost, duplicated or left moved-from.
struct Unorderable : std::runtime_error {
  Unorderable() : std::runtime_error("'<' not supported") {}
};
std::atomic<bool> g_compare_throws{false};
struct FlakyLess {
  bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
    if (g_compare_throws.load() || *a == 13 || *b == 13) throw Unorderable();
    return *a < *b;
  }
};

TEST(QueueOrder, PriorityComparisonThatThrowsChangesNothing) {
  PriorityQueue<std::unique_ptr<int>, FlakyLess> q;
  for (int v : {5, 3, 8, 1, 9, 2, 7}) q.put(std::make_unique<int>(v));
  EXPECT_THROW(q.put(std::make_unique<int>(13)), Unorderable);
  EXPECT_EQ(q.qsize(), 7u);
  g_compare_throws.store(true);
  EXPECT_THROW(q.get(), Unorderable);
  EXPECT_THROW(q.put(std::make_unique<int>(4)), Unorderable);
  g_compare_throws.store(false);
  EXPECT_EQ(q.qsize(), 7u);
  std::vector<int> out;
  while (!q.empty()) {
    auto item = q.get();
    ASSERT_NE(item, nullptr);
    out.push_back(*item);
    q.task_done();
  }
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 5, 7, 8, 9}));
  q.join();  // seven puts, seven task_done: the failed puts were never counted
  EXPECT_THROW(q.task_done(), ValueError);
}

// A user-defined policy: the extension point Python offers through _put/_get/_qsize.
template <class T>
struct DropDuplicates {
  void put(T&& item) {
    if (std::find(items.begin(), items.end(), item) == items.end())
      items.push_back(std::move(item));
  }
  T get() {
    T item = std::move(items.front());
    items.erase(items.begin());
    return item;
  }
  std::size_t size() const noexcept { return items.size(); }
  std::vector<T> items;
};

TEST(QueueOrder, UserDefinedPolicy) {
  gilfree::BasicQueue<int, DropDuplicates<int>> q;
  for (int v : {1, 2, 1, 3, 2}) q.put(v);
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
}

// ---- sizes, Empty, Full, timeouts ----------------------------------------------------

TEST(QueueBasics, SizesAndMaxsize) {
  Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_FALSE(q.empty());
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);

  Queue<int> unbounded;  // default maxsize 0
  EXPECT_EQ(unbounded.maxsize(), 0);
  Queue<int> negative(-5);  // negative: unbounded too, as in Python
  for (int i = 0; i < 10000; ++i) negative.put_nowait(i);
  EXPECT_FALSE(negative.full());
  EXPECT_EQ(negative.qsize(), 10000u);
}

template <class Q>
void expect_empty_and_full_raise(Q& q) {
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(false), Empty);
  EXPECT_THROW(q.get(true, 0.0), Empty);  // a zero timeout does not wait
  q.put(1);
  q.put(2);
  EXPECT_THROW(q.put_nowait(3), Full);
  EXPECT_THROW(q.put(3, false), Full);
  EXPECT_THROW(q.put(3, true, 0ms), Full);
  EXPECT_EQ(q.qsize(), 2u);
}

TEST(QueueBasics, EmptyAndFullRaise) {
  Queue<int> ring(2);
  expect_empty_and_full_raise(ring);
  LifoQueue<int> lifo(2);
  expect_empty_and_full_raise(lifo);
  PriorityQueue<int> prio(2);
  expect_empty_and_full_raise(prio);
}

TEST(QueueBasics, TimedGetAndPutWaitThenRaise) {
  Queue<int> q(1);
  auto start = Clock::now();
  EXPECT_THROW(q.get(true, 50ms), Empty);
  EXPECT_GE(seconds_since(start), 0.045);
  q.put(1);
  start = Clock::now();
  EXPECT_THROW(q.put(2, true, 0.05), Full);  // seconds as a double, Python's form
  EXPECT_GE(seconds_since(start), 0.045);

  LifoQueue<int> l(1);
  start = Clock::now();
  EXPECT_THROW(l.get(true, 30ms), Empty);
  EXPECT_GE(seconds_since(start), 0.025);
}

TEST(QueueBasics, NegativeTimeoutIsValueError) {
  Queue<int> q(1);
  EXPECT_THROW(q.get(true, -1.0), ValueError);
  EXPECT_THROW(q.get(true, -1ms), ValueError);
  EXPECT_THROW(q.put(1, true, -0.5), ValueError);
  EXPECT_THROW((void)q.try_get(-1s), ValueError);
  SimpleQueue<int> s;
  EXPECT_THROW(s.get(true, -1.0), ValueError);
}

TEST(QueueBasics, BlockedGetIsWokenByPut) {
  Queue<int> q(4);
  std::latch started(1);
  auto getter = spawn([&] {
    started.count_down();
    EXPECT_EQ(q.get(), 42);  // blocks (forever) until the put
  });
  started.wait();
  std::this_thread::sleep_for(20ms);  // let it reach its sleep; the test passes either way
  q.put(42);
  getter->join();
}

TEST(QueueBasics, BlockedPutIsWokenByGet) {
  for (long maxsize : {1L, 0L + 100001L}) {  // ring, and the big-deque store
    Queue<int> q(maxsize);
    for (long i = 0; i < maxsize; ++i) q.put_nowait(static_cast<int>(i));
    std::latch started(1);
    auto putter = spawn([&] {
      started.count_down();
      q.put(-1);  // blocks until a slot frees
    });
    started.wait();
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(q.get(), 0);
    putter->join();
    EXPECT_EQ(q.qsize(), static_cast<std::size_t>(maxsize));
  }
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A getter with nothing to do sleeps rather than spins: blocked ~300 ms, it may poll
// for microseconds before sleeping but must not burn anything like the whole wait.
TEST(QueueBasics, BlockedGetterSleepsInsteadOfSpinning) {
  for (long maxsize : {1024L, 0L}) {
    Queue<int> q(maxsize);
    std::latch started(1);
    double cpu = 0, wall = 0;
    auto getter = spawn([&] {
      started.count_down();
      const double cpu0 = thread_cpu_seconds();
      const auto start = Clock::now();
      EXPECT_EQ(q.get(), 1);
      cpu = thread_cpu_seconds() - cpu0;
      wall = seconds_since(start);
    });
    started.wait();
    std::this_thread::sleep_for(300ms);  // the time the getter has to wait
    q.put(1);
    getter->join();
    EXPECT_GE(wall, 0.25);
    EXPECT_LT(cpu, 0.05) << "a blocked get() used " << cpu * 1e3 << " ms of CPU in "
                         << wall * 1e3 << " ms";
  }
}

TEST(QueueBasics, TryGetAndTryPut) {
  Queue<int> q(1);
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_EQ(q.try_get(10ms), std::nullopt);
  EXPECT_TRUE(q.try_put(7));
  EXPECT_FALSE(q.try_put(8));
  EXPECT_FALSE(q.try_put(8, 10ms));
  const int nine = 9;
  EXPECT_FALSE(q.try_put(nine));
  EXPECT_EQ(q.try_get(), 7);
  EXPECT_TRUE(q.try_put(nine));
  EXPECT_EQ(q.get(), 9);
  q.shutdown();
  EXPECT_FALSE(q.try_put(1));  // ShutDown becomes false
  EXPECT_EQ(q.try_get(), std::nullopt);  // and nullopt
  EXPECT_EQ(q.try_get(gilfree::Timeout()), std::nullopt);  // even "forever" returns
}

// ---- move-only items -----------------------------------------------------------------

template <class Q>
void exercise_move_only(Q& q) {
  q.put(std::make_unique<int>(2));
  q.put(std::make_unique<int>(1));
  auto a = q.get();
  auto b = q.get_nowait();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a + *b, 3);
  auto c = std::make_unique<int>(5);
  EXPECT_TRUE(q.try_put(std::move(c)));
  EXPECT_EQ(c, nullptr);  // moved from on success
  auto got = q.try_get();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(**got, 5);
}

struct DerefLess {
  bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
    return *a < *b;
  }
};

TEST(QueueMoveOnly, UniquePtrInEveryKind) {
  Queue<std::unique_ptr<int>> ring(4);
  exercise_move_only(ring);
  Queue<std::unique_ptr<int>> unbounded;
  exercise_move_only(unbounded);
  LifoQueue<std::unique_ptr<int>> lifo;
  exercise_move_only(lifo);
  PriorityQueue<std::unique_ptr<int>, DerefLess> prio;
  exercise_move_only(prio);
  SimpleQueue<std::unique_ptr<int>> simple;
  simple.put(std::make_unique<int>(3));
  EXPECT_EQ(*simple.get(), 3);
}

TEST(QueueMoveOnly, FailedTryPutKeepsTheItem) {
  Queue<std::unique_ptr<int>> q(1);
  q.put(std::make_unique<int>(1));
  auto item = std::make_unique<int>(2);
  EXPECT_FALSE(q.try_put(std::move(item)));
  ASSERT_NE(item, nullptr);  // still ours
  EXPECT_EQ(*item, 2);
}

TEST(QueueMoveOnly, ItemsLeftInTheQueueAreDestroyed) {
  auto tracked = std::make_shared<int>(0);
  {
    Queue<std::shared_ptr<int>> ring(8);
    Queue<std::shared_ptr<int>> deque;
    for (int i = 0; i < 5; ++i) {
      ring.put(tracked);
      deque.put(tracked);
    }
    ring.get();
    EXPECT_EQ(tracked.use_count(), 10);
  }
  EXPECT_EQ(tracked.use_count(), 1);  // ASan's leak check sees the rest
}

// ---- task_done and join --------------------------------------------------------------

TEST(QueueTasks, TaskDoneTooOftenIsValueError) {
  Queue<int> q;
  try {
    q.task_done();
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "task_done() called too many times");
  }
  q.put(1);
  q.get();
  q.task_done();
  EXPECT_THROW(q.task_done(), ValueError);
  q.join();  // nothing unfinished: returns at once
}

TEST(QueueTasks, TaskDoneMayPrecedeGetAsInPython) {
  Queue<int> q(4);
  q.put(1);
  q.put(2);
  q.task_done();  // unfinished_tasks was 2: allowed
  q.task_done();
  EXPECT_THROW(q.task_done(), ValueError);
  EXPECT_EQ(q.qsize(), 2u);
  q.join();
}

TEST(QueueTasks, JoinWaitsForEveryTaskDone) {
  for (long maxsize : {0L, 16L}) {
    Queue<int> q(maxsize);
    constexpr int kItems = 100;
    std::atomic<int> processed{0};
    auto worker = spawn([&] {
      for (int i = 0; i < kItems; ++i) {
        q.get();
        processed.fetch_add(1);
        q.task_done();
      }
    });
    for (int i = 0; i < kItems; ++i) q.put(i);
    q.join();
    EXPECT_EQ(processed.load(), kItems);  // join returned only after the last task_done
    worker->join();
  }
}

TEST(QueueTasks, JoinBlocksWhileATaskIsPending) {
  Queue<int> q(4);
  q.put(1);
  std::atomic<bool> joined{false};
  auto joiner = spawn([&] {
    q.join();
    joined.store(true);
  });
  std::this_thread::sleep_for(30ms);  // give join a chance to return wrongly
  EXPECT_FALSE(joined.load());
  q.get();
  q.task_done();
  joiner->join();
  EXPECT_TRUE(joined.load());
}

// ---- shutdown (Python 3.13) ----------------------------------------------------------

template <class Q>
void check_graceful_shutdown(Q& q) {
  q.put(1);
  q.put(2);
  EXPECT_FALSE(q.is_shutdown());
  q.shutdown();
  EXPECT_TRUE(q.is_shutdown());
  EXPECT_THROW(q.put(3), ShutDown);        // puts raise at once
  EXPECT_THROW(q.put_nowait(3), ShutDown);
  EXPECT_EQ(q.qsize(), 2u);
  q.get();                                 // gets drain what is left
  q.get_nowait();
  EXPECT_THROW(q.get(), ShutDown);         // then raise, never block
  EXPECT_THROW(q.get_nowait(), ShutDown);  // ShutDown, not Empty
  EXPECT_THROW(q.get(true, 1s), ShutDown);
  q.task_done();
  q.task_done();
  q.join();
  q.shutdown();  // idempotent
}

TEST(QueueShutdown, GracefulDrainsThenRaises) {
  Queue<int> ring(4);
  check_graceful_shutdown(ring);
  Queue<int> deque;
  check_graceful_shutdown(deque);
  LifoQueue<int> lifo;
  check_graceful_shutdown(lifo);
  PriorityQueue<int> prio(3);
  check_graceful_shutdown(prio);
}

TEST(QueueShutdown, PutOnFullShutDownQueueIsShutDownNotFull) {
  Queue<int> q(1);
  q.put(1);
  q.shutdown();
  EXPECT_THROW(q.put_nowait(2), ShutDown);  // Python checks is_shutdown first
}

template <class Q>
void check_immediate_shutdown(Q& q) {
  for (int i = 0; i < 3; ++i) q.put(i);
  q.get();
  q.task_done();  // unfinished: 2, items left: 2
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);  // emptied
  EXPECT_THROW(q.get_nowait(), ShutDown);
  EXPECT_THROW(q.get(), ShutDown);
  EXPECT_THROW(q.put(9), ShutDown);
  q.join();  // unfinished tasks were forgiven with the items
  EXPECT_THROW(q.task_done(), ValueError);
}

TEST(QueueShutdown, ImmediateEmptiesAndReleasesJoin) {
  Queue<int> ring(8);
  check_immediate_shutdown(ring);
  Queue<int> deque;
  check_immediate_shutdown(deque);
  LifoQueue<int> lifo;
  check_immediate_shutdown(lifo);
  PriorityQueue<int> prio;
  check_immediate_shutdown(prio);
}

TEST(QueueShutdown, ImmediateNeverForgivesMoreThanUnfinished) {
  Queue<int> q(8);
  q.put(1);
  q.put(2);
  q.task_done();
  q.task_done();  // unfinished 0 while two items are still queued, as Python allows
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_THROW(q.task_done(), ValueError);
  q.join();
}

// Every blocked caller wakes with ShutDown: getters on an empty queue, putters on a
// full one, and (immediate) join() with tasks pending.
template <class Q>
void check_shutdown_wakes_blocked(bool immediate) {
  Q empty_q(2);
  Q full_q(2);
  full_q.put(1);
  full_q.put(2);
  constexpr int kEach = 3;
  std::atomic<int> shut_down{0};
  std::latch started(2 * kEach + 1);
  Threads threads;
  for (int i = 0; i < kEach; ++i) {
    threads.push_back(spawn([&] {
      started.count_down();
      try {
        empty_q.get();
      } catch (const ShutDown&) {
        shut_down.fetch_add(1);
      }
    }));
    threads.push_back(spawn([&] {
      started.count_down();
      try {
        full_q.put(3, true, 30s);
      } catch (const ShutDown&) {
        shut_down.fetch_add(1);
      }
    }));
  }
  std::atomic<bool> joined{false};
  threads.push_back(spawn([&] {
    started.count_down();
    full_q.join();  // two tasks pending
    joined.store(true);
  }));
  started.wait();
  std::this_thread::sleep_for(30ms);  // let them block; the test passes either way
  EXPECT_EQ(shut_down.load(), 0);
  empty_q.shutdown(immediate);
  full_q.shutdown(immediate);
  if (!immediate) {  // graceful: join still waits for the two items
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(joined.load());
    EXPECT_EQ(full_q.get() + full_q.get(), 3);  // both items, in the kind's order
    full_q.task_done();
    full_q.task_done();
  }
  for (auto& t : threads) t->join();
  EXPECT_EQ(shut_down.load(), 2 * kEach);
  EXPECT_TRUE(joined.load());
}

TEST(QueueShutdown, WakesBlockedCallersGraceful) {
  check_shutdown_wakes_blocked<Queue<int>>(false);
  check_shutdown_wakes_blocked<LifoQueue<int>>(false);
}

TEST(QueueShutdown, WakesBlockedCallersImmediate) {
  check_shutdown_wakes_blocked<Queue<int>>(true);
  check_shutdown_wakes_blocked<PriorityQueue<int>>(true);
}

// ---- SimpleQueue ---------------------------------------------------------------------

TEST(SimpleQueueTest, PythonSurface) {
  SimpleQueue<int> q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 1000; ++i) q.put(i, true, 0.0);  // never blocks, whatever block says
  q.put_nowait(1000);
  EXPECT_EQ(q.qsize(), 1001u);
  for (int i = 0; i <= 1000; ++i) EXPECT_EQ(q.get(), i);
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(true, 10ms), Empty);
  EXPECT_EQ(q.try_get(), std::nullopt);
  auto later = spawn([&] { q.put(5); });
  EXPECT_EQ(q.get(), 5);
  later->join();
}

// ---- stress --------------------------------------------------------------------------

// Producers tag items with (producer, sequence). Checks: every item arrives exactly once,
// and, for FIFO queues, each consumer sees each producer's items in increasing order.
// Consumers call task_done and the main thread's join() must see all of them.
template <class Q>
void stress_exactly_once(Q& q, int producers, int consumers, int per_producer, bool fifo,
                         bool timed) {
  const int total = producers * per_producer;
  std::vector<std::atomic<std::uint8_t>> seen(static_cast<std::size_t>(total));
  std::atomic<int> received{0};
  std::atomic<int> task_dones{0};
  std::atomic<bool> order_ok{true};
  Threads threads;
  for (int c = 0; c < consumers; ++c) {
    threads.push_back(spawn([&] {
      std::vector<int> last(static_cast<std::size_t>(producers), -1);
      for (;;) {
        std::int64_t item;
        if (timed) {
          auto got = q.try_get(1ms);
          if (!got) continue;
          item = *got;
        } else {
          item = q.get();
        }
        if (item < 0) break;  // the stop sentinel
        const int producer = static_cast<int>(item / per_producer);
        const int sequence = static_cast<int>(item % per_producer);
        if (fifo && sequence <= last[static_cast<std::size_t>(producer)])
          order_ok.store(false);
        last[static_cast<std::size_t>(producer)] = sequence;
        seen[static_cast<std::size_t>(item)].fetch_add(1, std::memory_order_relaxed);
        received.fetch_add(1, std::memory_order_relaxed);
        task_dones.fetch_add(1, std::memory_order_relaxed);
        q.task_done();
      }
      q.task_done();  // for the sentinel
    }));
  }
  Threads putters;
  for (int p = 0; p < producers; ++p) {
    putters.push_back(spawn([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        const std::int64_t item = std::int64_t{p} * per_producer + i;
        if (timed) {
          while (!q.try_put(std::int64_t{item}, 1ms)) {
          }
        } else {
          q.put(item);
        }
      }
    }));
  }
  for (auto& t : putters) t->join();
  q.join();  // every real item has had its task_done
  EXPECT_EQ(task_dones.load(), total);
  EXPECT_EQ(received.load(), total);
  for (int c = 0; c < consumers; ++c) q.put(-1);
  for (auto& t : threads) t->join();
  q.join();
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_THROW(q.task_done(), ValueError);
  for (int i = 0; i < total; ++i) {
    ASSERT_EQ(seen[static_cast<std::size_t>(i)].load(), 1) << "item " << i;
  }
  EXPECT_TRUE(order_ok.load()) << "a producer's items came out of order";
}

constexpr int kPerProducer = 20000 * kStressScale;

TEST(QueueStress, RingManyProducersManyConsumers) {
  Queue<std::int64_t> small(4);  // tiny: lots of full/empty transitions and sleeping
  stress_exactly_once(small, 4, 4, kPerProducer, true, false);
  Queue<std::int64_t> odd(7);  // not a power of two
  stress_exactly_once(odd, 3, 2, kPerProducer, true, false);
  Queue<std::int64_t> big(1024);
  stress_exactly_once(big, 2, 3, kPerProducer, true, false);
}

TEST(QueueStress, RingWithTimeouts) {
  Queue<std::int64_t> q(8);
  stress_exactly_once(q, 3, 3, kPerProducer / 2, true, true);
}

TEST(QueueStress, UnboundedAndOtherKinds) {
  Queue<std::int64_t> unbounded;
  stress_exactly_once(unbounded, 3, 3, kPerProducer, true, false);
  Queue<std::int64_t> big_bounded(100000);  // bounded, on the deque store
  stress_exactly_once(big_bounded, 2, 2, kPerProducer, true, false);
  LifoQueue<std::int64_t> lifo(16);
  stress_exactly_once(lifo, 3, 3, kPerProducer / 2, false, false);
  PriorityQueue<std::int64_t, std::greater<std::int64_t>> prio(16);  // sentinels last
  stress_exactly_once(prio, 3, 3, kPerProducer / 2, false, true);
}

TEST(QueueStress, SimpleQueueExactlyOnce) {
  SimpleQueue<int> q;
  constexpr int kProducers = 3;
  const int per = kPerProducer;
  std::vector<std::atomic<std::uint8_t>> seen(static_cast<std::size_t>(kProducers * per));
  Threads threads;
  for (int c = 0; c < 2; ++c) {
    threads.push_back(spawn([&] {
      for (int item; (item = q.get()) >= 0;) seen[static_cast<std::size_t>(item)].fetch_add(1);
    }));
  }
  Threads putters;
  for (int p = 0; p < kProducers; ++p)
    putters.push_back(spawn([&, p] {
      for (int i = 0; i < per; ++i) q.put(p * per + i);
    }));
  for (auto& t : putters) t->join();
  q.put(-1);
  q.put(-1);
  for (auto& t : threads) t->join();
  for (auto& s : seen) ASSERT_EQ(s.load(), 1);
}

// Shutdown racing with busy producers and consumers: every put that returned normally
// is delivered exactly once (graceful), or delivered at most once (immediate), and
// nobody is left blocked.
void stress_shutdown_race(long maxsize, bool immediate) {
  Queue<int> q(maxsize);
  constexpr int kProducers = 3, kConsumers = 3;
  const int per = 32000 * kStressScale;  // more than get through before the shutdown
  std::vector<std::atomic<std::uint8_t>> put_ok(static_cast<std::size_t>(kProducers * per));
  std::vector<std::atomic<std::uint8_t>> got(static_cast<std::size_t>(kProducers * per));
  std::atomic<int> puts_done{0};
  std::atomic<int> gets{0};
  Threads threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.push_back(spawn([&, p] {
      try {
        for (int i = 0; i < per; ++i) {
          q.put(p * per + i);
          put_ok[static_cast<std::size_t>(p * per + i)].store(1);
          puts_done.fetch_add(1);
        }
      } catch (const ShutDown&) {
      }
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.push_back(spawn([&] {
      try {
        for (;;) {
          const int item = q.get();
          got[static_cast<std::size_t>(item)].fetch_add(1);
          gets.fetch_add(1);
          q.task_done();
        }
      } catch (const ShutDown&) {
      }
    }));
  }
  while (gets.load() < 1000) std::this_thread::yield();  // well under way
  q.shutdown(immediate);
  for (auto& t : threads) t->join();
  EXPECT_EQ(q.qsize(), 0u);
  q.join();
  int lost = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(got[i].load(), 1) << "item " << i << " delivered twice";
    if (got[i].load() == 1) {
      ASSERT_EQ(put_ok[i].load(), 1) << "item " << i << " delivered but its put failed";
    }
    if (put_ok[i].load() == 1 && got[i].load() == 0) ++lost;
  }
  if (!immediate) {
    EXPECT_EQ(lost, 0);
  }
}

TEST(QueueStress, ShutdownRacesWithTraffic) {
  for (bool immediate : {false, true}) {
    stress_shutdown_race(16, immediate);
    stress_shutdown_race(0, immediate);
  }
}

TEST(QueueTasks, JoinWithTimeoutReportsPendingTasks) {
  Queue<int> q;
  EXPECT_TRUE(q.join(gilfree::Timeout::zero()));  // nothing pending
  q.put(1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.join(gilfree::Timeout(20ms)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  q.get();
  q.task_done();
  EXPECT_TRUE(q.join(gilfree::Timeout(10s)));
}

TEST(QueueBasics, MaxsizeCanShrinkAndGrowBack) {
  Queue<int> q(3);  // on the ring
  q.put(1), q.put(2), q.put(3);
  q.set_maxsize(2);  // Python's test_shrinking_queue
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(4), Full);
  q.get(), q.get();
  q.put_nowait(4);
  EXPECT_THROW(q.put_nowait(5), Full);
  EXPECT_THROW(q.set_maxsize(4), gilfree::ValueError);  // a ring cannot grow
  EXPECT_THROW(q.set_maxsize(0), gilfree::ValueError);
  q.set_maxsize(3);  // back to its own size
  q.put_nowait(5);
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_THROW(q.put_nowait(6), Full);
}

TEST(QueueBasics, RaisingMaxsizeWakesABlockedPutter) {
  LifoQueue<int> q(1);  // behind a mutex: any bound
  q.put(1);
  gilfree::Thread t([&] { q.put(2, true, gilfree::Timeout(10s)); });
  t.start();
  std::this_thread::sleep_for(20ms);  // let it block (if it has not, the put still succeeds)
  q.set_maxsize(0);  // unbounded
  t.join(gilfree::Timeout(10s));
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(q.qsize(), 2u);
}

// A policy with state, passed as an instance: it counts what it saw.
struct Counting {
  int* puts;
  std::deque<int> items;
  void put(int&& v) {
    ++*puts;
    if (v < 0) throw std::invalid_argument("negative");  // a failing _put
    items.push_back(v);
  }
  int get() {
    int v = items.front();
    items.pop_front();
    return v;
  }
  std::size_t size() const noexcept { return items.size(); }
};

TEST(QueueOrder, PolicyInstanceAndAFailingPut) {
  int puts = 0;
  gilfree::BasicQueue<int, Counting> q(Counting{&puts, {}}, 2);
  q.put(1);
  EXPECT_THROW(q.put(-1), std::invalid_argument);
  EXPECT_EQ(q.qsize(), 1u);  // left as it was
  q.put(2);
  EXPECT_THROW(q.put_nowait(3), Full);
  EXPECT_EQ(puts, 3);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
  q.task_done(), q.task_done();
  EXPECT_TRUE(q.join(gilfree::Timeout::zero()));  // the failed put counted no task
}

TEST(QueueBasics, TryVisitSeesItemsBehindAMutexOnly) {
  LifoQueue<int> lifo;
  lifo.put(1), lifo.put(2);
  std::vector<int> seen;
  EXPECT_TRUE(lifo.try_visit([&](const int& v) { seen.push_back(v); }));
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  Queue<int> ring(4);  // the lock-free ring: no stable view
  ring.put(1);
  EXPECT_FALSE(ring.try_visit([&](const int&) { ADD_FAILURE(); }));
  gilfree::SimpleQueue<int> simple;
  simple.put(7);
  seen.clear();
  EXPECT_TRUE(simple.try_visit([&](const int& v) { seen.push_back(v); }));
  EXPECT_EQ(seen, (std::vector<int>{7}));
}

}  // namespace
