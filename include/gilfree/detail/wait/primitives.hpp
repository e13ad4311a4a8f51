// gilfree/detail/wait/primitives.hpp — the waiting cores of Lock, Semaphore and Event, as
// templates on the futex scope.
//
// gilfree::Lock, Semaphore and Event (threading.hpp) are each one of these in the
// process-private scope plus Python's argument checks and errors. The cores are plain
// words with no pointers and no destructor work, so the process_shared instantiation
// may be placed in memory that several processes map (MAP_SHARED before fork, memfd,
// /dev/shm), wherever each maps it.
//
// They take absolute deadlines and never throw; the public classes turn Timeouts into
// deadlines and misuse into Python's exceptions.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>

#include "../../timeout.hpp"
#include "event_count.hpp"
#include "futex.hpp"
#include "spin.hpp"

namespace gilfree::detail {

// A mutex on one futex word (Drepper's "futexes are tricky", mutex 2): 0 unlocked,
// 1 locked, 2 locked and someone may sleep on it. Not owned: any thread (or process)
// may unlock it.
template <FutexScope Scope>
struct BasicLockCore {
  static constexpr std::uint32_t kUnlocked = 0, kLocked = 1, kContended = 2;

  // One attempt to take it.
  bool try_lock() noexcept {
    std::uint32_t expected = kUnlocked;
    return state.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  // After a failed try_lock(): spins (pause only: the holder is running and releases
  // within nanoseconds), then sleeps until it is taken (true) or the deadline (false).
  bool lock_slow(const Deadline& deadline) noexcept {
    if (spin_until([this] {
          return state.load(std::memory_order_relaxed) == kUnlocked && try_lock();
        }))
      return true;
    // Mark the lock contended before sleeping, so the releaser knows to wake someone.
    while (state.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
      if (!Futex<Scope>::wait(state, kContended, deadline))
        return state.exchange(kContended, std::memory_order_acquire) == kUnlocked;
    }
    return true;
  }
  // Unlocks and returns the state it found: kLocked is the fast path; after kContended
  // the caller must call wake_one(); kUnlocked means it was not locked (a misuse).
  std::uint32_t unlock() noexcept { return state.exchange(kUnlocked, std::memory_order_release); }
  // Wakes one sleeper, after unlock() found kContended.
  void wake_one() noexcept { Futex<Scope>::wake(state, 1); }
  // True while held.
  bool locked() const noexcept { return state.load(std::memory_order_relaxed) != kUnlocked; }
  // Unlocked whatever the state, for a fork child whose holder is gone.
  void reinit() noexcept { state.store(kUnlocked, std::memory_order_relaxed); }

  std::atomic<std::uint32_t> state{kUnlocked};
};

// A counting semaphore: a 64-bit count of permits and an event count its takers sleep on.
template <FutexScope Scope>
struct BasicSemaphoreCore {
  // A core holding `permits` (>= 0) permits.
  explicit BasicSemaphoreCore(std::int64_t permits = 0) noexcept : value(permits) {}

  // Takes a permit if one is free.
  bool try_take() noexcept {
    std::int64_t v = value.load(std::memory_order_relaxed);
    while (v > 0) {
      if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return true;
    }
    return false;
  }
  // After a failed try_take(): spins, then sleeps until a permit is taken (true) or the
  // deadline (false).
  bool take_slow(const Deadline& deadline) {
    return await(ec, deadline, [this] { return try_take(); });
  }
  // Returns `n` (>= 1) permits and wakes up to `n` takers.
  void give(std::int64_t n) noexcept {
    value.fetch_add(n, std::memory_order_release);
    wake(n);
  }
  // Wakes up to `n` takers, after `value` grew by `n`.
  void wake(std::int64_t n) noexcept {
    ec.notify(static_cast<int>(n < INT_MAX ? n : INT_MAX));
  }

  std::atomic<std::int64_t> value;
  BasicEventCount<Scope> ec;
};

// A flag that waiters sleep on until it is raised. Bit 0 of `state` is the flag; above
// it, how many times set() raised it, so that a waiter can tell "set and cleared again"
// from "never set" (Python's bpo-13502: a waiter a set() woke returns true).
template <FutexScope Scope>
struct BasicEventCore {
  static constexpr std::uint32_t kSet = 1, kGeneration = 2;

  // True while the flag is up.
  bool is_set() const noexcept { return (state.load(std::memory_order_acquire) & kSet) != 0; }
  // Raises the flag and wakes every waiter (nothing to do when it is already up).
  void set() noexcept {
    std::uint32_t s = state.load(std::memory_order_relaxed);
    do {
      if (s & kSet) return;  // already set: nobody is waiting for this flag
    } while (!state.compare_exchange_weak(s, (s + kGeneration) | kSet, std::memory_order_release,
                                          std::memory_order_relaxed));
    ec.notify_all();
  }
  // Lowers the flag.
  void clear() noexcept { state.fetch_and(~kSet, std::memory_order_relaxed); }
  // Waits until the flag is raised (true: by a set() during the wait, even one already
  // undone by clear()) or the deadline (false).
  bool wait(const Deadline& deadline) {
    const std::uint32_t start = state.load(std::memory_order_acquire);
    if (start & kSet) return true;
    return await(ec, deadline, [this, start] {
      return state.load(std::memory_order_acquire) != start;  // set, or set and cleared
    });
  }
  // Forgets the waiters (threads of a parent, in a fork child); the flag stays.
  void reinit() noexcept { std::construct_at(&ec); }

  std::atomic<std::uint32_t> state{0};
  BasicEventCount<Scope> ec;
};

}  // namespace gilfree::detail
