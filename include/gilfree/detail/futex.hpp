// gilfree/detail/futex.hpp — the kernel's wait/wake on a 32-bit word, with absolute
// steady-clock deadlines. Every gilfree primitive sleeps through here; happens-before
// between threads always comes from the atomics around these calls, never from the
// syscall itself (which is what keeps ThreadSanitizer's view exact).
#pragma once

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

// How many polls a waiter spends before it sleeps. A cross-core wake-up on a virtual
// machine costs 10-30 us while a handoff seen by a spinning thread costs ~0.1 us, so a
// short spin pays for itself whenever the other side answers quickly; on one core it
// only burns time, hence the check.
int spin_budget() noexcept;

// Polls `ready()` up to spin_budget() times; true as soon as it holds.
template <class Pred>
bool spin_until(Pred&& ready) noexcept(noexcept(ready())) {
  for (int i = spin_budget(); i > 0; --i) {
    if (ready()) return true;
    cpu_relax();
  }
  return ready();
}

}  // namespace gilfree::detail
