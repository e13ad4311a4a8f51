// gilfree/detail/wait/parking.hpp — where a bounded queue's threads wait: an event count
// (poll adaptively, then sleep) whose wake-up side costs one plain load when nobody
// sleeps. EventCount pays a read-modify-write in every notify; here the fence is the
// seq_cst read-modify-write the queue already performs on its head or tail, so a put or
// get that finds no sleeper does no extra atomic work.
//
// Process-private only: the sleep side is a std::mutex and std::condition_variable. A
// queue in shared memory needs a futex-based variant (glibc's process-shared condvar
// hangs when a waiter dies: research/multiprocessing.md, finding 2).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "../../timeout.hpp"
#include "spin.hpp"

namespace gilfree::detail {

// Where threads wait until "something changed" in lock-free state (polling briefly,
// then sleeping), at no cost to the threads that change it while nobody sleeps: a
// wake-up is one load of `sleepers_` unless someone is asleep, and only then touches
// the mutex and condition variable.
// (A futex epoch would do too, but a sleeper that was signalled and has not run yet
// still counts as sleeping, so every put in those 10-30 us would make another
// syscall; a condition variable knows whom it already signalled.)
//
// Contract: the state change a sleeper's predicate reads is a seq_cst read-modify-write
// made before wake_*(), and the predicate reads it with seq_cst loads. Then either the
// waker sees the sleeper counted, or the sleeper's recheck sees the change (all four
// accesses seq_cst forbid the store-buffering outcome), so no wake-up is lost; the mutex
// closes the gap between the sleeper's last check and its wait.
class Parking {
 public:
  // Blocks until `ready()` may hold or the deadline passes: polls first (see poll()),
  // then sleeps. Returns after at most one sleep, spurious wake-ups included; the
  // caller retries its operation, as a Condition's wait loop does.
  template <class Pred>
  void park_until(const Deadline& deadline, Pred&& ready) {
    if (poll(deadline, ready)) return;
    std::unique_lock lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (!ready()) {
      const auto slept_from = std::chrono::steady_clock::now();
      bool woken = true;
      if (deadline.is_forever()) {
        cv_.wait(lock);
      } else {
        woken = cv_.wait_until(lock, deadline.time_point()) == std::cv_status::no_timeout;
      }
      if (woken) adapt(std::chrono::steady_clock::now() - slept_from);
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Wakes one sleeper; one load when there is none.
  void wake_one() noexcept {
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard lock(mutex_); }  // the sleeper is now in wait(), or will see the change
    cv_.notify_one();
  }
  // Wakes every sleeper; one load when there is none.
  void wake_all() noexcept {
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard lock(mutex_); }
    cv_.notify_all();
  }

 private:
  // Polls `ready()` for up to spin_ns_, yielding the core between polls
  // (SpinPolicy::yield_only): on a core with nothing else to run a yield returns in
  // ~0.3 us, so this is a spin; on an oversubscribed machine it hands the core to a
  // runnable thread, which is often the very peer being waited for. (Spinning on pause
  // instead measured 1.5-4x slower here, with two cores shared by more threads; pause
  // alone costs 79 ns on this EPYC.)
  template <class Pred>
  bool poll(const Deadline& deadline, Pred& ready) {
    return spin(SpinPolicy::yield_only(spin_ns_.load(std::memory_order_relaxed)), ready,
                deadline);
  }
  // Adaptive spinning: a sleep that a wake-up ended soon after it began would have been
  // avoided by polling a little longer, so poll longer next time; a long sleep means the
  // other side was really idle, so poll less. Bounded by [base/4, 8 * base], where base
  // is the house budget (detail::spin_budget_ns(), zero on one core: never poll).
  void adapt(std::chrono::steady_clock::duration slept) noexcept {
    const long base = spin_budget_ns();
    if (base <= 0) return;
    const long now = spin_ns_.load(std::memory_order_relaxed);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slept).count();
    if (ns < 2 * now) {
      spin_ns_.store(std::min(2 * now, 8 * base), std::memory_order_relaxed);
    } else if (ns > 16 * now) {
      spin_ns_.store(std::max(now / 2, base / 4), std::memory_order_relaxed);
    }
  }

  alignas(64) std::atomic<std::uint32_t> sleepers_{0};  // read by every put and get
  std::atomic<long> spin_ns_{spin_budget_ns()};         // written only after sleeps
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace gilfree::detail
