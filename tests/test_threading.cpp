// Tests for gilfree/threading.hpp: Python's threading semantics, edge cases and stress.
#include "gilfree/threading.hpp"
#include "stress_scale.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using gilfree::Timeout;

namespace {

// Stress sizes: base amounts are sized for TSan on 2 cores (tests/stress_scale.hpp).
using gilfree_test::kStressScale;

template <class F>
double seconds_of(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- Timeout --------------------------------------------------------------------------

TEST(Timeout, ConvertsFromDurationsAndSeconds) {
  Timeout forever;
  EXPECT_TRUE(forever.is_forever());
  Timeout ms = 250ms;
  EXPECT_FALSE(ms.is_forever());
  EXPECT_EQ(ms.duration(), 250ms);
  Timeout s = 0.5;
  EXPECT_EQ(s.duration(), 500ms);
  EXPECT_TRUE(Timeout(1e300).is_forever());
  EXPECT_EQ(Timeout::zero().duration().count(), 0);
}

TEST(Timeout, NegativeIsValueError) {
  EXPECT_THROW(Timeout(-1.0), gilfree::ValueError);
  EXPECT_THROW(Timeout(-1ms), gilfree::ValueError);
  EXPECT_THROW(Timeout(std::nan("")), gilfree::ValueError);
  gilfree::Lock lock;
  EXPECT_THROW((void)lock.acquire(true, -0.5), gilfree::ValueError);
  gilfree::Event ev;
  EXPECT_THROW((void)ev.wait(-1s), gilfree::ValueError);
}

// ---- Lock -----------------------------------------------------------------------------

TEST(Lock, AcquireRelease) {
  gilfree::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(true, 0));
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ReleaseUnlockedIsRuntimeError) {
  gilfree::Lock lock;
  try {
    lock.release();
    FAIL() << "no exception";
  } catch (const gilfree::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "release unlocked lock");
  }
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, NonBlockingWithTimeoutIsValueError) {
  gilfree::Lock lock;
  EXPECT_THROW((void)lock.acquire(false, 1.0), gilfree::ValueError);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TimedAcquireTimesOut) {
  gilfree::Lock lock;
  lock.acquire();
  double took = seconds_of([&] { EXPECT_FALSE(lock.acquire(true, 50ms)); });
  EXPECT_GE(took, 0.045);
  EXPECT_LT(took, 5.0);
  lock.release();
}

TEST(Lock, ReleasedByAnotherThread) {
  gilfree::Lock lock;
  lock.acquire();
  std::thread other([&] { lock.release(); });
  other.join();
  EXPECT_FALSE(lock.locked());
  // The classic use: a lock as a binary signal between threads.
  lock.acquire();
  std::thread signaller([&] { lock.release(); });
  EXPECT_TRUE(lock.acquire(true, 10s));
  signaller.join();
  lock.release();
}

TEST(Lock, WorksWithStandardLockingTools) {
  gilfree::Lock a, b;
  {
    std::scoped_lock both(a, b);
    EXPECT_TRUE(a.locked() && b.locked());
  }
  EXPECT_FALSE(a.locked() || b.locked());
  std::unique_lock ul(a, std::defer_lock);
  EXPECT_TRUE(ul.try_lock_for(10ms));
  // A deadline in the past still tries once, as with std::timed_mutex.
  EXPECT_TRUE(b.try_lock_until(std::chrono::steady_clock::now() - 1s));
  EXPECT_FALSE(b.try_lock_for(-1s));  // held now: the one try fails
  b.unlock();
  ul.unlock();
  std::condition_variable_any cv;
  bool ready = false;
  std::thread t([&] {
    std::scoped_lock g(a);
    ready = true;
    cv.notify_one();
  });
  {
    std::unique_lock g(a);
    cv.wait(g, [&] { return ready; });
  }
  t.join();
}

TEST(Lock, StressMutualExclusion) {
  gilfree::Lock lock;
  long counter = 0;
  const int per_thread = 20000 * kStressScale;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < per_thread; ++j) {
        std::scoped_lock g(lock);
        ++counter;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 4L * per_thread);
}

