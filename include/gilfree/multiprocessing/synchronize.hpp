// gilfree/multiprocessing/synchronize.hpp — multiprocessing's Lock, RLock, Semaphore,
// BoundedSemaphore and Event: process-shared, living in an anonymous shared mapping, built
// on shared futex words (never pthread_cond_t, whose process-shared form hangs when a
// waiter dies: glibc bug 21422).
//
// Robust to a dying process:
// - A Lock/RLock word holds its owner's id (pid for Lock, tid for RLock). A waiter that
//   has slept kRecheck without progress reads /proc to see whether the owner is gone; if
//   so it takes the lock over and owner_died() says so. Nothing hangs.
// - Semaphore/Event waiters never need a wake addressed to them: a waiter killed in
//   acquire()/wait() leaves at most an inflated waiter count (an extra wake syscall), and
//   every sleeper rechecks at least every kRecheck, so a wake lost with a dying waiter
//   costs the others at most that much delay.
//
// Copies are handles to the same shared object (Python objects are references). Passing
// to another process: inherited under fork (the mapping is inherited). NOT yet for
// forkserver/spawn: that needs the object's memory in a memfd sent with the arguments
// (SCM_RIGHTS, as CPython's resource_sharer) — a later step of issue 10.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "../threading.hpp"  // detail::LockableBase: the Lockable/TimedLockable spelling
#include "../timeout.hpp"
#include "exceptions.hpp"

namespace gilfree::multiprocessing {

namespace detail {
struct LockBlock {
  std::atomic<std::uint32_t> word{0};       // 0 free; else owner id | kWaiters
  std::atomic<std::uint32_t> owner_died{0};  // 1 if the current holder took it from the dead
  std::uint32_t count = 0;                   // RLock recursion depth, the owner's only
};
struct SemBlock {
  std::atomic<std::uint32_t> value{0};
  std::atomic<std::uint32_t> waiters{0};
  std::uint32_t max_value = 0;  // BoundedSemaphore's bound; 0 for a plain Semaphore
};
struct CondBlock {
  std::atomic<std::uint32_t> seq{0};      // bumped by each notify: waiters sleep on it
  // High half: waiters in wait() that have not taken a token; low half: wake tokens issued
  // and not yet taken (never more than the waiters). One word, so taking a token and
  // leaving the waiters is one step that notify() cannot see half done.
  std::atomic<std::uint64_t> state{0};
};
struct EventBlock {
  std::atomic<std::uint32_t> flag{0};
  std::atomic<std::uint32_t> waiters{0};
};
}  // namespace detail

// How often a sleeper rechecks on its own (owner liveness, lost wakes).
inline constexpr std::chrono::milliseconds kRecheck{50};

// Lockable and TimedLockable (through the same base as the threading locks).
class Lock : public gilfree::detail::LockableBase<Lock> {
 public:
  // An unlocked lock in new shared memory.
  Lock();

  // Blocks until acquired (or `timeout`), true if acquired; non-blocking with a timeout is
  // a ValueError. Takes over a lock whose owner process is dead (see owner_died()).
  bool acquire(bool block = true, Timeout timeout = {});
  // Unlocks, from any process; ValueError "semaphore or lock released too many times" if
  // it is not locked.
  void release();
  // True while some process holds it.
  bool locked() const noexcept;
  // True if the current holder got the lock from an owner that died holding it; meaningful
  // to the holder, until it releases.
  bool owner_died() const noexcept;


 private:
  std::shared_ptr<detail::LockBlock> b_;
};

// multiprocessing.RLock: recursive; only the owning thread (of the owning process) may
// release it. Takes over from a dead owner thread as Lock does.
class RLock : public gilfree::detail::LockableBase<RLock> {
 public:
  // An unowned lock in new shared memory.
  RLock();

