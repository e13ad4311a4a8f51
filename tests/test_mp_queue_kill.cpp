// mp::Queue's fixed-slot ring under a process SIGKILLed at each step of a put and a get,
// forced through the header's fault-injection point (GILFREE_MP_QUEUE_TEST_POINT, defined
// here only): a producer killed after copying its item but before publishing it, and after
// publishing it but before releasing the put lock; a consumer likewise; a consumer killed
// after giving back a chunk of an unbounded ring but before moving the head. Each case
// checks the exact contents left (no duplicate, nothing lost but the killed process's own
// item, a JoinableQueue's unfinished count repaired) and that the side's lock is taken
// over (no hang); a producer asleep on the put
// lock is woken by its release or takes it over from a killed holder. Also the sleeper protocol:
// a put wakes a sleeping getter (and a get a sleeping putter), and bumps no sequence word
// (so makes no FUTEX_WAKE) while nobody sleeps.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include <gilfree/multiprocessing/synchronize.hpp>

namespace qtest {
// Set in a fork child: at `stop_at` for position `stop_pos` it sets `reached` and waits
// to be killed (it never returns, so the step after the point never runs) — or, with `go`
// set, until `go` is set, and then carries on.
inline const char* stop_at = nullptr;
inline std::uint64_t stop_pos = 0;
inline gilfree::mp::Event* reached = nullptr;
inline gilfree::mp::Event* go = nullptr;
inline void point(const char* where, std::uint64_t pos) {
  if (stop_at && pos == stop_pos && std::strcmp(where, stop_at) == 0) {
    reached->set();
    if (go) {
      if (!go->wait(20.0)) ::_exit(8);
      return;
    }
    for (;;) ::pause();
  }
}
}  // namespace qtest
#define GILFREE_MP_QUEUE_TEST_POINT(where, pos) ::qtest::point(where, pos)

#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

// Exposes the shared header (protected in Queue) to check the sleeper protocol.
template <class T>
struct Peek : mp::Queue<T> {
  using mp::Queue<T>::Queue;
  mp::detail::QueueHeader& header() { return *this->h_; }
};

// Forks a child that arms the point (`where`, `pos`) and runs body(); returns once the
// child is stopped at the point, then SIGKILLs and reaps it.
template <class F>
void kill_at(const char* where, std::uint64_t pos, F body) {
  mp::Event reached;
  pid_t child = fork_child([&] {
    qtest::stop_at = where;
    qtest::stop_pos = pos;
    qtest::reached = &reached;
    body();
    return 9;  // the point was never reached
  });
  const bool at_point = reached.wait(20.0);
  ::kill(child, SIGKILL);
  const int rc = bounded_wait(child);
  ASSERT_TRUE(at_point) << where;
  ASSERT_EQ(rc, 128 + SIGKILL) << where;
}

// Gets everything left without waiting.
template <class Q>
std::vector<int> drain(Q& q) {
  std::vector<int> out;
  for (;;) {
    try {
      out.push_back(q.get(true, 0.0));
    } catch (const gilfree::Empty&) {
      return out;
    }
  }
}

TEST(MpQueueKill, ProducerKilledBeforePublishing) {
  mp::Queue<int> q(8);
  kill_at("put:copied", 3, [&] {
    for (int i = 0; i < 8; ++i) q.put(i, true, 10.0);
  });
  EXPECT_EQ(q.qsize(), 3u);  // item 3 was copied, never published
  EXPECT_EQ(drain(q), (std::vector<int>{0, 1, 2}));
  q.put(100, true, 10.0);  // takes the put lock over from the dead producer
  q.put(101, true, 10.0);
  EXPECT_EQ(drain(q), (std::vector<int>{100, 101}));
  EXPECT_TRUE(q.empty());
}

TEST(MpQueueKill, ProducerKilledAfterPublishing) {
  mp::Queue<int> q(8);
  kill_at("put:published", 3, [&] {
    for (int i = 0; i < 8; ++i) q.put(i, true, 10.0);
  });
  EXPECT_EQ(q.qsize(), 4u);  // item 3 is in: the producer died still holding the lock
  q.put(100, true, 10.0);
  EXPECT_EQ(drain(q), (std::vector<int>{0, 1, 2, 3, 100}));
}

TEST(MpQueueKill, ConsumerKilledBeforePublishing) {
  mp::Queue<int> q(16);
  for (int i = 0; i < 10; ++i) q.put(i);
  kill_at("get:copied", 4, [&] {
    for (;;) q.get(true, 10.0);
  });
  EXPECT_EQ(q.qsize(), 6u);  // the consumer copied item 4 out but never returned it
  EXPECT_EQ(drain(q), (std::vector<int>{4, 5, 6, 7, 8, 9}));  // took the get lock over
  q.put(100);
  EXPECT_EQ(q.get(true, 10.0), 100);
}