TEST(Lock, StressTimedAcquire) {
  gilfree::Lock lock;
  std::atomic<int> inside{0};
  std::atomic<long> got{0}, missed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 2000 * kStressScale; ++j) {
        if (lock.acquire(true, 20us)) {
          EXPECT_EQ(inside.fetch_add(1), 0);
          inside.fetch_sub(1);
          ++got;
          lock.release();
        } else {
          ++missed;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(got + missed, 4L * 2000 * kStressScale);
  EXPECT_GT(got.load(), 0);
  EXPECT_FALSE(lock.locked());
}

// ---- RLock ----------------------------------------------------------------------------

TEST(RLock, Reentrant) {
  gilfree::RLock r;
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  EXPECT_EQ(r.count(), 2u);
  EXPECT_TRUE(r.is_owned());
  r.release();
  EXPECT_TRUE(r.locked());
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_FALSE(r.is_owned());
}

TEST(RLock, ReleaseByNonOwnerIsRuntimeError) {
  gilfree::RLock r;
  EXPECT_THROW(r.release(), gilfree::RuntimeError);
  r.acquire();
  std::thread other([&] {
    try {
      r.release();
      ADD_FAILURE() << "no exception";
    } catch (const gilfree::RuntimeError& e) {
      EXPECT_STREQ(e.what(), "cannot release un-acquired lock");
    }
    EXPECT_FALSE(r.acquire(false));
  });
  other.join();
  r.release();
}

TEST(RLock, BlocksOtherThreadsUntilFullyReleased) {
  gilfree::RLock r;
  r.acquire();
  r.acquire();
  gilfree::Event tried, acquired;
  std::thread other([&] {
    EXPECT_FALSE(r.acquire(true, 10ms));
    tried.set();
    r.acquire();
    acquired.set();
    r.release();
  });
  ASSERT_TRUE(tried.wait(10s));
  r.release();
  EXPECT_FALSE(acquired.wait(20ms));  // still held once
  r.release();
  EXPECT_TRUE(acquired.wait(10s));
  other.join();
}

TEST(RLock, StressNestedCounters) {
  gilfree::RLock r;
  long red = 0, blue = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 5000 * kStressScale; ++j) {
        std::scoped_lock outer(r);
        ++red;
        std::scoped_lock inner(r);
        ++blue;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(red, 4L * 5000 * kStressScale);
  EXPECT_EQ(blue, red);
}

// ---- Condition ------------------------------------------------------------------------

TEST(Condition, WaitWithoutLockIsRuntimeError) {
  gilfree::Condition c;
  EXPECT_THROW((void)c.wait(0.01), gilfree::RuntimeError);
  EXPECT_THROW(c.notify(), gilfree::RuntimeError);
  EXPECT_THROW(c.notify_all(), gilfree::RuntimeError);
  gilfree::Lock l;
  gilfree::Condition over_lock(l);
  EXPECT_THROW(over_lock.notify(), gilfree::RuntimeError);
}

TEST(Condition, WaitTimesOutAndReacquires) {
  for (auto* make : {+[]() { return 0; }, +[]() { return 1; }}) {
    gilfree::Lock l;
    gilfree::Condition cl(l);
    gilfree::Condition cr;  // RLock, reentered twice
    gilfree::Condition& c = make() ? cl : cr;
    std::scoped_lock g(c);
    if (&c == &cr) cr.acquire();
    double took = seconds_of([&] { EXPECT_FALSE(c.wait(30ms)); });
    EXPECT_GE(took, 0.025);
    if (&c == &cr) cr.release();
  }
}

TEST(Condition, NotifyWakesInFifoOrderWithoutSpuriousWakeups) {
  gilfree::Condition c;
  std::vector<int> order;
  std::atomic<int> waiting{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      std::scoped_lock g(c);
      ++waiting;
      EXPECT_TRUE(c.wait());
      order.push_back(i);
    });
    // Let thread i enqueue before starting i+1, so the FIFO order is known.
    while (waiting.load() != i + 1) std::this_thread::yield();
    std::scoped_lock g(c);  // i is now inside wait(), which released the lock
  }
  for (std::size_t i = 0; i < 3; ++i) {
    {
      std::scoped_lock g(c);
      c.notify(1);
    }
    for (;;) {  // the woken thread records itself before the next notify
      std::scoped_lock g(c);
      if (order.size() == i + 1) break;
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(Condition, NotifyNAndNotifyAll) {
  gilfree::Lock l;
  gilfree::Condition c(l);
  int woken = 0, waiting = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i)
    threads.emplace_back([&] {
      std::scoped_lock g(c);
      ++waiting;
      if (c.wait(10s)) ++woken;
    });
  auto wait_for_waiters = [&](int n) {
    for (;;) {
      std::scoped_lock g(c);
      if (waiting == n) return;
    }
  };
  wait_for_waiters(5);
  {
    std::scoped_lock g(c);
    c.notify(2);
  }
  for (;;) {
    std::scoped_lock g(c);
    if (woken == 2) break;
  }
  {
    std::scoped_lock g(c);
    c.notify_all();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken, 5);
}

TEST(Condition, WaitForPredicate) {
  gilfree::Condition c;
  int value = 0;
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) {
      std::scoped_lock g(c);
      ++value;
      c.notify_all();
    }
  });
  {
    std::scoped_lock g(c);
    EXPECT_TRUE(c.wait_for([&] { return value == 5; }, 10s));
  }
  producer.join();
  std::scoped_lock g(c);
  EXPECT_FALSE(c.wait_for([] { return false; }, 20ms));
}

