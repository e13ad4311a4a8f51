// gilfree/detail/spinlock.hpp — a one-byte lock for critical sections of a few loads and
// stores (a future's callback lists, a task queue's consumer end). It spins politely and
// yields the CPU after a while, because on a 2-core machine the holder may be preempted.
#pragma once

#include <atomic>
#include <thread>

#include "wait/spin.hpp"

namespace gilfree::detail {

class SpinLock {
 public:
  // Acquires the lock; spins, then yields between attempts.
  void lock() noexcept {
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  // Acquires the lock if it is free; never waits.
  bool try_lock() noexcept {
    return !flag_.load(std::memory_order_relaxed) &&
           !flag_.exchange(true, std::memory_order_acquire);
  }
  // Releases the lock; the caller must hold it.
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }
  // True while some thread holds the lock (a hint).
  bool is_locked() const noexcept { return flag_.load(std::memory_order_relaxed); }

 private:
  void lock_slow() noexcept {
    for (int spins = 0;; ++spins) {
      while (flag_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
      if (!flag_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  std::atomic<bool> flag_{false};
};

}  // namespace gilfree::detail
