// mp::Queue items beyond trivially copyable ones: std::string, std::vector, a struct with a
// cereal serialize(), a 64 MiB item; maxsize counting items of any size; unbounded queues
// (maxsize <= 0) that never make put() wait and give consumed memory back; a producer
// SIGKILLed while putting large serialised items leaves the queue consistent. Every child
// is bounded and reaped.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mp_child.hpp"
#include "stress_scale.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

// Sanitizer runtimes check every byte a large item's several copies touch (5-20x slower on
// the 2-core machine): there the large items are smaller and the kill trials fewer.
constexpr bool kSanitized = gilfree_test::kStressScale == 1;
constexpr std::size_t kBigBytes = kSanitized ? (8u << 20) : (64u << 20);

struct Point {
  std::string label;
  std::vector<double> xs;
  std::map<std::string, int> tags;
  template <class A>
  void serialize(A& ar) {
    ar(label, xs, tags);
  }
  bool operator==(const Point&) const = default;
};

TEST(MpQueueItems, StringsVectorsAndStructsKeepOrderAndContent) {
  mp::Queue<std::string> qs;
  qs.put("");
  qs.put("hello");
  qs.put(std::string(100000, 'x'));
  EXPECT_EQ(qs.qsize(), 3u);
  EXPECT_EQ(qs.get(), "");
  EXPECT_EQ(qs.get(), "hello");
  EXPECT_EQ(qs.get(), std::string(100000, 'x'));
  EXPECT_THROW(qs.get_nowait(), gilfree::Empty);
  EXPECT_THROW(qs.get(true, 0.05), gilfree::Empty);

  mp::Queue<Point> qp(3);  // maxsize counts items, whatever their size
  Point p{"a", {1.5, 2.5}, {{"k", 7}}};
  qp.put(p);
  qp.put(Point{"b", std::vector<double>(50000, 0.25), {}});
  qp.put(Point{});
  EXPECT_TRUE(qp.full());
  EXPECT_THROW(qp.put_nowait(p), gilfree::Full);
  EXPECT_THROW(qp.put(p, true, 0.05), gilfree::Full);
  EXPECT_EQ(qp.get(), p);
  EXPECT_EQ(qp.get().xs.size(), 50000u);
  EXPECT_EQ(qp.get(), Point{});
  EXPECT_TRUE(qp.empty());

  mp::JoinableQueue<std::vector<int>> jq;
  jq.put({1, 2, 3});
  EXPECT_FALSE(jq.join(0.01));
  EXPECT_EQ(jq.get(), (std::vector<int>{1, 2, 3}));
  jq.task_done();
  EXPECT_TRUE(jq.join(1.0));
  mp::SimpleQueue<std::string> sq;
  sq.put("simple");
  EXPECT_EQ(sq.get(), "simple");
}

TEST(MpQueueItems, ManyProducersOfStringsAcrossProcessesExact) {
  constexpr int kProducers = 3, kEach = 3000;
  mp::Queue<std::string> q(64);
  std::vector<pid_t> kids;
  for (int p = 0; p < kProducers; ++p)
    kids.push_back(fork_child([&, p] {
      for (int i = 0; i < kEach; ++i)
        q.put(std::to_string(p) + ":" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), '.'), true, 20.0);
      return 0;
    }));
  std::vector<int> next(kProducers, 0);
  for (int n = 0; n < kProducers * kEach; ++n) {
    const std::string s = q.get(true, 20.0);
    const auto colon = s.find(':');
    const int p = std::stoi(s.substr(0, colon));
    const int i = std::stoi(s.substr(colon + 1));
    ASSERT_EQ(i, next[p]++) << "each producer's items arrive in its order";
    ASSERT_EQ(s.size(), colon + 1 + std::to_string(i).size() + static_cast<std::size_t>(i % 97));
  }
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k), 0);
  EXPECT_TRUE(q.empty());
}

void put_big(mp::Queue<std::vector<std::uint32_t>> q, std::uint32_t seed) {
  std::vector<std::uint32_t> v(kBigBytes / sizeof(std::uint32_t));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = seed + static_cast<std::uint32_t>(i) * 2654435761u;
  q.put(v, true, 30.0);
  q.put(v, true, 30.0);  // two at once in the ring
}

class BigItem : public ::testing::TestWithParam<const char*> {};