TEST(MpQueueKill, ConsumerKilledAfterPublishing) {
  mp::Queue<int> q(16);
  for (int i = 0; i < 10; ++i) q.put(i);
  kill_at("get:published", 4, [&] {
    for (;;) q.get(true, 10.0);
  });
  EXPECT_EQ(q.qsize(), 5u);  // item 4 is the killed consumer's own: lost with it
  EXPECT_EQ(drain(q), (std::vector<int>{5, 6, 7, 8, 9}));
  q.put(100);
  EXPECT_EQ(q.get(true, 10.0), 100);
}

// 256 KiB items: an unbounded ring gives back 2 MiB chunks of 8 slots.
using Big = std::array<unsigned char, 256 << 10>;
Big big(int id) {
  Big b;
  b.fill(static_cast<unsigned char>(id * 7 + 1));
  std::memcpy(b.data(), &id, sizeof id);
  return b;
}
int id_of(const Big& b) {
  int id;
  std::memcpy(&id, b.data(), sizeof id);
  for (std::size_t i = sizeof id; i < b.size(); i += 4099)
    if (b[i] != static_cast<unsigned char>(id * 7 + 1)) return -1;  // torn or discarded
  return id;
}

TEST(MpQueueKill, ConsumerKilledAfterGivingBackAChunk) {
  auto q = std::make_unique<mp::Queue<Big>>();
  for (int i = 0; i < 12; ++i) q->put(big(i));
  // Position 8 is the first of the second chunk: its get gives back the first chunk,
  // then dies before moving the head.
  kill_at("get:copied", 8, [&] {
    for (;;) q->get(true, 10.0);
  });
  ASSERT_EQ(q->qsize(), 4u);
  for (int i = 8; i < 12; ++i) EXPECT_EQ(id_of(q->get(true, 10.0)), i);
  // Through the next chunk boundary and on: items still intact.
  for (int i = 12; i < 30; ++i) q->put(big(i));
  for (int i = 12; i < 30; ++i) EXPECT_EQ(id_of(q->get(true, 10.0)), i);
  EXPECT_TRUE(q->empty());
}

// A JoinableQueue producer killed after counting its item but before publishing it: the
// next put undoes the count, so join() returns once the published items are done.
TEST(MpQueueKill, JoinableCountUndoneForAnUnpublishedItem) {
  mp::JoinableQueue<int> q(8);
  kill_at("put:copied", 2, [&] {
    for (int i = 0; i < 8; ++i) q.put(i, true, 10.0);
  });
  EXPECT_FALSE(q.join(0.01));  // 0, 1 (and the dead producer's count for 2) unfinished
  q.put(100, true, 10.0);      // takes the put lock over and undoes that count
  EXPECT_EQ(drain(q), (std::vector<int>{0, 1, 100}));
  for (int i = 0; i < 3; ++i) q.task_done();
  EXPECT_TRUE(q.join(5.0));
  EXPECT_THROW(q.task_done(), gilfree::ValueError);
}

// The same for serialised items (the byte ring, through its runtime hook): the producer
// dies after counting its third item; the next put takes the lock over and undoes it.
TEST(MpQueueKill, JoinableCountUndoneInTheByteRing) {
  mp::JoinableQueue<std::string> q;
  static mp::Event* reached_at = nullptr;
  static int calls = 0;
  mp::Event reached;
  pid_t child = fork_child([&] {
    reached_at = &reached;
    mp::detail::byte_ring_test_hook = [](const char*) {
      if (++calls == 3) {
        reached_at->set();
        for (;;) ::pause();
      }
    };
    for (int i = 0; i < 8; ++i) q.put(std::to_string(i), true, 10.0);
    return 9;
  });
  const bool at_point = reached.wait(20.0);
  ::kill(child, SIGKILL);
  ASSERT_EQ(bounded_wait(child), 128 + SIGKILL);
  ASSERT_TRUE(at_point);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_FALSE(q.join(0.01));
  q.put("x", true, 10.0);  // takes the lock over: repair() undoes the dead put's count
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(q.get(true, 10.0));
  EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "x"}));
  for (int i = 0; i < 3; ++i) q.task_done();
  EXPECT_TRUE(q.join(5.0));
  EXPECT_THROW(q.task_done(), gilfree::ValueError);
}

// A producer holding the put lock (stopped at "put:copied" with item 1 until `go`) and a
// second producer, putting 2, asleep on that lock with its flag raised. If either step
// does not happen within its bound, both children are killed and reaped and ready() is
// false.
struct PutLockContest {
  mp::Event reached, go;
  pid_t holder = -1, waiter = -1;

