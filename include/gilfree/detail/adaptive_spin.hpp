// gilfree/detail/adaptive_spin.hpp — spin before sleeping, but only as long as spinning
// has been paying off for this thread.
//
// A fixed spin (detail::spin_until, 20 us) is right on an idle machine, where the other
// side answers within a microsecond. On an oversubscribed one it is harmful: the spinner
// holds the very core the thread it waits for needs, so every hand-off costs the whole
// spin before the spinner sleeps and lets the other side run (measured: a submit+result
// round trip of 25-50 us instead of 7-14 us for a pool that always sleeps). Each thread
// therefore keeps its own budget: grown when a spin sees the condition, halved when it
// gives up and sleeps, within [kMinSpinNs, spin_budget_ns()].
#pragma once

#include <algorithm>
#include <chrono>

#include "futex.hpp"

namespace gilfree::detail {

inline constexpr long kMinSpinNs = 2000;  // a hand-off between two running threads takes 0.2-1 us

// Polls `ready()` for up to `budget_ns`, then adapts `budget_ns`; true if it held.
template <class Pred>
bool adaptive_spin_until(long& budget_ns, Pred&& ready) {
  const long max_ns = spin_budget_ns();
  if (max_ns <= 0) return ready();
  if (budget_ns <= 0) budget_ns = max_ns;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::nanoseconds(budget_ns);
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) {
        budget_ns = std::min(max_ns, budget_ns * 2);
        return true;
      }
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) break;
  }
  if (ready()) return true;
  budget_ns = std::max(kMinSpinNs, budget_ns / 2);
  return false;
}

// The calling thread's budget for waits on futures, and for an idle worker's wait.
inline thread_local long future_spin_ns = 0;
inline thread_local long worker_spin_ns = 0;

}  // namespace gilfree::detail