// 64 MiB items (8 MiB under sanitizers), two in the ring at once.
TEST_P(BigItem, LargeItemsCrossIntact) {
  mp::Queue<std::vector<std::uint32_t>> q;
  auto p = mp::get_context(GetParam()).Process({}, put_big, q, 12345u);
  p.start();
  for (int k = 0; k < 2; ++k) {
    auto v = q.get(true, 60.0);
    ASSERT_EQ(v.size(), kBigBytes / sizeof(std::uint32_t));
    bool ok = true;
    for (std::size_t i = 0; i < v.size() && ok; ++i) ok = v[i] == 12345u + static_cast<std::uint32_t>(i) * 2654435761u;
    EXPECT_TRUE(ok);
  }
  p.join(30s);
  if (p.is_alive()) {
    p.kill();
    p.join();
    FAIL() << "producer did not end";
  }
  EXPECT_EQ(p.exitcode(), 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, BigItem, ::testing::Values("fork", "spawn"));

// The bytes that this process's gilfree memfds of more than 512 MiB hold in memory (the
// unbounded rings).
std::uint64_t ring_bytes_allocated() {
  std::uint64_t total = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[256] = {};
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    if (::readlink(path.c_str(), link, sizeof link - 1) <= 0) continue;
    if (std::strstr(link, "memfd:gilfree-shared") == nullptr) continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > (512 << 20))
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  ::closedir(d);
  return total;
}

TEST(MpQueueItems, UnboundedQueuesNeverWaitAndGiveConsumedMemoryBack) {
  const std::uint64_t before = ring_bytes_allocated();
  {
    mp::Queue<int> q;  // maxsize 0: unbounded
    EXPECT_EQ(q.maxsize(), 0);
    // 12 MiB of ints (6 MiB under sanitizers), far past the old 65536-slot ring.
    constexpr int kN = 1'500'000 * gilfree_test::kStressScale;
    for (int i = 0; i < kN; ++i) q.put_nowait(i);
    EXPECT_FALSE(q.full());
    EXPECT_EQ(q.qsize(), static_cast<std::size_t>(kN));
    EXPECT_GE(ring_bytes_allocated() - before, std::uint64_t{kN} * sizeof(int) - (1u << 20));
    for (int i = 0; i < kN; ++i) ASSERT_EQ(q.get_nowait(), i);
    EXPECT_TRUE(q.empty());
    // Whole consumed chunks went back to the kernel: at most the last partial chunk stays.
    EXPECT_LE(ring_bytes_allocated() - before, 4u << 20);

    mp::Queue<std::string> qs(-1);  // negative: unbounded too
    const std::string item(1000, 's');
    constexpr int kS = 10000 * gilfree_test::kStressScale;  // ~20 MiB queued (10 sanitized)
    for (int i = 0; i < kS; ++i) qs.put_nowait(item);
    EXPECT_EQ(qs.qsize(), static_cast<std::size_t>(kS));
    for (int i = 0; i < kS; ++i) ASSERT_EQ(qs.get_nowait().size(), 1000u);
    EXPECT_LE(ring_bytes_allocated() - before, 8u << 20);
  }
  EXPECT_EQ(ring_bytes_allocated(), before);
}

TEST(MpQueueItems, UnboundedQueueFromAChildThatExitsIsDrainedLater) {
  // CPython's trap: a child that put items without a consumer cannot be joined. Here the
  // items sit in the shared ring, the child exits at once, and the parent reads them after.
  mp::Queue<std::string> q;
  pid_t kid = fork_child([&] {
    for (int i = 0; i < 100000; ++i) q.put_nowait(std::to_string(i));
    return 0;
  });
  EXPECT_EQ(bounded_wait(kid), 0);
  EXPECT_EQ(q.qsize(), 100000u);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(q.get_nowait(), std::to_string(i));
}

TEST(MpQueueItems, ProducerKilledWhilePuttingLargeItems) {
  std::mt19937 rng(777);
  constexpr std::size_t kKillItem = kSanitized ? (256u << 10) : (1u << 20);
  for (int trial = 0; trial < (kSanitized ? 6 : 30); ++trial) {
    mp::Queue<std::string> q(3);
    pid_t prod = fork_child([&] {
      for (int i = 0;; ++i) q.put(std::string(kKillItem, static_cast<char>('a' + i % 26)), true, 30.0);
      return 0;
    });
    int next = 0;
    const int take = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < take; ++i) {
      const std::string s = q.get(true, 20.0);
      ASSERT_EQ(s, std::string(kKillItem, static_cast<char>('a' + next++ % 26)));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    ::kill(prod, SIGKILL);  // blocked in put, or in the middle of copying one in
    ASSERT_EQ(bounded_wait(prod), 128 + SIGKILL);
    std::size_t left = 0, got = 0;
    for (bool first = true;; first = false) {
      std::string s;
      try {
        s = q.get(true, 0.0);
      } catch (const gilfree::Empty&) {
        break;
      }
      // The first get took the lock over from the dead producer (and recounted): from
      // here on qsize() is exact.
      if (first) left = q.qsize();
      else ++got;
      ASSERT_EQ(s, std::string(kKillItem, static_cast<char>('a' + next++ % 26)))
          << "trial " << trial;
    }
    EXPECT_EQ(got, left) << "qsize() was exact after the take-over";
    q.put("after", true, 5.0);  // still works
    ASSERT_EQ(q.get(true, 5.0), "after");
  }
}

}  // namespace