  explicit PutLockContest(Peek<int>& q) {
    holder = fork_child([&] {
      qtest::stop_at = "put:copied";
      qtest::stop_pos = 0;
      qtest::reached = &reached;
      qtest::go = &go;
      q.put(1, true, 10.0);
      return 0;
    });
    if (!reached.wait(20.0)) {
      abandon();
      return;
    }
    waiter = fork_child([&] {
      q.put(2, true, 20.0);
      return 0;
    });
    auto& h = q.header();
    mp_test::eventually([&] { return h.put_lock_sleepers.load() != 0; });
    if (h.put_lock_sleepers.load() != 1 || !mp_test::wait_until_sleeping(waiter)) abandon();
  }
  bool ready() const { return holder > 0 && waiter > 0; }

 private:
  void abandon() {
    for (pid_t* p : {&holder, &waiter}) {
      if (*p <= 0) continue;
      ::kill(*p, SIGKILL);
      bounded_wait(*p);
      *p = -1;
    }
  }
};

// A second producer asleep on the put lock: woken when the holder releases it, and taking
// it over when the holder is killed instead.
TEST(MpQueueKill, PutLockWaiterWokenOrTakesOver) {
  for (const bool kill_holder : {false, true}) {
    Peek<int> q(8);
    auto& h = q.header();
    PutLockContest c(q);
    ASSERT_TRUE(c.ready());
    if (kill_holder) {
      ::kill(c.holder, SIGKILL);
      EXPECT_EQ(bounded_wait(c.holder), 128 + SIGKILL);
    } else {
      c.go.set();
      EXPECT_EQ(bounded_wait(c.holder), 0);
    }
    EXPECT_EQ(bounded_wait(c.waiter), 0);
    EXPECT_EQ(h.put_lock_sleepers.load(), 0u);
    EXPECT_EQ(h.put_lock.load(), 0u);
    EXPECT_EQ(drain(q), (kill_holder ? std::vector<int>{2} : std::vector<int>{1, 2}));
  }
}

// A producer killed while asleep on the put lock leaves its flag up: the next release
// lowers it (one spare wake), and no later release wakes anybody.
TEST(MpQueueKill, KilledLockSleeperCostsOneWake) {
  Peek<int> q(8);
  auto& h = q.header();
  PutLockContest c(q);
  ASSERT_TRUE(c.ready());
  ::kill(c.waiter, SIGKILL);
  EXPECT_EQ(bounded_wait(c.waiter), 128 + SIGKILL);
  c.go.set();
  EXPECT_EQ(bounded_wait(c.holder), 0);
  EXPECT_EQ(h.put_lock_sleepers.load(), 0u);
  q.put(3);
  EXPECT_EQ(drain(q), (std::vector<int>{1, 3}));
}

TEST(MpQueueKill, NoWakeWhileNobodySleeps) {
  Peek<int> q(4);
  auto& h = q.header();
  const std::uint32_t put_seq = h.put_seq.load(), get_seq = h.get_seq.load();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) q.put(i);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(q.get(), i);
  }
  EXPECT_EQ(h.put_seq.load(), put_seq);  // no sleeper: no bump, no FUTEX_WAKE
  EXPECT_EQ(h.get_seq.load(), get_seq);
}

TEST(MpQueueKill, PutWakesASleepingGetter) {
  Peek<int> q(4);
  auto& h = q.header();
  pid_t c = fork_child([&] { return q.get(true, 20.0) == 42 ? 0 : 1; });
  ASSERT_TRUE(mp_test::wait_until_sleeping(c));
  // Counted as a sleeper before it slept (bounded poll: it counts itself, then sleeps).
  mp_test::eventually([&] { return h.getters.load() != 0; });
  ASSERT_EQ(h.getters.load(), 1u);
  const std::uint32_t before = h.put_seq.load();
  q.put(42);
  EXPECT_NE(h.put_seq.load(), before);  // bumped for the sleeper, and woken
  EXPECT_EQ(bounded_wait(c), 0);
  EXPECT_EQ(h.getters.load(), 0u);
}

TEST(MpQueueKill, GetWakesASleepingPutter) {
  Peek<int> q(2);
  auto& h = q.header();
  q.put(1);
  q.put(2);
  pid_t c = fork_child([&] {
    q.put(3, true, 20.0);
    return 0;
  });
  ASSERT_TRUE(mp_test::wait_until_sleeping(c));
  mp_test::eventually([&] { return h.putters.load() != 0; });
  ASSERT_EQ(h.putters.load(), 1u);
  const std::uint32_t before = h.get_seq.load();
  EXPECT_EQ(q.get(), 1);
  EXPECT_NE(h.get_seq.load(), before);
  EXPECT_EQ(bounded_wait(c), 0);
  EXPECT_EQ(drain(q), (std::vector<int>{2, 3}));
}

}  // namespace
