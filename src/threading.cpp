#include "gilfree/threading.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <typeinfo>

namespace gilfree {

// ---- Lock -----------------------------------------------------------------------------

bool Lock::acquire_slow(bool blocking, const Timeout& timeout) {
  if (!blocking || timeout.duration().count() == 0) return false;
  return core_.lock_slow(timeout.deadline());
}

void Lock::release_slow(std::uint32_t prev) {
  if (prev == Core::kUnlocked) throw RuntimeError("release unlocked lock");
  core_.wake_one();
}

// ---- RLock ----------------------------------------------------------------------------

bool RLock::acquire(bool blocking, Timeout timeout) {
  if (!blocking && !timeout.is_forever())
    throw ValueError("can't specify a timeout for a non-blocking call");
  const auto me = get_ident();
  if (owner_.load(std::memory_order_relaxed) == me) {
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }
  if (!lock_.acquire(blocking, timeout)) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_.store(1, std::memory_order_relaxed);
  return true;
}

void RLock::release() {
  if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
  const std::size_t depth = count_.load(std::memory_order_relaxed) - 1;
  count_.store(depth, std::memory_order_relaxed);
  if (depth == 0) {
    owner_.store(0, std::memory_order_relaxed);
    lock_.release();
  }
}

std::size_t RLock::release_save() {
  if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
  std::size_t depth = count_.load(std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  owner_.store(0, std::memory_order_relaxed);
  lock_.release();
  return depth;
}

void RLock::acquire_restore(std::size_t depth) {
  lock_.acquire();
  owner_.store(get_ident(), std::memory_order_relaxed);
  count_.store(depth, std::memory_order_relaxed);
}

// ---- Condition ------------------------------------------------------------------------

// A thread blocked in wait(): a node of the condition's FIFO, on the waiter's stack.
// The list is guarded by the condition's lock; `state` is the hand-off to the sleeper.
struct Condition::Waiter {
  static constexpr std::uint32_t kWaiting = 0, kNotified = 1, kSleeping = 2;
  std::atomic<std::uint32_t> state{kWaiting};
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
};

const Condition::Ops Condition::lock_ops = {
    [](void* l, bool blocking, const Timeout& t) {
      return static_cast<Lock*>(l)->acquire(blocking, t);
    },
    [](void* l) { static_cast<Lock*>(l)->release(); },
    [](void* l) { return static_cast<Lock*>(l)->locked(); },
    [](void* l) -> std::size_t { return static_cast<Lock*>(l)->release(), 0; },
    [](void* l, std::size_t) { static_cast<Lock*>(l)->acquire(); },
};

const Condition::Ops Condition::rlock_ops = {
    [](void* l, bool blocking, const Timeout& t) {
      return static_cast<RLock*>(l)->acquire(blocking, t);
    },
    [](void* l) { static_cast<RLock*>(l)->release(); },
    [](void* l) { return static_cast<RLock*>(l)->is_owned(); },
    [](void* l) { return static_cast<RLock*>(l)->release_save(); },
    [](void* l, std::size_t depth) { static_cast<RLock*>(l)->acquire_restore(depth); },
};

Condition::Condition()
    : own_lock_(std::make_unique<RLock>()), lock_(own_lock_.get()), ops_(&rlock_ops) {}
Condition::Condition(Lock& lock) : lock_(&lock), ops_(&lock_ops) {}
Condition::Condition(RLock& lock) : lock_(&lock), ops_(&rlock_ops) {}
Condition::~Condition() = default;

void Condition::check_owned(const char* what) const {
  if (!ops_->is_owned(lock_)) throw RuntimeError(what);
}

bool Condition::wait(Timeout timeout) {
  check_owned("cannot wait on un-acquired lock");
  const Deadline deadline = timeout.deadline();
  Waiter self;
  // Enqueue while holding the lock, so a notify after our release cannot miss us.
  self.prev = tail_;
  (tail_ ? tail_->next : head_) = &self;
  tail_ = &self;
  n_waiters_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t saved = ops_->release_save(lock_);

  auto notified = [&] {
    return self.state.load(std::memory_order_acquire) == Waiter::kNotified;
  };
  if (!(deadline.expired() || detail::spin_then_yield_until(notified))) {
    std::uint32_t expected = Waiter::kWaiting;
    if (self.state.compare_exchange_strong(expected, Waiter::kSleeping,
                                           std::memory_order_acq_rel)) {
      while (self.state.load(std::memory_order_acquire) == Waiter::kSleeping &&
             detail::futex_wait(self.state, Waiter::kSleeping, deadline)) {
      }
    }
  }
  ops_->acquire_restore(lock_, saved);
  // A notify that raced with our timeout still counts: the notifier dequeued us.
  if (notified()) return true;
  n_waiters_.fetch_sub(1, std::memory_order_relaxed);
  (self.prev ? self.prev->next : head_) = self.next;
  (self.next ? self.next->prev : tail_) = self.prev;
  return false;
}

void Condition::notify(std::size_t n) {
  check_owned("cannot notify on un-acquired lock");
  while (head_ && n-- > 0) {
    Waiter* w = head_;
    head_ = w->next;
    (head_ ? head_->prev : tail_) = nullptr;
    n_waiters_.fetch_sub(1, std::memory_order_relaxed);
    // The waiter cannot return before it re-acquires the lock we hold, so `w` stays valid.
    if (w->state.exchange(Waiter::kNotified, std::memory_order_acq_rel) == Waiter::kSleeping)
      detail::futex_wake(w->state, 1);
  }
}

void Condition::notify_all() { notify(SIZE_MAX); }

// ---- Semaphore ------------------------------------------------------------------------

Semaphore::Semaphore(std::int64_t value) : core_(value) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
}

bool Semaphore::acquire_slow(bool blocking, const Timeout& timeout) {
  if (!blocking || timeout.duration().count() == 0) return false;
  return core_.take_slow(timeout.deadline());
}

void Semaphore::release(std::int64_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  core_.give(n);
}

void BoundedSemaphore::release(std::int64_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  std::int64_t v = core_.value.load(std::memory_order_relaxed);
  do {
    if (v + n > initial_) throw ValueError("Semaphore released too many times");
  } while (!core_.value.compare_exchange_weak(v, v + n, std::memory_order_release,
                                              std::memory_order_relaxed));
  core_.wake(n);
}

// ---- Timer ----------------------------------------------------------------------------

Timer::~Timer() {
  // run() uses this object's members: wait for it here, before they are destroyed. As in
  // Python, a non-daemon timer still fires; a daemon one (not waited for at exit) is
  // cancelled.
  if (is_alive() && get_ident() != ident()) {
    if (daemon()) cancel();
    join();
  }
}

void Timer::run() {
  // As Python: a cancel() during the interval, or one that lands just as it ends, wins.
  if (!finished_.wait(interval_) && !finished_.is_set()) action_();
  finished_.set();
}

// ---- Barrier --------------------------------------------------------------------------

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)), default_timeout_(timeout), parties_(parties) {
  if (parties < 1) throw ValueError("parties must be > 0");
}

