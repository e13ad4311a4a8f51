// The waiting machinery (detail/wait/): futex scopes, the spin policy, EventCount and the
// one wait loop, Parking. Process-shared words are tested across fork() in MAP_SHARED
// memory, as the multiprocessing layer will use them.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <thread>
#include <vector>

#include "gilfree/detail/wait/event_count.hpp"
#include "gilfree/detail/wait/futex.hpp"
#include "gilfree/detail/wait/parking.hpp"
#include "gilfree/detail/wait/spin.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Deadline;
using gilfree::Timeout;
namespace d = gilfree::detail;

TEST(Futex, WaitReturnsAtOnceWhenTheWordDiffers) {
  std::atomic<std::uint32_t> w{1};
  EXPECT_TRUE(d::futex_wait(w, 0, Timeout(5s).deadline()));
}

TEST(Futex, WaitTimesOutWithFalse) {
  std::atomic<std::uint32_t> w{0};
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(d::futex_wait(w, 0, Timeout(20ms).deadline()));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_FALSE(d::Futex<d::FutexScope::process_shared>::wait(w, 0, Timeout(1ms).deadline()));
}

TEST(Futex, WakeReachesAWaiterInBothScopes) {
  for (auto scope : {d::FutexScope::process_private, d::FutexScope::process_shared}) {
    std::atomic<std::uint32_t> w{0};
    std::atomic<bool> returned{false};
    std::thread t([&] {
      while (w.load() == 0) d::futex_wait(w, 0, Timeout(10s).deadline(), scope);
      returned = true;
    });
    w.store(1);
    d::futex_wake(w, 1, scope);
    t.join();
    EXPECT_TRUE(returned);
  }
}

TEST(Spin, PolicyBoundsThePollingTime) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(d::spin(d::SpinPolicy{2'000'000, 1'000'000, 16}, [] { return false; }));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 2ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(d::spin(d::SpinPolicy{0, 0, 16}, [] { return true; }));  // checks once
  int calls = 0;
  EXPECT_FALSE(d::spin(d::SpinPolicy{0, 0, 16}, [&] { return ++calls > 5; }));
  EXPECT_EQ(calls, 1);
}

TEST(Spin, ClipStopsAtTheDeadline) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(d::spin(d::SpinPolicy::yield_only(10'000'000'000L), [] { return false; },
                       Timeout(5ms).deadline()));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Spin, AdaptiveBudgetGrowsOnSuccessAndShrinksOnFailure) {
  if (d::spin_budget_ns() <= 0) GTEST_SKIP() << "one core: no spinning";
  long budget = 4 * d::kMinSpinNs;
  EXPECT_FALSE(d::adaptive_spin_until(budget, [] { return false; }));
  EXPECT_EQ(budget, 2 * d::kMinSpinNs);
  EXPECT_TRUE(d::adaptive_spin_until(budget, [] { return true; }));
  EXPECT_EQ(budget, std::min(d::spin_budget_ns(), 4 * d::kMinSpinNs));
  for (int i = 0; i < 20; ++i) d::adaptive_spin_until(budget, [] { return false; });
  EXPECT_EQ(budget, d::kMinSpinNs);
}

TEST(EventCount, AwaitSeesAConditionMadeTrueLater) {
  d::EventCount ec;
  std::atomic<bool> flag{false};
  std::thread t([&] {
    // No spin: force the sleep path.
    EXPECT_TRUE(d::await(ec, Timeout(10s).deadline(), [&] { return flag.load(); },
                         d::SpinPolicy{0, 0, 16}));
  });
  flag.store(true);
  ec.notify_all();
  t.join();
}

TEST(EventCount, AwaitTimesOut) {
  d::EventCount ec;
  EXPECT_FALSE(d::await(ec, Timeout(10ms).deadline(), [] { return false; }));
  EXPECT_FALSE(ec.has_waiters());
}

TEST(EventCount, NotifyWithoutWaitersCostsNoWake) {
  d::EventCount ec;
  ec.notify_all();  // nobody waits: returns at once, and a later waiter is not released
  auto key = ec.prepare_wait();
  EXPECT_FALSE(ec.wait(key, Timeout(5ms).deadline()));
}

TEST(EventCount, SleepOnceReportsReadyWithoutSleeping) {
  d::EventCount ec;
  bool announced = false;
  EXPECT_EQ(d::sleep_once(ec, Deadline(), [] { return true; }, [&] { announced = true; }),
            d::SleepResult::ready);
  EXPECT_TRUE(announced);
  EXPECT_FALSE(ec.has_waiters());
  EXPECT_EQ(d::sleep_once(ec, Timeout(1ms).deadline(), [] { return false; }, [] {}),
            d::SleepResult::timed_out);
}

