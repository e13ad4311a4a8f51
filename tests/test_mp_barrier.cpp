// multiprocessing.Barrier across fork children: Python's indexes, action, timeout, abort,
// reset, n_waiting and broken; and the robustness cases (a party SIGKILLed while it waits
// breaks the barrier for the live waiters instead of hanging them; every waiter with a
// timeout sees BrokenBarrierError). Every child is bounded and reaped (mp_child.hpp).
#include <gilfree/multiprocessing/detail/shared_futex.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

TEST(MpBarrier, BasicsAndErrors) {
  EXPECT_THROW(mp::Barrier(0), gilfree::ValueError);
  mp::Barrier one(1);
  EXPECT_EQ(one.parties(), 1u);
  EXPECT_EQ(one.wait(), 0u);
  EXPECT_EQ(one.wait(), 0u);
  EXPECT_FALSE(one.broken());
  EXPECT_EQ(one.n_waiting(), 0u);
  EXPECT_TRUE(one.default_timeout().is_forever());
  mp::Barrier empty;
  EXPECT_THROW(empty.wait(), gilfree::ValueError);
  mp::Barrier two(2, {}, 0.25);
  EXPECT_DOUBLE_EQ(two.default_timeout().seconds(), 0.25);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(two.wait(), gilfree::BrokenBarrierError);  // the default timeout applies
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_TRUE(two.broken());
  EXPECT_THROW(two.wait(1.0), gilfree::BrokenBarrierError);  // stays broken
  two.reset();
  EXPECT_FALSE(two.broken());
}

struct Rounds {
  std::atomic<int> actions{0};
  std::atomic<int> seen[50][4];  // seen[round][index]: how many parties got that index
};
Rounds* g_rounds = nullptr;
void count_action() { g_rounds->actions.fetch_add(1); }

TEST(MpBarrier, FourProcessesManyRoundsIndexesAndAction) {
  constexpr int kParties = 4, kRounds = 50;
  auto r = mp::detail::make_shared_block<Rounds>();
  g_rounds = r.get();
  mp::Barrier b(kParties, count_action);
  auto party = [&] {
    for (int k = 0; k < kRounds; ++k) {
      const std::size_t i = b.wait(20.0);
      if (i >= kParties) return 1;
      r->seen[k][i].fetch_add(1);
      // Every party has passed round k's wait before any passes round k+1's, so the
      // action count is exactly k+1 here.
      if (r->actions.load() != k + 1) return 2;
    }
    return 0;
  };
  std::vector<pid_t> kids;
  for (int i = 0; i < kParties - 1; ++i) kids.push_back(fork_child(party));
  EXPECT_EQ(party(), 0);
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 60s), 0);
  EXPECT_EQ(r->actions.load(), kRounds);
  for (int k = 0; k < kRounds; ++k)
    for (int i = 0; i < kParties; ++i) EXPECT_EQ(r->seen[k][i].load(), 1) << k << " " << i;
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(MpBarrier, EveryWaiterWithATimeoutSeesBrokenBarrierError) {
  mp::Barrier b(4);  // the fourth party never comes
  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i)
    kids.push_back(fork_child([&] {
      try {
        b.wait(30.0);  // the parent's short timeout breaks it for this one too
      } catch (const gilfree::BrokenBarrierError&) {
        return 0;
      }
      return 1;
    }));
  for (pid_t k : kids) EXPECT_TRUE(mp_test::wait_until_sleeping(k));
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (b.n_waiting() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(b.n_waiting(), 2u);
  EXPECT_THROW(b.wait(0.2), gilfree::BrokenBarrierError);
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k), 0);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

TEST(MpBarrier, AbortAndResetFromAnotherProcessWakeTheWaiters) {
  for (bool use_reset : {false, true}) {
    mp::Barrier b(2);
    pid_t waiter = fork_child([&] {
      try {
        b.wait(30.0);
      } catch (const gilfree::BrokenBarrierError&) {
        return 0;
      }
      return 1;
    });
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (b.n_waiting() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    if (use_reset) {
      b.reset();
    } else {
      b.abort();
    }
    EXPECT_EQ(bounded_wait(waiter), 0);
    EXPECT_EQ(b.broken(), !use_reset);
    // Reset makes it usable again: two parties pass.
    b.reset();
    pid_t other = fork_child([&] { return b.wait(20.0) <= 1 ? 0 : 1; });
    EXPECT_LE(b.wait(20.0), 1u);
    EXPECT_EQ(bounded_wait(other), 0);
  }
}

TEST(MpBarrier, FailingActionBreaksItAndPropagatesToTheLastParty) {
  mp::Barrier b(2, [] { throw std::runtime_error("action failed"); });
  pid_t waiter = fork_child([&] {
    try {
      b.wait(30.0);
    } catch (const gilfree::BrokenBarrierError&) {
      return 0;
    }
    return 1;
  });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (b.n_waiting() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_THROW(b.wait(20.0), std::runtime_error);
  EXPECT_EQ(bounded_wait(waiter), 0);
  EXPECT_TRUE(b.broken());
}

TEST(MpBarrier, APartyKilledWhileWaitingBreaksItForTheLiveWaiters) {
  mp::Barrier b(3);
  pid_t victim = fork_child([&] {
    b.wait();
    return 0;
  });
  // A live waiter without a timeout: it must not hang on the dead party.
  pid_t live = fork_child([&] {
    try {
      b.wait();
    } catch (const gilfree::BrokenBarrierError&) {
      return 0;
    }
    return 1;
  });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (b.n_waiting() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(b.n_waiting(), 2u);
  ::kill(victim, SIGKILL);
  EXPECT_EQ(bounded_wait(victim), 128 + SIGKILL);
  EXPECT_EQ(bounded_wait(live, 10s), 0);
  EXPECT_TRUE(b.broken());
  // The dead party's place is freed: after a reset three live parties pass.
  b.reset();
  EXPECT_FALSE(b.broken());
  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i) kids.push_back(fork_child([&] { return b.wait(20.0) <= 2 ? 0 : 1; }));
  EXPECT_LE(b.wait(20.0), 2u);
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k), 0);
}

TEST(MpBarrier, ProcessesAndThreadsAreParties) {
  mp::Barrier b(2);
  pid_t victim = fork_child([&] {
    b.wait();
    return 0;
  });
  EXPECT_LE(b.wait(20.0), 1u);
  EXPECT_EQ(bounded_wait(victim), 0);
  // Threads of one process are parties too.
  std::thread t([&] { EXPECT_LE(b.wait(20.0), 1u); });
  EXPECT_LE(b.wait(20.0), 1u);
  t.join();
  EXPECT_FALSE(b.broken());
}

}  // namespace