std::size_t Barrier::wait(Timeout timeout) { return wait_impl(timeout, nullptr, nullptr); }

std::size_t Barrier::wait(Timeout timeout, Timeout every, const std::function<void()>& poll) {
  return wait_impl(timeout, &every, &poll);
}

std::size_t Barrier::wait_impl(const Timeout& timeout, const Timeout* every,
                               const std::function<void()>* poll) {
  std::scoped_lock guard(lock_);
  enter();  // blocks while the previous cycle drains or resets
  const std::size_t index = count_++;
  struct Leave {
    Barrier* b;
    ~Leave() {
      --b->count_;
      b->exit();
    }
  } leave{this};
  if (index + 1 == parties_)
    release_all();
  else
    wait_released(timeout, every, poll);
  return index;
}

void Barrier::enter() {
  while (state_ == State::draining || state_ == State::resetting) cond_.wait();
  if (state_ == State::broken) throw BrokenBarrierError();
}

void Barrier::release_all() {
  try {
    if (action_) action_();
    state_ = State::draining;
    cond_.notify_all();
  } catch (...) {
    break_barrier();
    throw;
  }
}

void Barrier::wait_released(const Timeout& timeout, const Timeout* every,
                            const std::function<void()>* poll) {
  auto released = [this] { return state_ != State::filling; };
  const Deadline deadline = timeout.deadline();
  bool done = false;
  for (;;) {
    Timeout step = deadline.is_forever() ? Timeout() : Timeout(deadline.remaining());
    if (every && (step.is_forever() || step.duration() > every->duration())) step = *every;
    done = cond_.wait_for(released, step);
    if (done || deadline.expired() || !every) break;
    // Poll without the lock: what it runs may call this barrier.
    lock_.release();
    try {
      (*poll)();
    } catch (...) {
      lock_.acquire();
      throw;
    }
    lock_.acquire();
  }
  if (!done) {
    break_barrier();
    throw BrokenBarrierError();
  }
  if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError();
}

void Barrier::exit() {
  if (count_ == 0 && (state_ == State::resetting || state_ == State::draining)) {
    state_ = State::filling;
    cond_.notify_all();
  }
}

void Barrier::reset() {
  std::scoped_lock guard(lock_);
  if (count_ > 0) {
    if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
  } else {
    state_ = State::filling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::scoped_lock guard(lock_);
  break_barrier();
}

void Barrier::break_barrier() {
  state_ = State::broken;
  cond_.notify_all();
}

}  // namespace gilfree
