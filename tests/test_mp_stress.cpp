// Stress with exact invariants, 4 processes: a Queue with 2 producers and 2 consumers
// (every item received exactly once, each producer's items in order per consumer), and a
// Lock + Value counter (the exact total, and a two-field invariant never seen broken).
// 50k operations per process times the stress scale (tests/stress_scale.hpp: 100k in a
// plain build). Every child is bounded and reaped.
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "mp_child.hpp"
#include "stress_scale.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using gilfree_test::kStressScale;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

constexpr int kOps = 50'000 * kStressScale;

TEST(MpStress, QueueTwoProducersTwoConsumersExactlyOnceInOrder) {
  mp::Queue<std::int64_t> q(256);  // bounded: producers and consumers both wait at times
  mp::RawArray<std::uint8_t> seen(2 * static_cast<std::size_t>(kOps));
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p)
    kids.push_back(fork_child([&, p] {
      for (int i = 0; i < kOps; ++i) q.put(std::int64_t{p} * kOps + i, true, 30.0);
      return 0;
    }));
  for (int c = 0; c < 2; ++c)
    kids.push_back(fork_child([&] {
      std::int64_t last[2] = {-1, -1};
      for (int i = 0; i < kOps; ++i) {
        const std::int64_t v = q.get(true, 30.0);
        if (v < 0 || v >= 2 * std::int64_t{kOps}) return 1;
        const int p = static_cast<int>(v / kOps);
        if (v <= last[p]) return 2;  // a producer's items reach one consumer in order
        last[p] = v;
        if (seen[static_cast<std::size_t>(v)]++ != 0) return 3;  // never twice
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 120s), 0);
  EXPECT_TRUE(q.empty());
  std::size_t missing = 0;
  for (std::uint8_t s : seen) missing += s != 1;
  EXPECT_EQ(missing, 0u);
}

TEST(MpStress, SerialisedQueueItemsExactlyOnce) {
  const int ops = kOps / 10;  // strings cost a cereal frame each
  mp::Queue<std::string> q(64);
  mp::RawArray<std::uint8_t> seen(2 * static_cast<std::size_t>(ops));
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p)
    kids.push_back(fork_child([&, p] {
      for (int i = 0; i < ops; ++i) q.put(std::to_string(p * ops + i), true, 30.0);
      return 0;
    }));
  for (int c = 0; c < 2; ++c)
    kids.push_back(fork_child([&] {
      for (int i = 0; i < ops; ++i) {
        const long v = std::stol(q.get(true, 30.0));
        if (v < 0 || v >= 2L * ops) return 1;
        if (seen[static_cast<std::size_t>(v)]++ != 0) return 3;
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 120s), 0);
  EXPECT_EQ(q.qsize(), 0u);
  std::size_t missing = 0;
  for (std::uint8_t s : seen) missing += s != 1;
  EXPECT_EQ(missing, 0u);
}

struct Pair {
  long a = 0;
  long b = 0;
};

TEST(MpStress, LockAndValueFourProcessesExactTotal) {
  mp::Value<long> counter(0);
  mp::Lock lock;
  mp::RawValue<Pair> pair;
  mp::RawValue<long> broken(0);
  std::vector<pid_t> kids;
  for (int p = 0; p < 4; ++p)
    kids.push_back(fork_child([&] {
      for (int i = 0; i < kOps; ++i) {
        {
          std::lock_guard<mp::RLock> g(counter.get_lock());
          counter.get_obj() += 1;
        }
        std::lock_guard<mp::Lock> g(lock);
        Pair& x = pair.get_obj();
        if (x.a != x.b) broken.get_obj() += 1;
        x.a += 1;
        x.b += 1;
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 120s), 0);
  EXPECT_EQ(counter.value(), 4L * kOps);
  EXPECT_EQ(pair.value().a, 4L * kOps);
  EXPECT_EQ(pair.value().b, 4L * kOps);
  EXPECT_EQ(broken.value(), 0);
  EXPECT_FALSE(lock.locked());
}

}  // namespace