TEST(Condition, OverStdMutex) {
  std::mutex m;
  gilfree::Condition c(m);
  bool ready = false;
  std::thread t([&] {
    std::scoped_lock g(c);
    ready = true;
    c.notify();
  });
  {
    std::scoped_lock g(c);
    EXPECT_TRUE(c.wait_for([&] { return ready; }, 10s));
  }
  t.join();
}

TEST(Condition, StressBoundedBufferWithTwoConditions) {
  // The seeds' bounded buffer: one RLock, "not full" and "not empty" conditions.
  gilfree::RLock lock;
  gilfree::Condition not_full(lock), not_empty(lock);
  std::vector<int> buffer;
  const std::size_t capacity = 4;
  const int items = 5000 * kStressScale;
  long sum = 0;
  auto producer = [&](int base) {
    for (int i = 0; i < items; ++i) {
      std::scoped_lock g(lock);
      not_full.wait_for([&] { return buffer.size() < capacity; });
      buffer.push_back(base + i);
      not_empty.notify();
    }
  };
  auto consumer = [&] {
    for (int i = 0; i < items; ++i) {
      std::scoped_lock g(lock);
      not_empty.wait_for([&] { return !buffer.empty(); });
      sum += buffer.back();
      buffer.pop_back();
      not_full.notify();
    }
  };
  std::thread p1(producer, 0), p2(producer, items), c1(consumer), c2(consumer);
  p1.join(), p2.join(), c1.join(), c2.join();
  long n = 2L * items;
  EXPECT_EQ(sum, n * (n - 1) / 2);
  EXPECT_TRUE(buffer.empty());
}

TEST(Condition, StressTimedWaitsRacingNotifies) {
  // Timeouts racing notifications must neither lose the lock nor corrupt the waiter list.
  gilfree::Condition c;
  std::atomic<bool> stop{false};
  std::atomic<long> waits{0}, notified{0};
  int holders = 0;  // checked under the lock: exactly one holder at a time
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i)
    waiters.emplace_back([&] {
      while (!stop) {
        std::scoped_lock g(c);
        EXPECT_EQ(++holders, 1);
        --holders;
        if (c.wait(Timeout(std::chrono::microseconds(50)))) ++notified;
        EXPECT_EQ(++holders, 1);
        --holders;
        ++waits;
      }
    });
  const long target = 1000L * kStressScale;
  for (std::size_t i = 0; waits.load() < target; ++i) {
    std::scoped_lock g(c);
    c.notify(i % 3);
  }
  stop = true;
  for (auto& t : waiters) t.join();
  EXPECT_GE(waits.load(), target);
  EXPECT_GT(notified.load(), 0);
}

// ---- Semaphore ------------------------------------------------------------------------

TEST(Semaphore, CountsAndValidates) {
  EXPECT_THROW(gilfree::Semaphore(-1), gilfree::ValueError);
  gilfree::Semaphore s(2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(true, 10ms));
  EXPECT_THROW((void)s.acquire(false, 1.0), gilfree::ValueError);
  EXPECT_THROW(s.release(0), gilfree::ValueError);
  s.release(2);
  EXPECT_EQ(s.value(), 2);
  s.release(5);  // a plain Semaphore may grow
  EXPECT_EQ(s.value(), 7);
}

TEST(Semaphore, ReleaseNWakesN) {
  gilfree::Semaphore s(0);
  std::atomic<int> through{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (s.acquire(true, 10s)) ++through;
    });
  s.release(3);
  while (through.load() < 3) std::this_thread::yield();
  EXPECT_EQ(s.value(), 0);
  s.release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(through.load(), 4);
}