  // Acquires or re-enters (true), or false after `timeout`; non-blocking with a timeout is
  // a ValueError.
  bool acquire(bool block = true, Timeout timeout = {});
  // Leaves one level; AssertionError "attempt to release recursive lock not owned by
  // thread" from any thread but the owner (CPython's multiprocessing error).
  void release();
  // True if the calling thread owns it.
  bool is_owned() const noexcept;
  // As Lock::owner_died().
  bool owner_died() const noexcept;


 private:
  friend class Condition;
  // Releases every level and returns the depth (Condition.wait); the caller owns it.
  std::uint32_t release_save();
  // Reacquires (blocking) and restores the depth saved by release_save().
  void acquire_restore(std::uint32_t depth);
  std::shared_ptr<detail::LockBlock> b_;
};

// multiprocessing.Semaphore: a counter that acquire() decrements, waiting while it is zero.
class Semaphore : public gilfree::detail::LockableBase<Semaphore> {
 public:
  // A semaphore at `value` (ValueError if negative).
  explicit Semaphore(int value = 1);

  // Decrements, waiting up to `timeout` while zero; false on timeout.
  bool acquire(bool block = true, Timeout timeout = {});
  // Increments and wakes one waiter.
  void release();
  // The current value (exact: it is the shared word).
  int get_value() const noexcept;


 protected:
  Semaphore(int value, bool bounded);
  std::shared_ptr<detail::SemBlock> b_;
};

// multiprocessing.BoundedSemaphore: release() past the initial value is a ValueError
// "semaphore or lock released too many times".
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

// multiprocessing.Condition over an RLock (Python's default lock). notify(n) issues up to n
// wake tokens, one per waiter not yet woken, and starts a new generation; a waiter returns
// when it takes a token of a generation after the one it started waiting in (so not
// strictly first-come first-woken, as POSIX's condvar and unlike CPython's FIFO). A waiter
// SIGKILLed in wait() keeps counting as waiting: notify_all() still wakes every live
// waiter, but notify(1) may hand its token to the dead one (the live waiter then waits on,
// to its timeout), and a token left for the dead may end a later wait early (a spurious
// wake-up, which wait_for()'s predicate loop absorbs).
class Condition {
 public:
  // A condition with a new RLock.
  Condition() : Condition(RLock()) {}
  // A condition over `lock` (a handle to the same shared RLock).
  explicit Condition(RLock lock);

  // The lock's acquire/release.
  bool acquire(bool block = true, Timeout timeout = {}) { return lock_.acquire(block, timeout); }
  void release() { lock_.release(); }
  void lock() { lock_.acquire(); }
  void unlock() { lock_.release(); }

  // Releases the lock (every level), waits for a notify or `timeout`, reacquires; false on
  // timeout. RuntimeError "cannot wait on un-acquired lock" unless the caller owns it.
  bool wait(Timeout timeout = {});
  // Waits until pred() holds (checked under the lock) or `timeout`; returns pred().
  template <class Pred>
  bool wait_for(Pred pred, Timeout timeout = {}) {
    const Deadline deadline = timeout.deadline();
    bool ok = pred();
    while (!ok) {
      if (deadline.expired()) break;
      wait(deadline.is_forever() ? Timeout() : Timeout(deadline.remaining()));
      ok = pred();
    }
    return ok;
  }
  // Wakes up to n waiters; RuntimeError "cannot notify on un-acquired lock" unless owned.
  void notify(int n = 1);
  // Wakes every waiter.
  void notify_all();

 private:
  RLock lock_;
  std::shared_ptr<detail::CondBlock> b_;
};

// multiprocessing.Event: a flag that wait() blocks on until some process sets it.
class Event {
 public:
  // A clear event in new shared memory.
  Event();
  // True once set.
  bool is_set() const noexcept;
  // Sets the flag and wakes every waiter, in every process.
  void set();
  // Clears the flag.
  void clear() noexcept;
  // Waits until set or `timeout`; returns the flag.
  bool wait(Timeout timeout = {});

 private:
  std::shared_ptr<detail::EventBlock> b_;
};

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
