// multiprocessing's Lock, RLock, Semaphore, BoundedSemaphore and Event across fork
// children: Python's semantics and errors, exact mutual exclusion under contention, and the
// kill cases (holder SIGKILLed mid-critical-section; a waiter SIGKILLed while it sleeps).
// Every child is bounded and reaped (mp_child.hpp).
#include <gilfree/multiprocessing/detail/shared_futex.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

struct Counter {
  long plain = 0;                 // guarded by the lock under test
  std::atomic<int> inside{0};     // how many are in the critical section now
  std::atomic<int> max_inside{0};
};

void enter(Counter& c) {
  int now = c.inside.fetch_add(1) + 1;
  int m = c.max_inside.load();
  while (now > m && !c.max_inside.compare_exchange_weak(m, now)) {
  }
}

TEST(MpLock, BasicsAndErrors) {
  mp::Lock l;
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire());
  EXPECT_TRUE(l.locked());
  EXPECT_FALSE(l.acquire(false));
  EXPECT_THROW(l.acquire(false, 1.0), gilfree::ValueError);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(l.acquire(true, 0.1));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  l.release();
  EXPECT_THROW(l.release(), gilfree::ValueError);
  { std::lock_guard<mp::Lock> g(l); EXPECT_TRUE(l.locked()); }
  EXPECT_FALSE(l.locked());
  std::unique_lock<mp::Lock> u(l, std::defer_lock);
  EXPECT_TRUE(u.try_lock_for(10ms));
  EXPECT_FALSE(l.owner_died());
}

TEST(MpLock, ReleasedByAnotherProcess) {
  mp::Lock l;
  l.acquire();
  pid_t c = fork_child([&] {
    l.release();
    return 0;
  });
  EXPECT_EQ(bounded_wait(c), 0);
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire(false));
  l.release();
}

