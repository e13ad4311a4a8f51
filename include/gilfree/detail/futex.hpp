// gilfree/detail/futex.hpp — the kernel's wait/wake on a 32-bit word, with absolute
// steady-clock deadlines. Every gilfree primitive sleeps through here; happens-before
// between threads always comes from the atomics around these calls, never from the
// syscall itself (which is what keeps ThreadSanitizer's view exact).
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "../timeout.hpp"

namespace gilfree::detail {

// Sleeps while `word == expected`, until woken, the deadline passes, or spuriously.
// Returns false only when the deadline has passed; callers recheck their condition.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline) noexcept;

// Wakes up to `count` threads sleeping on `word` (INT32_MAX: all of them).
void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

// One CPU "pause" hint, for polite spinning.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// How long (in nanoseconds) a waiter polls before it sleeps. A cross-core wake-up on a
// virtual machine costs 10-30 us while a hand-off seen by a spinning thread costs ~0.1 us,
// so spinning about as long as a wake-up costs pays for itself whenever the other side
// answers quickly, and at worst doubles the wait. On one core spinning only burns the
// time the other thread needs, hence zero there. GILFREE_SPIN_NS overrides it.
long spin_budget_ns() noexcept;

// Polls `ready()` for up to spin_budget_ns(); true as soon as it holds. Time, not a count
// of iterations, bounds the spin because a pause instruction costs 1-80 ns by CPU model.
template <class Pred>
bool spin_until(Pred&& ready) noexcept(noexcept(ready())) {
  const long budget = spin_budget_ns();
  if (budget <= 0) return ready();
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(budget);
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
}

// As spin_until, but only the first ~2 us pause-spin; after that each poll yields the core.
// For waits on another thread's progress (an Event, a notify, a result): with an idle
// core a yield returns at once, so this is still a spin, while on an oversubscribed
// machine it hands the core to a runnable thread — often the very one being waited for —
// instead of burning the time slice it needs. (Measured on the busy 2-core machine: Event
// ping-pong 1.6x/0.32x the condvar round trip instead of 4.8x/6.6x with pause alone.)
template <class Pred>
bool spin_then_yield_until(Pred&& ready) noexcept(noexcept(ready())) {
  const long budget = spin_budget_ns();
  if (budget <= 0) return ready();
  const auto start = std::chrono::steady_clock::now();
  const auto pause_until = start + std::chrono::nanoseconds(std::min(budget, 2'000L));
  const auto until = start + std::chrono::nanoseconds(budget);
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return ready();
    if (now >= pause_until) sched_yield();
  }
}

}  // namespace gilfree::detail
