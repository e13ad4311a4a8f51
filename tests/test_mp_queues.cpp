// multiprocessing's Queue, JoinableQueue and SimpleQueue (trivially copyable items, shared
// ring): Python's semantics and errors, an exact multi-process stress, and the kill cases —
// a producer SIGKILLed inside put and a consumer inside get, 200 trials each: no
// duplicate, at most the killed process's own item lost, no hang.
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

TEST(MpQueue, BasicsAndErrors) {
  mp::Queue<int> q(2);
  EXPECT_TRUE(q.empty());
  q.put(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), gilfree::Full);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(q.put(3, true, 0.05), gilfree::Full);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_THROW(q.get_nowait(), gilfree::Empty);
  EXPECT_THROW(q.get(true, 0.02), gilfree::Empty);
  EXPECT_THROW(q.join_thread(), mp::AssertionError);
  q.close();
  EXPECT_THROW(q.put(1), gilfree::ValueError);
  q.join_thread();
  q.cancel_join_thread();
  mp::SimpleQueue<double> s;
  s.put(1.5);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.get(), 1.5);
}

TEST(MpQueue, ProducersAndConsumersAcrossProcessesExact) {
  constexpr int kProducers = 2, kConsumers = 2, kEach = 20000;
  mp::Queue<int> q(64);
  mp::RawArray<unsigned char> seen(kProducers * kEach);
  mp::RawArray<long> sums(kConsumers);
  std::vector<pid_t> kids;
  for (int p = 0; p < kProducers; ++p)
    kids.push_back(fork_child([&, p] {
      for (int i = 0; i < kEach; ++i) q.put(p * kEach + i, true, 20.0);
      return 0;
    }));
  for (int c = 0; c < kConsumers; ++c)
    kids.push_back(fork_child([&, c] {
      for (int i = 0; i < kProducers * kEach / kConsumers; ++i) {
        int v = q.get(true, 20.0);
        seen[v] += 1;
        sums[c] += v;
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 60s), 0);
  int dup = 0, missing = 0;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    dup += seen[i] > 1;
    missing += seen[i] == 0;
  }
  EXPECT_EQ(dup, 0);
  EXPECT_EQ(missing, 0);
  const long n = long{kProducers} * kEach;
  EXPECT_EQ(sums[0] + sums[1], n * (n - 1) / 2);
  EXPECT_TRUE(q.empty());
}

TEST(MpQueue, ProducerKilledInsidePut) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 200; ++trial) {
    mp::Queue<int> q(4);
    pid_t prod = fork_child([&] {
      for (int i = 0;; ++i) q.put(i, true, 30.0);
      return 0;
    });
    int next = 0;
    const int take = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < take; ++i) ASSERT_EQ(q.get(true, 10.0), next++) << "trial " << trial;
    ::kill(prod, SIGKILL);  // it is blocked in put or in the middle of one
    ASSERT_EQ(bounded_wait(prod), 128 + SIGKILL);
    for (;;) {  // what is left is the rest of the sequence: no duplicate, no gap
      int v;
      try {
        v = q.get(true, 0.0);
      } catch (const gilfree::Empty&) {
        break;
      }
      ASSERT_EQ(v, next++) << "trial " << trial;
    }
    q.put(-1, true, 5.0);  // the queue still works (the lock was taken over if need be)
    ASSERT_EQ(q.get(true, 5.0), -1);
  }
}

TEST(MpQueue, ConsumerKilledInsideGet) {
  std::mt19937 rng(54321);
  constexpr int kItems = 64;
  for (int trial = 0; trial < 200; ++trial) {
    mp::Queue<int> q(kItems);
    mp::RawArray<int> got(kItems + 1);  // got[0]: how many the consumer recorded
    mp::Event started;
    for (int i = 0; i < kItems; ++i) q.put(i);
    pid_t cons = fork_child([&] {
      started.set();
      for (;;) {
        int v = q.get(true, 30.0);
        got[1 + got[0]] = v;
        got[0] += 1;
      }
      return 0;
    });
    ASSERT_TRUE(started.wait(10.0));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));  // a random kill point
    ::kill(cons, SIGKILL);
    ASSERT_EQ(bounded_wait(cons), 128 + SIGKILL);
    std::vector<int> count(kItems, 0);
    for (int i = 0; i < got[0]; ++i) count[got[1 + i]] += 1;
    for (;;) {
      try {
        count[q.get(true, 0.0)] += 1;
      } catch (const gilfree::Empty&) {
        break;
      }
    }
    int missing = 0;
    for (int c : count) {
      ASSERT_LE(c, 1) << "duplicate in trial " << trial;
      missing += c == 0;
    }
    ASSERT_LE(missing, 1) << "trial " << trial;  // at most the one it had taken
  }
}

TEST(MpJoinableQueue, JoinWaitsForTaskDone) {
  mp::JoinableQueue<int> q;
  EXPECT_THROW(q.task_done(), gilfree::ValueError);
  for (int i = 0; i < 10; ++i) q.put(i);
  EXPECT_FALSE(q.join(0.01));
  pid_t c = fork_child([&] {
    for (int i = 0; i < 10; ++i) {
      q.get(true, 10.0);
      q.task_done();
    }
    return 0;
  });
  EXPECT_TRUE(q.join(20.0));
  EXPECT_EQ(bounded_wait(c), 0);
  EXPECT_THROW(q.task_done(), gilfree::ValueError);
}

}  // namespace
