// gilfree/multiprocessing/synchronize.hpp — multiprocessing's Lock, RLock, Semaphore,
// BoundedSemaphore, Condition, Event and Barrier: process-shared, living in memfd-backed
// shared memory, built on shared futex words (never pthread_cond_t, whose process-shared
// form hangs when a waiter dies: glibc bug 21422).
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
// to another process works under every start method: `mp::Process(ctx, fn, lock, event)`.
// Under fork the mapping is inherited; under forkserver and spawn the handle crosses as a
// reference to its memfd, whose descriptor travels with the start (as a Connection's does),
// so the child needs nothing from the sender once started. Sent any other way (through a
// Queue or a Pipe) the child opens the sender's descriptor through /proc/<sender>/fd
// (checked against a random id), so the sender must keep the object alive until then.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "../threading.hpp"  // detail::LockableBase: the Lockable/TimedLockable spelling
#include "../timeout.hpp"
#include "detail/shared_futex.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"

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
// A Barrier's state: Python's threading.Barrier state machine under a pid-owned lock, plus
// one pid slot per party (who is inside wait()), followed in memory by `parties` slots.
struct BarrierBlock {
  LockBlock mu;
  std::atomic<std::uint32_t> seq{0};    // bumped by every notify: sleepers wait on it
  std::atomic<std::int32_t> state{0};   // 0 filling, 1 draining, -1 resetting, -2 broken
  std::atomic<std::uint32_t> count{0};  // parties inside wait() (Python's _count)
  std::uint32_t parties = 0;
  std::int64_t timeout_ns = -1;         // the default timeout; -1 forever
  std::atomic<std::int32_t>* slots() noexcept {
    return reinterpret_cast<std::atomic<std::int32_t>*>(this + 1);
  }
};
}  // namespace detail

// How often a sleeper rechecks on its own (owner liveness, lost wakes).
inline constexpr std::chrono::milliseconds kRecheck{50};

// Lockable and TimedLockable (through the same base as the threading locks).
class Lock : public gilfree::detail::LockableBase<Lock>,
             public detail::BlockHandle<detail::LockBlock> {
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
};

// multiprocessing.RLock: recursive; only the owning thread (of the owning process) may
// release it. Takes over from a dead owner thread as Lock does.
class RLock : public gilfree::detail::LockableBase<RLock>,
              public detail::BlockHandle<detail::LockBlock> {
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
};

// multiprocessing.Semaphore: a counter that acquire() decrements, waiting while it is zero.
class Semaphore : public gilfree::detail::LockableBase<Semaphore>,
                  public detail::BlockHandle<detail::SemBlock> {
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
class Condition : public detail::BlockHandle<detail::CondBlock> {
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

  // The wire form: the lock and the condition's block.
  template <class A>
  void save(A& ar) const {
    ar(lock_);
    BlockHandle::save(ar);
  }
  template <class A>
  void load(A& ar) {
    ar(lock_);
    BlockHandle::load(ar);
  }

 private:
  RLock lock_;
};

// multiprocessing.Event: a flag that wait() blocks on until some process sets it.
class Event : public detail::BlockHandle<detail::EventBlock> {
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
};

// multiprocessing.Barrier: `parties` processes (or threads) meet in wait(); the last to
// arrive runs `action` (if any) and releases the others; the barrier then resets itself.
// Python's states, indexes and errors (BrokenBarrierError on abort, reset while waiting, a
// wait that times out, a failing action).
//
// Robust to a dying party: a process SIGKILLed inside wait() breaks the barrier (it can no
// longer take part), so the live waiters get BrokenBarrierError within about kRecheck
// instead of waiting forever; a process that dies holding the barrier's internal lock also
// breaks it (its update may be half done). A party that dies before arriving cannot be told
// from a slow one: the others wait until their timeout, then break the barrier for
// everyone, as Python. The action runs in the process that arrives last; to cross to a
// forkserver or spawn child it must be a plain function (PicklingError otherwise).
class Barrier {
 public:
  // ValueError "parties must be > 0" when parties < 1. `timeout` is the default for wait().
  explicit Barrier(std::size_t parties, std::function<void()> action = {}, Timeout timeout = {});
  // An empty handle, only to be assigned or read from a message (a Process argument);
  // any other use is a ValueError.
  Barrier() = default;

  // Waits for all parties with the default timeout; returns this party's arrival index,
  // 0 .. parties-1. BrokenBarrierError if the barrier is or becomes broken.
  std::size_t wait() { return wait(default_timeout()); }
  // As wait(), with an explicit timeout (past it the barrier breaks for everyone).
  std::size_t wait(Timeout timeout);
  // Returns the barrier to its empty state; parties waiting get BrokenBarrierError.
  void reset();
  // Breaks the barrier: current and future wait() calls raise BrokenBarrierError.
  void abort();
  // The number of parties required to pass the barrier.
  std::size_t parties() const;
  // The timeout wait() uses when given none.
  Timeout default_timeout() const;
  // The number of parties currently waiting (0 unless the barrier is filling).
  std::size_t n_waiting() const;
  // True when the barrier is broken.
  bool broken() const;

  // The wire form (a Process argument under forkserver/spawn): the shared block and the
  // action's identity.
  template <class A>
  void save(A& ar) const {
    ar(block_ref(), action_ref());
  }
  template <class A>
  void load(A& ar) {
    detail::SharedRef ref;
    std::optional<detail::FunctionRef> action;
    ar(ref, action);
    attach(ref, action);
  }

 private:
  detail::BarrierBlock& b() const;
  detail::SharedRef block_ref() const;
  std::optional<detail::FunctionRef> action_ref() const;
  void attach(const detail::SharedRef& ref, const std::optional<detail::FunctionRef>& action);
  std::shared_ptr<detail::BarrierBlock> b_;
  std::function<void()> action_;
};

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