TEST(BoundedSemaphore, ReleasingTooManyIsValueError) {
  gilfree::BoundedSemaphore s(2);
  try {
    s.release();
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "Semaphore released too many times");
  }
  s.acquire();
  s.acquire();
  EXPECT_THROW(s.release(3), gilfree::ValueError);
  s.release(2);
  EXPECT_EQ(s.value(), 2);
}

TEST(Semaphore, StressLimitsConcurrency) {
  gilfree::BoundedSemaphore s(3);
  std::atomic<int> inside{0}, max_inside{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 2000 * kStressScale; ++j) {
        std::scoped_lock g(s);
        int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        --inside;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(max_inside.load(), 3);
  EXPECT_GE(max_inside.load(), 1);
  EXPECT_EQ(s.value(), 3);
}

// ---- Event ----------------------------------------------------------------------------

TEST(Event, SetClearWait) {
  gilfree::Event e;
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(10ms));
  EXPECT_FALSE(e.wait(0));
  e.set();
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(0));
  e.clear();
  EXPECT_FALSE(e.wait(0));
}

TEST(Event, SetWakesAllWaiters) {
  gilfree::Event e;
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (e.wait(10s)) ++woke;
    });
  e.set();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(Event, StressPingPong) {
  gilfree::Event ping, pong;
  const int rounds = 2000 * kStressScale;
  std::thread other([&] {
    for (int i = 0; i < rounds; ++i) {
      ASSERT_TRUE(ping.wait(10s));
      ping.clear();
      pong.set();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    ping.set();
    ASSERT_TRUE(pong.wait(10s));
    pong.clear();
  }
  other.join();
}

// ---- Thread ---------------------------------------------------------------------------

TEST(Thread, FunctionalStyleRunsWithArguments) {
  int result = 0;
  gilfree::Thread t([](int a, int b, int* out) { *out = a + b; }, 2, 3, &result);
  EXPECT_FALSE(t.is_alive());
  EXPECT_FALSE(t.ident().has_value());
  t.start();
  EXPECT_TRUE(t.ident().has_value());
  EXPECT_TRUE(t.native_id().has_value());
  t.join();
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(result, 5);
}

TEST(Thread, SubclassStyle) {
  struct CountdownThread : gilfree::Thread {
    explicit CountdownThread(int n) : n(n) {}
    ~CountdownThread() override { join(); }
    void run() override {
      while (n > 0) --n, ++steps;
    }
    int n, steps = 0;
  };
  CountdownThread t(10);
  t.start();
  t.join();
  EXPECT_EQ(t.steps, 10);
}

TEST(Thread, NamesAndDefaults) {
  gilfree::Thread a([] {});
  EXPECT_EQ(a.name().rfind("Thread-", 0), 0u);
  gilfree::Thread b({.name = "worker-1"}, [] {});
  EXPECT_EQ(b.name(), "worker-1");
  b.set_name("renamed");
  EXPECT_EQ(b.name(), "renamed");
  EXPECT_FALSE(b.daemon());  // inherited from the main thread
  gilfree::Thread c({.daemon = true}, [] {});
  EXPECT_TRUE(c.daemon());
  EXPECT_EQ(gilfree::main_thread().name(), "MainThread");
}

TEST(Thread, StartTwiceAndBadJoinsAreRuntimeErrors) {
  gilfree::Thread t([] {});
  EXPECT_THROW(t.join(), gilfree::RuntimeError);
  t.start();
  EXPECT_THROW(t.start(), gilfree::RuntimeError);
  EXPECT_THROW(t.set_daemon(true), gilfree::RuntimeError);
  t.join();
  std::atomic<bool> raised{false};
  gilfree::Thread self_join([&] {
    try {
      gilfree::current_thread().join();
    } catch (const gilfree::RuntimeError& e) {
      raised = std::string(e.what()) == "cannot join current thread";
    }
  });
  self_join.start();
  self_join.join();
  EXPECT_TRUE(raised);
}

TEST(Thread, JoinWithTimeout) {
  gilfree::Event release;
  gilfree::Thread t([&] { release.wait(); });
  t.start();
  t.join(20ms);
  EXPECT_TRUE(t.is_alive());
  release.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, CurrentThreadAndEnumerate) {
  gilfree::Event go;
  std::string seen_name;
  std::uint64_t seen_ident = 0;
  gilfree::Thread t({.name = "seer"}, [&] {
    seen_name = gilfree::current_thread().name();
    seen_ident = gilfree::get_ident();
    go.wait();
  });
  std::size_t before = gilfree::active_count();
  t.start();
  auto all = gilfree::enumerate();
  EXPECT_NE(std::find(all.begin(), all.end(), &t), all.end());
  EXPECT_EQ(gilfree::active_count(), before + 1);
  go.set();
  t.join();
  EXPECT_EQ(seen_name, "seer");
  EXPECT_EQ(seen_ident, *t.ident());
  EXPECT_EQ(gilfree::active_count(), before);
  EXPECT_EQ(&gilfree::current_thread(), &gilfree::main_thread());
}

TEST(Thread, ForeignThreadsGetDummyThreads) {
  std::string name;
  bool daemon = false;
  std::thread foreign([&] {
    name = gilfree::current_thread().name();
    daemon = gilfree::current_thread().daemon();
    EXPECT_EQ(&gilfree::current_thread(), &gilfree::current_thread());
  });
  foreign.join();
  EXPECT_EQ(name.rfind("Dummy-", 0), 0u);
  EXPECT_TRUE(daemon);
}

TEST(Thread, OsThreadNameIsSet) {
  char buf[32] = {};
  gilfree::Thread t({.name = "a-long-thread-name-here"},
                    [&] { pthread_getname_np(pthread_self(), buf, sizeof buf); });
  t.start();
  t.join();
  EXPECT_STREQ(buf, "a-long-thread-n");
}

TEST(Thread, ExceptionGoesToExcepthook) {
  std::string who, what;
  auto old = gilfree::set_excepthook([&](const gilfree::ExceptHookArgs& args) {
    who = args.thread->name();
    try {
      std::rethrow_exception(args.exc_value);
    } catch (const std::exception& e) {
      what = e.what();
    }
  });
  gilfree::Thread t({.name = "boom"}, [] { throw gilfree::ValueError("bad value"); });
  t.start();
  t.join();
  gilfree::set_excepthook(old);
  EXPECT_EQ(who, "boom");
  EXPECT_EQ(what, "bad value");
}

TEST(Thread, DefaultExcepthookPrintsLikePython) {
  testing::internal::CaptureStderr();
  gilfree::Thread t({.name = "loud"}, [] { throw gilfree::RuntimeError("oops"); });
  t.start();
  t.join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in thread loud:"), std::string::npos) << err;
  EXPECT_NE(err.find("oops"), std::string::npos) << err;
}

TEST(Thread, DestructorJoinsNonDaemon) {
  std::atomic<bool> finished{false};
  gilfree::Event started;
  {
    gilfree::Thread t([&] {
      started.set();
      std::this_thread::sleep_for(20ms);  // give the destructor something to wait for
      finished = true;
    });
    t.start();
    started.wait();
  }
  EXPECT_TRUE(finished);
}

TEST(Thread, DaemonOutlivesItsObject) {
  // Shared with the daemon: its done.set() may still be returning after the test ends.
  struct Shared {
    gilfree::Event go, done;
    std::string name_inside;
  };
  auto sh = std::make_shared<Shared>();
  {
    gilfree::Thread t({.name = "ghost", .daemon = true}, [sh] {
      sh->go.wait();
      sh->name_inside = gilfree::current_thread().name();
      sh->done.set();
    });
    t.start();
  }  // destroyed while running: the thread goes on, with a stand-in Thread object
  sh->go.set();
  ASSERT_TRUE(sh->done.wait(10s));
  EXPECT_EQ(sh->name_inside, "ghost");
}

// start() must not touch the Thread object (or its state through it) once the new thread
// runs: a reaper may join and destroy the object before start() returns (the IRC server's
// reaper did). ThreadSanitizer and AddressSanitizer see the use-after-free if it does.
TEST(Thread, JoinerMayDestroyTheObjectBeforeStartReturns) {
  for (int round = 0; round < 100 * kStressScale; ++round) {
    std::atomic<bool> ran{false};
    auto* victim = new gilfree::Thread([&] { ran.store(true, std::memory_order_release); });
    std::atomic<bool> reaped{false}, hung{false};
    gilfree::Thread reaper([&] {
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (!ran.load(std::memory_order_acquire)) {
        if (std::chrono::steady_clock::now() > deadline) {
          hung = true;
          return;
        }
        std::this_thread::yield();
      }
      victim->join();
      delete victim;  // possibly while victim->start() is still running in the main thread
      reaped = true;
    });
    reaper.start();
    victim->start();
    reaper.join();
    ASSERT_FALSE(hung) << "the started thread never ran";
    ASSERT_TRUE(reaped);
  }
}

TEST(ThreadDeathTest, ProcessExitWaitsForNonDaemonThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // Leaked on purpose: only the exit-time join can wait for it.
        auto* t = new gilfree::Thread([] {
          std::this_thread::sleep_for(50ms);  // exit() must wait for this
          std::fprintf(stderr, "worker finished\n");
        });
        t->start();
        std::exit(0);
      },
      testing::ExitedWithCode(0), "worker finished");
}