// A process-shared EventCount and flag in MAP_SHARED memory: the parent sleeps on it and
// a fork child (a different process, at the same address here but keyed by the page)
// wakes it.
TEST(EventCount, ProcessSharedScopeWakesAcrossProcesses) {
  struct Shared {
    d::BasicEventCount<d::FutexScope::process_shared> ec;
    std::atomic<std::uint32_t> flag{0};
    std::atomic<std::uint32_t> parent_waiting{0};
  };
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* sh = new (mem) Shared;
  pid_t pid = ::fork();
  if (pid == 0) {
    // Wait (bounded) until the parent announced itself, then wake it.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!sh->ec.has_waiters() && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    sh->flag.store(1);
    sh->ec.notify_all();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  bool woke = d::sleep_until(sh->ec, Timeout(20s).deadline(), [&] { return sh->flag.load() == 1; });
  EXPECT_TRUE(woke);
  int status = 0;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{fd, POLLIN, 0};
  if (fd >= 0 && ::poll(&p, 1, 20000) == 0) ::kill(pid, SIGKILL);
  if (fd >= 0) ::close(fd);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  sh->~Shared();
  ::munmap(mem, sizeof(Shared));
}

TEST(Parking, WakeOneReleasesASleeper) {
  d::Parking park;
  std::atomic<bool> flag{false};
  std::thread t([&] {
    const auto until = Timeout(10s).deadline();
    while (!flag.load(std::memory_order_seq_cst) && !until.expired())
      park.park_until(until, [&] { return flag.load(std::memory_order_seq_cst); });
    EXPECT_TRUE(flag.load());
  });
  flag.exchange(true, std::memory_order_seq_cst);  // the RMW Parking's contract asks for
  park.wake_one();
  t.join();
}

TEST(Parking, ParkUntilReturnsAtTheDeadline) {
  d::Parking park;
  const auto t0 = std::chrono::steady_clock::now();
  park.park_until(Timeout(10ms).deadline(), [] { return false; });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Parking, LeavesNoSleeperOrTokenBehind) {
  d::Parking park;
  park.park_until(Timeout(1ms).deadline(), [] { return false; });  // timed out
  park.park_until(Deadline(), [] { return true; });                  // ready at once
  EXPECT_EQ(park.sleepers(), 0u);
  EXPECT_EQ(park.tokens(), 0u);
  park.wake_one();  // nobody parked: hands out nothing
  park.wake_all();
  EXPECT_EQ(park.tokens(), 0u);
}

// A woken sleeper stops counting as one at once: a second wake_one() right after the first
// (before the first sleeper has run) goes to the second sleeper rather than to the first
// again, so two items put back to back release two getters.
TEST(Parking, EachWakeOneReleasesADifferentSleeper) {
  d::Parking park;
  std::atomic<int> items{0};
  auto take = [&] {
    int n = items.load(std::memory_order_seq_cst);
    while (n > 0 && !items.compare_exchange_weak(n, n - 1, std::memory_order_seq_cst)) {
    }
    return n > 0;
  };
  std::atomic<int> got{0};
  auto getter = [&] {
    const auto until = Timeout(20s).deadline();
    while (!take() && !until.expired())
      park.park_until(until, [&] { return items.load(std::memory_order_seq_cst) > 0; });
    got.fetch_add(1);
  };
  std::thread a(getter), b(getter);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (park.sleepers() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  EXPECT_EQ(park.sleepers(), 2u) << "both getters should be asleep by now";
  items.fetch_add(1, std::memory_order_seq_cst);
  park.wake_one();
  EXPECT_LE(park.sleepers(), 1u);  // the first woken no longer counts, run or not
  items.fetch_add(1, std::memory_order_seq_cst);
  park.wake_one();
  a.join();
  b.join();
  EXPECT_EQ(got.load(), 2);
  EXPECT_EQ(park.sleepers(), 0u);
  EXPECT_EQ(park.tokens(), 0u);
}

// Producers and consumers of a counter, each wake_one() racing sleepers that time out in
// short slices: no wake-up is lost (everything is consumed well before the watchdog) and
// the word ends empty.
TEST(Parking, NoLostWakeUpWithTimeoutsRacingWakes) {
  d::Parking park;
  std::atomic<long> items{0};
  constexpr long kPerProducer = 20000;
  constexpr int kProducers = 2, kConsumers = 3;
  std::atomic<long> consumed{0};
  const auto watchdog = Timeout(30s).deadline();
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      while (consumed.load() < kPerProducer * kProducers && !watchdog.expired()) {
        long n = items.load(std::memory_order_seq_cst);
        if (n > 0 && items.compare_exchange_weak(n, n - 1, std::memory_order_seq_cst)) {
          consumed.fetch_add(1);
          continue;
        }
        // Slices of 0-200 us, so timeouts often land on top of a wake-up.
        park.park_until(Timeout(std::chrono::microseconds(consumed.load() % 200)).deadline(),
                        [&] { return items.load(std::memory_order_seq_cst) > 0; });
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&] {
      for (long i = 0; i < kPerProducer; ++i) {
        items.fetch_add(1, std::memory_order_seq_cst);
        if (i % 7 == 0) park.wake_all(); else park.wake_one();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(watchdog.expired());
  EXPECT_EQ(consumed.load(), kPerProducer * kProducers);
  EXPECT_EQ(park.sleepers(), 0u);
  EXPECT_EQ(park.tokens(), 0u);
}

// A process-shared Parking in MAP_SHARED memory: the parent parks, a fork child wakes it.
TEST(Parking, ProcessSharedScopeWakesAcrossProcesses) {
  struct Shared {
    d::BasicParking<d::FutexScope::process_shared> park;
    std::atomic<std::uint32_t> flag{0};
  };
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* sh = new (mem) Shared;
  pid_t pid = ::fork();
  if (pid == 0) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (sh->park.sleepers() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    sh->flag.exchange(1, std::memory_order_seq_cst);
    sh->park.wake_one();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  const auto until = Timeout(20s).deadline();
  while (sh->flag.load(std::memory_order_seq_cst) == 0 && !until.expired())
    sh->park.park_until(until, [&] { return sh->flag.load(std::memory_order_seq_cst) == 1; });
  EXPECT_EQ(sh->flag.load(), 1u);
  int status = 0;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{fd, POLLIN, 0};
  if (fd >= 0 && ::poll(&p, 1, 20000) == 0) ::kill(pid, SIGKILL);
  if (fd >= 0) ::close(fd);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  sh->~Shared();
  ::munmap(mem, sizeof(Shared));
}

}  // namespace
