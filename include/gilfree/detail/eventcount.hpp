// gilfree/detail/eventcount.hpp — "sleep until some condition on other atomics holds".
//
// An EventCount lets lock-free state (a counter, a flag, a ring buffer) grow blocking
// waits without a mutex: a notifier pays one fence and one load when nobody sleeps.
//
// Waiter:                               Notifier:
//   while (!cond()) {                     change the state the condition reads;
//     auto key = ec.prepare_wait();       ec.notify_one() / notify_all();
//     if (cond()) { ec.cancel_wait(); break; }
//     if (!ec.wait(key, deadline)) ...timed out...
//   }
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "futex.hpp"

namespace gilfree::detail {

class EventCount {
 public:
  // Announces a waiter and returns the key to pass to wait(); recheck the condition after.
  std::uint32_t prepare_wait() noexcept {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  // Withdraws a prepare_wait() whose recheck found the condition true.
  void cancel_wait() noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // Sleeps until a notify after prepare_wait() or the deadline; false on timeout.
  // Always withdraws the waiter.
  bool wait(std::uint32_t key, const Deadline& deadline) noexcept {
    bool in_time = true;
    while (epoch_.load(std::memory_order_acquire) == key) {
      if (!futex_wait(epoch_, key, deadline)) {
        in_time = epoch_.load(std::memory_order_acquire) != key;
        break;
      }
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return in_time;
  }
  // Wakes one waiter, if any (the state change must precede this call).
  void notify_one() noexcept { notify(1); }
  // Wakes every waiter, if any.
  void notify_all() noexcept { notify(INT_MAX); }
  // Wakes up to n waiters, if any.
  void notify(int n) noexcept {
    // A seq_cst read-modify-write rather than fence + load: the same cost on x86, and it
    // orders us against every prepare_wait() through waiters_' modification order, which
    // ThreadSanitizer understands (it does not model atomic_thread_fence).
    if (waiters_.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    epoch_.fetch_add(1, std::memory_order_release);
    futex_wake(epoch_, n);
  }
  // True when some thread is between prepare_wait() and the end of wait().
  bool has_waiters() const noexcept { return waiters_.load(std::memory_order_relaxed) != 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
};

// Waits until `ready()` holds: polls briefly (spin_then_yield_until), then sleeps on `ec`.
// False on timeout (after one last check of `ready()`).
template <class Pred>
bool await(EventCount& ec, const Deadline& deadline, Pred&& ready) {
  if (!deadline.expired() && spin_then_yield_until(ready)) return true;
  for (;;) {
    auto key = ec.prepare_wait();
    if (ready()) {
      ec.cancel_wait();
      return true;
    }
    if (!ec.wait(key, deadline)) return ready();
    if (ready()) return true;
  }
}

}  // namespace gilfree::detail