TEST(ThreadDeathTest, ProcessExitDoesNotWaitForDaemonThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        static gilfree::Event never;
        auto* t = new gilfree::Thread({.daemon = true}, [] { never.wait(); });
        t->start();
        std::fprintf(stderr, "main leaving\n");
        std::exit(0);
      },
      testing::ExitedWithCode(0), "main leaving");
}

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)  // they map terabytes
TEST(ThreadDeathTest, FailedStartLeavesTheThreadUnstarted) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        alarm(20);  // a hang (joining a thread that never ran) fails the test, not the suite
        // No address space left for a new thread's stack: std::thread cannot start.
        rlimit limit{};
        getrlimit(RLIMIT_AS, &limit);
        limit.rlim_cur = 0;
        {
          gilfree::Thread t([] {});
          setrlimit(RLIMIT_AS, &limit);
          bool raised = false;
          try {
            t.start();
          } catch (const gilfree::RuntimeError&) {
            raised = true;
          }
          bool join_refused = false;
          try {
            t.join(1s);
          } catch (const gilfree::RuntimeError&) {
            join_refused = true;  // "cannot join thread before it is started"
          }
          std::fprintf(stderr, "%s\n", raised && join_refused && !t.is_alive() ? "clean" : "broken");
        }  // and the destructor must not wait for a thread that never ran
        std::exit(0);
      },
      testing::ExitedWithCode(0), "clean");
}
#endif

