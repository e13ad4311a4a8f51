// gilfree/detail/wait/event_count.hpp — "sleep until some condition on other atomics
// holds", and the library's one wait loop around it.
//
// An EventCount lets lock-free state (a counter, a flag, a ring buffer) grow blocking
// waits without a mutex: a notifier pays one read-modify-write when nobody sleeps.
//
// Waiter (this is what await() does):     Notifier:
//   spin a little (SpinPolicy);              change the state the condition reads;
//   while (!cond()) {                        ec.notify_one() / notify_all();
//     auto key = ec.prepare_wait();
//     if (cond()) { ec.cancel_wait(); break; }
//     if (!ec.wait(key, deadline)) ...timed out...
//   }
//
// BasicEventCount is a template on the futex scope: BasicEventCount<process_shared> is a
// plain struct of two words with no pointers, so it may live in shared memory.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "futex.hpp"
#include "spin.hpp"

namespace gilfree::detail {

template <FutexScope Scope>
class BasicEventCount {
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
      if (!Futex<Scope>::wait(epoch_, key, deadline)) {
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
    Futex<Scope>::wake(epoch_, n);
  }
  // True when some thread is between prepare_wait() and the end of wait(). A seq_cst load
  // (a plain load on x86), so a caller may pair it with a seq_cst change of its own state.
  bool has_waiters() const noexcept { return waiters_.load(std::memory_order_seq_cst) != 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
};

// The event count of threads of this process.
using EventCount = BasicEventCount<FutexScope::process_private>;

// What one sleep_once() ended with.
enum class SleepResult { ready, woken, timed_out };

// One turn of the wait loop: announce a waiter, call `announced()` (for a waiter that
// must publish something once it counts as one), recheck `ready()`, sleep until a
// notify or the deadline. `ready` when the recheck held (nothing slept).
template <class EC, class Pred, class Announced>
SleepResult sleep_once(EC& ec, const Deadline& deadline, Pred&& ready, Announced&& announced) {
  auto key = ec.prepare_wait();
  announced();
  if (ready()) {
    ec.cancel_wait();
    return SleepResult::ready;
  }
  return ec.wait(key, deadline) ? SleepResult::woken : SleepResult::timed_out;
}

// The library's one wait loop, after the caller's spin: sleeps on `ec` until `ready()`
// holds (true) or the deadline passes (false, after one last check of `ready()`).
template <class EC, class Pred>
bool sleep_until(EC& ec, const Deadline& deadline, Pred&& ready) {
  for (;;) {
    switch (sleep_once(ec, deadline, ready, [] {})) {
      case SleepResult::ready:
        return true;
      case SleepResult::timed_out:
        return ready();
      case SleepResult::woken:
        if (ready()) return true;
        break;
    }
  }
}

// Waits until `ready()` holds: spins by `policy` (unless the deadline has passed), then
// sleeps on `ec`. False on timeout (after one last check of `ready()`).
template <class EC, class Pred>
bool await(EC& ec, const Deadline& deadline, Pred&& ready,
           const SpinPolicy& policy = SpinPolicy::pause_then_yield()) {
  if (!deadline.expired() && spin(policy, ready)) return true;
  return sleep_until(ec, deadline, ready);
}

}  // namespace gilfree::detail