TEST(MpLock, MutualExclusionAcrossFourProcesses) {
  mp::Lock l;
  auto c = gilfree::mp::detail::make_shared_block<Counter>();
  constexpr int kProcs = 4, kIters = 20000;
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i)
    kids.push_back(fork_child([&] {
      for (int k = 0; k < kIters; ++k) {
        std::lock_guard<mp::Lock> g(l);
        enter(*c);
        ++c->plain;
        c->inside.fetch_sub(1);
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 60s), 0);
  EXPECT_EQ(c->plain, long{kProcs} * kIters);
  EXPECT_EQ(c->max_inside.load(), 1);
}

TEST(MpLock, HolderKilledIsHandedToNextAcquirer) {
  for (bool reap_first : {true, false}) {  // a dead but unreaped (zombie) owner counts as dead
    mp::Lock l;
    mp::Event held;
    pid_t c = fork_child([&] {
      l.acquire();
      held.set();
      for (;;) ::pause();
      return 0;
    });
    ASSERT_TRUE(held.wait(10.0));
    ::kill(c, SIGKILL);
    int status = 0;
    if (reap_first) ::waitpid(c, &status, 0);
    EXPECT_TRUE(l.acquire(true, 10.0));
    EXPECT_TRUE(l.owner_died());
    l.release();
    EXPECT_TRUE(l.acquire(true, 1.0));
    EXPECT_FALSE(l.owner_died());
    l.release();
    if (!reap_first) ::waitpid(c, &status, 0);
  }
}

TEST(MpLock, SleepingWaiterTakesOverFromAKilledHolder) {
  mp::Lock l;
  mp::Event held;
  auto died = gilfree::mp::detail::make_shared_block<std::atomic<int>>(-1);
  pid_t holder = fork_child([&] {
    l.acquire();
    held.set();
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(held.wait(10.0));
  pid_t waiter = fork_child([&] {
    if (!l.acquire(true, 15.0)) return 1;
    died->store(l.owner_died());
    l.release();
    return 0;
  });
  EXPECT_TRUE(mp_test::wait_until_sleeping(waiter));
  ::kill(holder, SIGKILL);
  EXPECT_EQ(bounded_wait(holder), 128 + SIGKILL);
  EXPECT_EQ(bounded_wait(waiter), 0);
  EXPECT_EQ(died->load(), 1);
  EXPECT_FALSE(l.locked());
}

TEST(MpRLock, RecursionOwnershipAndErrors) {
  mp::RLock r;
  EXPECT_THROW(r.release(), mp::AssertionError);
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.is_owned());
  std::thread t([&] {
    EXPECT_FALSE(r.is_owned());
    EXPECT_FALSE(r.acquire(false));
    EXPECT_THROW(r.release(), mp::AssertionError);
  });
  t.join();
  pid_t c = fork_child([&] {
    if (r.acquire(false)) return 1;  // held by the parent's thread, which is alive
    try {
      r.release();
      return 2;
    } catch (const mp::AssertionError&) {
      return 0;
    }
  });
  EXPECT_EQ(bounded_wait(c), 0);
  r.release();
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_FALSE(r.is_owned());
  EXPECT_THROW(r.release(), mp::AssertionError);
}

TEST(MpRLock, OwnerKilledIsHandedOver) {
  mp::RLock r;
  mp::Event held;
  pid_t c = fork_child([&] {
    r.acquire();
    r.acquire();
    held.set();
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(held.wait(10.0));
  ::kill(c, SIGKILL);
  EXPECT_EQ(bounded_wait(c), 128 + SIGKILL);
  EXPECT_TRUE(r.acquire(true, 10.0));
  EXPECT_TRUE(r.owner_died());
  r.release();  // one level: the dead owner's depth is discarded
  EXPECT_FALSE(r.is_owned());
}

TEST(MpSemaphore, BasicsAndErrors) {
  EXPECT_THROW(mp::Semaphore(-1), gilfree::ValueError);
  mp::Semaphore s(2);
  EXPECT_EQ(s.get_value(), 2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(true, 0.05));
  EXPECT_THROW(s.acquire(false, 1.0), gilfree::ValueError);
  s.release();
  s.release();
  s.release();  // unbounded: may exceed the initial value
  EXPECT_EQ(s.get_value(), 3);
  mp::BoundedSemaphore b(1);
  b.acquire();
  b.release();
  EXPECT_THROW(b.release(), gilfree::ValueError);
  EXPECT_EQ(b.get_value(), 1);
}

TEST(MpSemaphore, BoundsConcurrencyAcrossProcesses) {
  mp::BoundedSemaphore s(2);
  auto c = gilfree::mp::detail::make_shared_block<Counter>();
  std::vector<pid_t> kids;
  for (int i = 0; i < 4; ++i)
    kids.push_back(fork_child([&] {
      for (int k = 0; k < 5000; ++k) {
        if (!s.acquire(true, 20.0)) return 1;
        enter(*c);
        c->inside.fetch_sub(1);
        s.release();
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 60s), 0);
  EXPECT_LE(c->max_inside.load(), 2);
  EXPECT_EQ(s.get_value(), 2);
}

TEST(MpSemaphore, KilledWaiterDoesNotStopReleaseWakingOthers) {
  mp::Semaphore s(0);
  pid_t victim = fork_child([&] { return s.acquire(true, 30.0) ? 0 : 1; });
  ASSERT_TRUE(mp_test::wait_until_sleeping(victim));
  pid_t other = fork_child([&] { return s.acquire(true, 15.0) ? 0 : 1; });
  ASSERT_TRUE(mp_test::wait_until_sleeping(other));
  ::kill(victim, SIGKILL);
  EXPECT_EQ(bounded_wait(victim), 128 + SIGKILL);
  s.release();
  EXPECT_EQ(bounded_wait(other), 0);
  EXPECT_EQ(s.get_value(), 0);
}

TEST(MpEvent, SetWakesWaitersInEveryProcess) {
  mp::Event e;
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(0.02));
  std::vector<pid_t> kids;
  for (int i = 0; i < 3; ++i) kids.push_back(fork_child([&] { return e.wait(15.0) ? 0 : 1; }));
  pid_t victim = fork_child([&] { return e.wait(30.0) ? 0 : 1; });
  ASSERT_TRUE(mp_test::wait_until_sleeping(victim));
  ::kill(victim, SIGKILL);  // a waiter killed in wait() must not stop set() waking the rest
  EXPECT_EQ(bounded_wait(victim), 128 + SIGKILL);
  e.set();
  EXPECT_TRUE(e.is_set());
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k), 0);
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_TRUE(e.wait(0.0) == false);
}

TEST(MpSync, CopiesShareTheObject) {
  mp::Lock a;
  mp::Lock b = a;
  a.acquire();
  EXPECT_TRUE(b.locked());
  b.release();
  EXPECT_FALSE(a.locked());
}

}  // namespace

namespace {

TEST(MpCondition, NotifyWaitAndErrors) {
  mp::Condition c;
  EXPECT_THROW(c.wait(0.01), gilfree::RuntimeError);
  EXPECT_THROW(c.notify(), gilfree::RuntimeError);
  std::lock_guard<mp::Condition> g(c);
  EXPECT_FALSE(c.wait(0.02));  // nobody notifies: a timeout, with the lock held again
  c.notify_all();              // nobody waits: nothing to do
  EXPECT_FALSE(c.wait(0.01));  // and no token was left behind
}

TEST(MpCondition, ProducerConsumerAcrossProcesses) {
  mp::Condition c;
  auto box = gilfree::mp::detail::make_shared_block<long>(0);  // guarded by c
  constexpr int kItems = 2000;
  pid_t consumer = fork_child([&] {
    long got = 0;
    for (int i = 0; i < kItems; ++i) {
      std::lock_guard<mp::Condition> g(c);
      if (!c.wait_for([&] { return *box > 0; }, 20.0)) return 1;
      got += *box;
      *box = 0;
      c.notify();
    }
    return got == long{kItems} * (kItems + 1) / 2 ? 0 : 2;
  });
  for (int i = 1; i <= kItems; ++i) {
    std::lock_guard<mp::Condition> g(c);
    ASSERT_TRUE(c.wait_for([&] { return *box == 0; }, 20.0));
    *box = i;
    c.notify();
  }
  EXPECT_EQ(bounded_wait(consumer, 60s), 0);
}

TEST(MpCondition, KilledWaiterDoesNotStopNotifyAll) {
  mp::Condition c;
  auto flag = gilfree::mp::detail::make_shared_block<int>(0);
  auto waiter = [&] {
    std::lock_guard<mp::Condition> g(c);
    return c.wait_for([&] { return *flag == 1; }, 15.0) ? 0 : 1;
  };
  pid_t victim = fork_child(waiter);
  ASSERT_TRUE(mp_test::wait_until_sleeping(victim));
  std::vector<pid_t> live;
  for (int i = 0; i < 3; ++i) {
    live.push_back(fork_child(waiter));
    ASSERT_TRUE(mp_test::wait_until_sleeping(live.back()));
  }
  ::kill(victim, SIGKILL);
  EXPECT_EQ(bounded_wait(victim), 128 + SIGKILL);
  {
    std::lock_guard<mp::Condition> g(c);
    *flag = 1;
    c.notify_all();
  }
  for (pid_t k : live) EXPECT_EQ(bounded_wait(k), 0);
}

// The standard library's TimedLockable contract: a past deadline or a negative duration
// tries once (Python's acquire would call a negative timeout a ValueError).
TEST(MpLockable, PastDeadlinesTryOnceOnEveryLockKind) {
  mp::Lock lock;
  ASSERT_TRUE(lock.try_lock_for(-1s));
  EXPECT_FALSE(lock.try_lock_for(-1s));
  EXPECT_FALSE(lock.try_lock_until(std::chrono::steady_clock::now() - 1s));
  lock.unlock();
  mp::RLock rlock;
  EXPECT_TRUE(rlock.try_lock_until(std::chrono::steady_clock::now() - 1s));  // re-entry
  rlock.unlock();
  mp::Semaphore sem(1);
  EXPECT_TRUE(sem.try_lock_for(-1s));
  EXPECT_FALSE(sem.try_lock_until(std::chrono::steady_clock::now() - 1s));
  sem.unlock();
}

}  // namespace