TEST(Thread, MoveOnlyArguments) {
  int seen = 0;
  gilfree::Thread t([&](std::unique_ptr<int> p) { seen = *p; }, std::make_unique<int>(7));
  t.start();
  t.join();
  EXPECT_EQ(seen, 7);
}

TEST(Thread, StressManyThreads) {
  std::atomic<int> ran{0};
  std::vector<std::unique_ptr<gilfree::Thread>> threads;
  for (int i = 0; i < 50 * kStressScale; ++i) {
    threads.push_back(std::make_unique<gilfree::Thread>([&] { ++ran; }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  EXPECT_EQ(ran.load(), 50 * kStressScale);
  for (auto& t : threads) {  // each ran on a thread of its own, not the caller's
    ASSERT_TRUE(t->native_id().has_value());
    EXPECT_NE(*t->native_id(), gilfree::get_native_id());
  }
}

// ---- local ----------------------------------------------------------------------------

TEST(Local, EachThreadSeesItsOwnValue) {
  gilfree::local<int> counter;
  *counter = 1;
  std::vector<int> seen(4);
  std::vector<std::unique_ptr<gilfree::Thread>> threads;
  for (int i = 0; i < 4; ++i) {
    threads.push_back(std::make_unique<gilfree::Thread>([&, i] {
      EXPECT_EQ(*counter, 0);
      *counter += i;
      seen[i] = *counter;
    }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(*counter, 1);
}

TEST(Local, InitializerRunsOncePerThreadAndValuesDieWithTheThread) {
  static std::atomic<int> alive{0};
  struct Tracked {
    Tracked() { ++alive; }
    Tracked(const Tracked&) { ++alive; }
    ~Tracked() { --alive; }
  };
  std::atomic<int> inits{0};
  gilfree::local<Tracked> data([&] {
    ++inits;
    return Tracked{};
  });
  gilfree::Thread t([&] {
    data.get();
    data.get();
  });
  t.start();
  t.join();
  EXPECT_EQ(inits.load(), 1);
  EXPECT_EQ(alive.load(), 0);
}

// ---- Timer ----------------------------------------------------------------------------

TEST(Timer, FiresAfterInterval) {
  gilfree::Event fired;
  auto t0 = std::chrono::steady_clock::now();
  gilfree::Timer timer(30ms, [&] { fired.set(); });
  timer.start();
  ASSERT_TRUE(fired.wait(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 29ms);
  timer.join();
}

TEST(Timer, CancelPreventsTheCall) {
  std::atomic<bool> fired{false};
  gilfree::Timer timer(10s, [&] { fired = true; });
  timer.start();
  timer.cancel();
  timer.join(10s);
  EXPECT_FALSE(timer.is_alive());
  EXPECT_FALSE(fired);
}

TEST(Timer, ArgumentsArePassed) {
  int sum = 0;
  gilfree::Timer timer(0.001, [&](int a, int b) { sum = a + b; }, 4, 5);
  timer.start();
  timer.join();
  EXPECT_EQ(sum, 9);
}

// ---- Barrier --------------------------------------------------------------------------

TEST(Barrier, ValidatesParties) { EXPECT_THROW(gilfree::Barrier(0), gilfree::ValueError); }

TEST(Barrier, ReleasesAllWithDistinctIndicesAndRunsActionOnce) {
  std::atomic<int> actions{0};
  gilfree::Barrier b(3, [&] { ++actions; });
  EXPECT_EQ(b.parties(), 3u);
  std::vector<std::size_t> idx(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back([&, i] { idx[i] = b.wait(); });
  for (auto& t : threads) t.join();
  std::set<std::size_t> distinct(idx.begin(), idx.end());
  EXPECT_EQ(distinct, (std::set<std::size_t>{0, 1, 2}));
  EXPECT_EQ(actions.load(), 1);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(Barrier, TimeoutBreaksIt) {
  gilfree::Barrier b(2);
  EXPECT_THROW((void)b.wait(20ms), gilfree::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW((void)b.wait(), gilfree::BrokenBarrierError);
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST(Barrier, DefaultTimeoutApplies) {
  gilfree::Barrier b(2, {}, 20ms);
  EXPECT_THROW((void)b.wait(), gilfree::BrokenBarrierError);
}

TEST(Barrier, AbortWakesWaiters) {
  gilfree::Barrier b(3);
  std::atomic<int> broken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&] {
      try {
        b.wait();
      } catch (const gilfree::BrokenBarrierError&) {
        ++broken;
      }
    });
  while (b.n_waiting() != 2) std::this_thread::yield();
  b.abort();
  for (auto& t : threads) t.join();
  EXPECT_EQ(broken.load(), 2);
  EXPECT_TRUE(b.broken());
}

TEST(Barrier, ResetWakesWaitersWithBrokenBarrierError) {
  gilfree::Barrier b(2);
  std::atomic<bool> broken{false};
  std::thread t([&] {
    try {
      b.wait();
    } catch (const gilfree::BrokenBarrierError&) {
      broken = true;
    }
  });
  while (b.n_waiting() != 1) std::this_thread::yield();
  b.reset();
  t.join();
  EXPECT_TRUE(broken);
  EXPECT_FALSE(b.broken());  // reset leaves it usable
  std::thread t2([&] { b.wait(); });
  b.wait();
  t2.join();
}

TEST(Barrier, FailingActionBreaksBarrier) {
  gilfree::Barrier b(2, [] { throw std::runtime_error("action failed"); });
  std::atomic<int> broken{0}, failed{0};
  auto party = [&] {
    try {
      b.wait();
    } catch (const gilfree::BrokenBarrierError&) {
      ++broken;
    } catch (const std::runtime_error&) {
      ++failed;
    }
  };
  std::thread t1(party), t2(party);
  t1.join(), t2.join();
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(broken.load(), 1);
  EXPECT_TRUE(b.broken());
}

TEST(Barrier, StressManyCycles) {
  const int parties = 4, cycles = 300 * kStressScale;
  std::atomic<int> actions{0};
  gilfree::Barrier b(parties, [&] { ++actions; });
  std::vector<std::thread> threads;
  std::atomic<long> index_sum{0};
  for (int i = 0; i < parties; ++i)
    threads.emplace_back([&] {
      for (int c = 0; c < cycles; ++c) index_sum += static_cast<long>(b.wait());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(actions.load(), cycles);
  EXPECT_EQ(index_sum.load(), static_cast<long>(cycles) * (0 + 1 + 2 + 3));
}

// ---- issue 15: what the Python module relies on ---------------------------------------

TEST(Event, SetThenClearWakesWaitersWithTrue) {
  gilfree::Event e;
  std::atomic<int> started{0}, woke_true{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      ++started;
      if (e.wait(10s)) ++woke_true;
    });
  while (started.load() != 4) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // let them sleep; one still spinning also sees the set
  e.set();
  e.clear();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke_true.load(), 4);
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(Timeout::zero()));
}

TEST(Event, AtForkReinitKeepsTheFlag) {
  gilfree::Event e;
  e.set();
  e.at_fork_reinit();
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait(Timeout::zero()));
}

TEST(Lock, AtForkReinitUnlocks) {
  gilfree::Lock l;
  l.acquire();
  l.at_fork_reinit();
  EXPECT_FALSE(l.locked());
  gilfree::RLock r;
  r.acquire();
  r.acquire();
  r.at_fork_reinit();
  EXPECT_FALSE(r.locked());
  EXPECT_EQ(r.count(), 0u);
  EXPECT_TRUE(r.acquire(false));
  r.release();
}

TEST(Condition, AtForkReinitForgetsWaiters) {
  gilfree::Lock l;
  gilfree::Condition c(l);
  l.acquire();
  c.at_fork_reinit();
  c.notify_all();  // nobody to wake, and no stale node touched
  EXPECT_FALSE(c.wait(1ms));
  l.release();
}

TEST(Barrier, ActionReadsStateWithoutTheLock) {
  std::size_t waiting = 99;
  bool broken = true;
  gilfree::Barrier* self = nullptr;
  gilfree::Barrier b(2, [&] {
    waiting = self->n_waiting();  // would deadlock if it took the barrier's lock
    broken = self->broken();
  });
  self = &b;
  std::thread t([&] { b.wait(10s); });
  b.wait(10s);
  t.join();
  EXPECT_EQ(waiting, 2u);
  EXPECT_FALSE(broken);
  EXPECT_EQ(b.default_timeout().is_forever(), true);
}

TEST(Barrier, PollExceptionLeavesBarrierUnbroken) {
  gilfree::Barrier b(2);
  int polls = 0;
  EXPECT_THROW((void)b.wait(Timeout(), Timeout(1ms),
                      [&] {
                        EXPECT_FALSE(b.broken());  // called without the barrier's lock
                        if (++polls == 3) throw std::runtime_error("interrupted");
                      }),
               std::runtime_error);
  EXPECT_EQ(polls, 3);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  std::thread t([&] { b.wait(10s); });  // still usable
  EXPECT_LT(b.wait(10s), 2u);
  t.join();
}

TEST(Barrier, PolledWaitStillTimesOut) {
  gilfree::Barrier b(2);
  int polls = 0;
  EXPECT_THROW((void)b.wait(Timeout(30ms), Timeout(5ms), [&] { ++polls; }), gilfree::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  EXPECT_GE(polls, 1);
}

TEST(Condition, CountsItsWaiters) {
  gilfree::Lock l;
  gilfree::Condition c(l);
  EXPECT_EQ(c.n_waiters(), 0u);
  std::thread t([&] {
    l.acquire();
    EXPECT_TRUE(c.wait(10s));  // notified below
    l.release();
  });
  while (c.n_waiters() != 1) std::this_thread::yield();
  l.acquire();
  c.notify();
  EXPECT_EQ(c.n_waiters(), 0u);
  l.release();
  t.join();
  l.acquire();
  EXPECT_FALSE(c.wait(1ms));  // a timed-out waiter leaves the count too
  EXPECT_EQ(c.n_waiters(), 0u);
  l.release();
}

TEST(BoundedSemaphore, KnowsItsInitialValue) {
  gilfree::BoundedSemaphore s(3);
  s.acquire();
  EXPECT_EQ(s.initial_value(), 3);
  EXPECT_EQ(s.value(), 2);
}

TEST(Condition, WaitForAsPython) {
  gilfree::Lock l;
  gilfree::Condition c(l);
  // A false predicate is waited for at least once: an un-acquired lock raises even with a
  // zero timeout, as in Python.
  EXPECT_THROW(c.wait_for([] { return false; }, Timeout::zero()), gilfree::RuntimeError);
  l.acquire();
  int waits = 0;
  // The predicate's value comes back as it is, and each wait is the caller's.
  int polls = 0;
  int got = c.wait_for([&] { return ++polls >= 3 ? polls : 0; }, Timeout(10s),
                       [&](const Timeout& step) {
                         ++waits;
                         return c.wait(step.is_forever() || step.duration() > 1ms ? Timeout(1ms) : step);
                       });
  EXPECT_EQ(got, 3);
  EXPECT_EQ(waits, 2);
  EXPECT_EQ(c.wait_for([] { return 0; }, Timeout(5ms), [&](const Timeout& t) { return c.wait(t); }), 0);
  l.release();
}

}  // namespace
