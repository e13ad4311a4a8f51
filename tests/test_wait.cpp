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

}  // namespace
