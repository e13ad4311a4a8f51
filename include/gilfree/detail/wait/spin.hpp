// gilfree/detail/wait/spin.hpp — the library's one spin policy: how a waiter polls before
// it sleeps.
//
// A cross-core wake-up on a virtual machine costs 10-30 us while a hand-off seen by a
// polling thread costs ~0.1 us, so polling about as long as a wake-up costs pays for
// itself whenever the other side answers quickly, and at worst doubles the wait. Time,
// not a count of iterations, bounds a spin, because a pause instruction costs 1-80 ns by
// CPU model. The house budget is spin_budget_ns(): 20 us, or zero when this process may
// run on one CPU only (its affinity), where polling only burns the time the other thread
// needs; GILFREE_SPIN_NS overrides it.
//
// A SpinPolicy says how long to poll in total and how much of that with the CPU's pause
// hint before each poll also yields the core: with an idle core a yield returns at once,
// so it is still a spin, while on an oversubscribed machine it hands the core to a
// runnable thread — often the very one being waited for. Waiters pick a preset:
//   pause_only()      locks: the holder is running and releases within nanoseconds;
//   pause_then_yield()  waits on another thread's progress (an Event, a notify): the
//                     first 2 us pause, then yield (measured on the busy 2-core machine:
//                     Event ping-pong 1.6x/0.32x the condvar round trip instead of
//                     4.8x/6.6x with pause alone);
//   yield_only(ns)    the bounded queue's Parking, which adapts its own budget.
// adaptive_spin_until() keeps a caller-owned budget that grows when spinning pays off
// and halves when it does not (futures' waits, an idle executor worker).
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>

#include "../../timeout.hpp"

namespace gilfree::detail {

// One CPU "pause" hint, for polite spinning.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The house budget in nanoseconds (see above).
long spin_budget_ns() noexcept;

// How a waiter polls before it sleeps (see the file comment).
struct SpinPolicy {
  // Total polling time; <= 0: check once, never poll.
  long budget_ns = 0;
  // Of that, how long to poll with pause only; after it each round also yields the core.
  long pause_ns = 0;
  // Polls per round (one clock read per round).
  int polls_per_round = 16;

  // Pause for the whole house budget.
  static SpinPolicy pause_only() noexcept {
    const long b = spin_budget_ns();
    return {b, b, 16};
  }
  // Pause for ~2 us, then yield between rounds, up to the house budget.
  static SpinPolicy pause_then_yield() noexcept {
    const long b = spin_budget_ns();
    return {b, std::min(b, 2'000L), 16};
  }
  // Poll once and yield, for up to `budget_ns`.
  static SpinPolicy yield_only(long budget_ns) noexcept { return {budget_ns, 0, 1}; }
};

// The one spin loop: polls `ready()` as `policy` says, never past `clip`; true as soon as
// it holds (after one last check when the time is up).
template <class Pred>
bool spin(const SpinPolicy& policy, Pred&& ready, const Deadline& clip = Deadline()) {
  if (policy.budget_ns <= 0) return ready();
  const auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::nanoseconds(policy.budget_ns);
  if (!clip.is_forever() && clip.time_point() < until) until = clip.time_point();
  const auto pause_until = start + std::chrono::nanoseconds(policy.pause_ns);
  bool yielding = false;  // past pause_ns: each round ends in a yield instead of a pause
  for (;;) {
    for (int i = 0; i < policy.polls_per_round; ++i) {
      if (ready()) return true;
      if (!yielding || i + 1 < policy.polls_per_round) cpu_relax();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return ready();
    if (now >= pause_until) {
      yielding = true;
      sched_yield();
    }
  }
}

// spin() with SpinPolicy::pause_only().
template <class Pred>
bool spin_until(Pred&& ready) {
  return spin(SpinPolicy::pause_only(), ready);
}

// spin() with SpinPolicy::pause_then_yield().
template <class Pred>
bool spin_then_yield_until(Pred&& ready) {
  return spin(SpinPolicy::pause_then_yield(), ready);
}

// The least an adaptive budget shrinks to: a hand-off between two running threads takes
// 0.2-1 us.
inline constexpr long kMinSpinNs = 2000;

// Pauses on `ready()` for up to `budget_ns` (0: start at the house budget), then adapts
// it: doubled (up to the house budget) when the spin saw the condition, halved (down to
// kMinSpinNs) when it gave up. A fixed spin is right on an idle machine; on an
// oversubscribed one the spinner holds the core the other side needs (measured: a
// submit+result round trip of 25-50 us instead of 7-14 us for a pool that always
// sleeps), so each thread learns how long spinning pays off for it. True if it held.
template <class Pred>
bool adaptive_spin_until(long& budget_ns, Pred&& ready) {
  const long max_ns = spin_budget_ns();
  if (max_ns <= 0) return ready();
  if (budget_ns <= 0) budget_ns = max_ns;
  if (spin(SpinPolicy{budget_ns, budget_ns, 16}, ready)) {
    budget_ns = std::min(max_ns, budget_ns * 2);
    return true;
  }
  budget_ns = std::max(kMinSpinNs, budget_ns / 2);
  return false;
}

// The calling thread's adaptive budgets: for waits on futures, and for an idle
// executor worker's wait for work.
inline thread_local long future_spin_ns = 0;
inline thread_local long worker_spin_ns = 0;

}  // namespace gilfree::detail
