// gilfree/detail/wait/parking.hpp — where a bounded queue's threads wait: poll adaptively,
// then sleep on the futex (futex.hpp), with a wake-up side that costs one plain load when
// nobody sleeps. EventCount pays a read-modify-write in every notify; here the fence is
// the seq_cst read-modify-write the queue already performs on its head or tail, so a put
// or get that finds no sleeper does no extra atomic work.
//
// The futex word counts sleepers and wake tokens together:
//
//   bits 0-15   sleepers: threads that announced themselves and hold no token yet;
//   bits 16-31  tokens:   wake-ups handed out and not yet taken.
//
// A waker moves sleepers to tokens in one compare-and-swap and then wakes as many threads;
// a sleeper leaves by taking a token (or, when it gives up on its own, by taking a token
// if one is there, else its sleeper count). So sleepers + tokens is always the number of
// threads inside park_until(), and a sleeper that was signalled but has not run yet no
// longer counts as asleep: the next put in those 10-30 us of wake-up latency sees no
// sleeper and makes no syscall (the reason this is not a plain EventCount epoch).
//
// Nothing in it is a pointer, so BasicParking<FutexScope::process_shared> may live in
// memory shared between processes.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

#include "../../timeout.hpp"
#include "futex.hpp"
#include "spin.hpp"

namespace gilfree::detail {

// Where threads wait until "something changed" in lock-free state (polling briefly,
// then sleeping), at no cost to the threads that change it while nobody sleeps: a
// wake-up is one load of the futex word unless someone is asleep.
//
// Contract: the state change a sleeper's predicate reads is a seq_cst read-modify-write
// made before wake_*(), and the predicate reads it with seq_cst loads. The sleeper
// announces itself with a seq_cst read-modify-write of the word and the waker reads the
// word with a seq_cst load, so either the waker sees the sleeper or the sleeper's recheck
// sees the change (all four accesses seq_cst forbid the store-buffering outcome); the
// futex closes the gap between the sleeper's last check and its sleep, since any change
// of the word after the announcement makes the sleep return at once.
// At most 65535 threads may park on one Parking at a time.
template <FutexScope Scope>
class BasicParking {
 public:
  // Blocks until `ready()` may hold or the deadline passes: polls first (see poll()),
  // then sleeps until a wake-up reaches this thread, `ready()` holds on a recheck, or
  // the deadline. May return spuriously; the caller retries its operation, as a
  // Condition's wait loop does.
  template <class Pred>
  void park_until(const Deadline& deadline, Pred&& ready) {
    if (poll(deadline, ready)) return;
    std::uint32_t cur = word_.fetch_add(kSleeper, std::memory_order_seq_cst) + kSleeper;
    const auto slept_from = std::chrono::steady_clock::now();
    bool timed_out = false, slept = false;
    for (;;) {
      if (cur >= kToken) {  // a wake-up is waiting to be taken: it is ours
        if (word_.compare_exchange_weak(cur, cur - kToken, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
          if (slept) adapt(std::chrono::steady_clock::now() - slept_from);
          return;
        }
        continue;
      }
      if (timed_out || ready()) break;
      slept = true;
      if (!Futex<Scope>::wait(word_, cur, deadline)) timed_out = true;
      cur = word_.load(std::memory_order_acquire);
    }
    leave();
  }
  // Wakes one sleeper; one load when there is none.
  void wake_one() noexcept {
    std::uint32_t cur = word_.load(std::memory_order_seq_cst);
    while ((cur & kSleepers) != 0) {
      if (word_.compare_exchange_weak(cur, cur - kSleeper + kToken, std::memory_order_release,
                                      std::memory_order_relaxed)) {
        Futex<Scope>::wake(word_, 1);
        return;
      }
    }
  }
  // Wakes every sleeper; one load when there is none.
  void wake_all() noexcept {
    std::uint32_t cur = word_.load(std::memory_order_seq_cst);
    while ((cur & kSleepers) != 0) {
      const std::uint32_t n = cur & kSleepers;
      if (word_.compare_exchange_weak(cur, cur - n * kSleeper + n * kToken,
                                      std::memory_order_release, std::memory_order_relaxed)) {
        Futex<Scope>::wake(word_, INT_MAX);
        return;
      }
    }
  }
  // Threads that announced a sleep and were not woken yet (a snapshot, for tests).
  std::uint32_t sleepers() const noexcept { return word_.load() & kSleepers; }
  // Wake-ups handed out and not yet taken (a snapshot, for tests).
  std::uint32_t tokens() const noexcept { return word_.load() / kToken; }

 private:
  static constexpr std::uint32_t kSleeper = 1, kSleepers = 0xffff, kToken = 0x10000;

  // Leaves without a wake-up of our own (timed out, or the recheck held): a token, if one
  // is there, is taken rather than our sleeper count. The thread the kernel woke for that
  // token may be this one, leaving by its deadline at the same moment; taking the token
  // leaves the others counted as sleepers, so the next wake-up still reaches them. (Taking
  // our count instead would strand the token with nobody awake to take it.)
  void leave() noexcept {
    std::uint32_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint32_t next = cur >= kToken ? cur - kToken : cur - kSleeper;
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return;
    }
  }
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

  alignas(64) std::atomic<std::uint32_t> word_{0};  // read by every put and get
  std::atomic<long> spin_ns_{spin_budget_ns()};     // written only after sleeps
};

// The parking of threads of this process (the bounded gilfree::Queue's).
using Parking = BasicParking<FutexScope::process_private>;

}  // namespace gilfree::detail
