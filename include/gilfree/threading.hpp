// gilfree/threading.hpp — Python's `threading` module in C++.
//
// Thread, current_thread, main_thread, enumerate, active_count, get_ident, get_native_id,
// excepthook, local, Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Timer,
// Barrier — with Python's names, states, errors and messages (see DESIGN.md).
//
// Every blocking call takes a gilfree::Timeout: default = forever, zero = don't block.
// All waiting goes through detail/wait/ (futex, EventCount, the spin policy): a short
// spin, then a futex sleep; a releasing thread makes no syscall when nobody sleeps. Lock,
// Semaphore and Event are the process-private instances of detail/wait/primitives.hpp's
// cores, whose process-shared instances may live in shared memory.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/wait/event_count.hpp"
#include "detail/wait/primitives.hpp"
#include "errors.hpp"
#include "timeout.hpp"

namespace gilfree {

class Thread;

// ---- thread identity ------------------------------------------------------------------

// The calling thread's identifier (pthread_self), as threading.get_ident(). Values may be
// reused after a thread exits.
std::uint64_t get_ident() noexcept;

// The kernel's thread id (gettid) of the calling thread, as threading.get_native_id().
std::uint64_t get_native_id() noexcept;

namespace detail {

// Type-erased, move-only `void()` callable: the target of a Thread or Timer.
class Task {
 public:
  Task() = default;
  template <class F, class... Args>
  static Task bind(F&& f, Args&&... args) {
    auto call = [fn = std::forward<F>(f),
                 tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
      std::apply(fn, std::move(tup));
    };
    Task t;
    t.impl_ = std::make_unique<Impl<decltype(call)>>(std::move(call));
    return t;
  }
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  void operator()() { impl_->call(); }
  void reset() noexcept { impl_.reset(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F f) : fn(std::move(f)) {}
    void call() override { fn(); }
    F fn;
  };
  std::unique_ptr<Base> impl_;
};

struct ThreadState;  // src/thread.cpp

}  // namespace detail

// ---- Lock -----------------------------------------------------------------------------

namespace detail {

// The standard library's Lockable / TimedLockable spelling of Python's acquire/release, for
// a class with `acquire(bool blocking, Timeout)` and `release()` (CRTP): std::scoped_lock,
// std::unique_lock and std::condition_variable_any then work with it.
template <class Derived>
class LockableBase {
 public:
  void lock() { self().acquire(); }
  void unlock() { self().release(); }
  bool try_lock() { return self().acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return self().acquire(true, d < d.zero() ? Timeout::zero() : Timeout(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return try_lock_for(t - Clock::now());
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace detail

// A primitive lock, as threading.Lock: not owned, so any thread may release it.
// Lockable and TimedLockable, so std::scoped_lock / std::unique_lock work with it.
class Lock : public detail::LockableBase<Lock> {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // Blocks until the lock is acquired; always true (Python's acquire() with no arguments).
  bool acquire() { return acquire(true, Timeout{}); }
  // Acquires the lock, blocking up to `timeout`; true when acquired. With
  // blocking=false a timeout other than forever is a ValueError, as in Python.
  [[nodiscard]] bool acquire(bool blocking, Timeout timeout = {}) {
    if (!blocking && !timeout.is_forever())
      throw ValueError("can't specify a timeout for a non-blocking call");
    if (core_.try_lock()) return true;
    return acquire_slow(blocking, timeout);
  }
  // Releases the lock (from any thread); RuntimeError "release unlocked lock" if unlocked.
  void release() {
    const std::uint32_t prev = core_.unlock();
    if (prev != Core::kLocked) release_slow(prev);
  }
  // True while some thread holds the lock.
  bool locked() const noexcept { return core_.locked(); }
  // Makes the lock unlocked whatever its state, for a forked child whose other threads
  // (one of which may have held it) are gone (Python's private _at_fork_reinit()).
  void at_fork_reinit() noexcept { core_.reinit(); }

 private:
  using Core = detail::BasicLockCore<detail::FutexScope::process_private>;
  bool acquire_slow(bool blocking, const Timeout& timeout);
  void release_slow(std::uint32_t prev);

  Core core_;  // one futex word
};

// ---- RLock ----------------------------------------------------------------------------

// A reentrant lock, as threading.RLock: owned by the thread that acquired it, which may
// acquire it again; it is free once released as many times as acquired.
class RLock : public detail::LockableBase<RLock> {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  // Blocks until the lock is acquired (or re-entered); always true.
  bool acquire() { return acquire(true, Timeout{}); }
  // Acquires (or re-enters) the lock, blocking up to `timeout`; true when acquired.
  [[nodiscard]] bool acquire(bool blocking, Timeout timeout = {});
  // Undoes one acquire; RuntimeError "cannot release un-acquired lock" for a non-owner.
  void release();
  // True while some thread holds the lock.
  bool locked() const noexcept { return lock_.locked(); }
  // True when the calling thread holds the lock (Python's private _is_owned()).
  bool is_owned() const noexcept {
    return owner_.load(std::memory_order_relaxed) == get_ident();
  }
  // The recursion depth when the caller owns the lock, else 0 (Python's
  // _recursion_count()).
  std::size_t count() const noexcept {
    return is_owned() ? count_.load(std::memory_order_relaxed) : 0;
  }
  // A snapshot for display from any thread, as the repr of Python's RLock shows:
  // get_ident() of the owner (0 when free) and its recursion depth.
  std::uint64_t owner() const noexcept { return owner_.load(std::memory_order_relaxed); }
  std::size_t owner_count() const noexcept { return count_.load(std::memory_order_relaxed); }

  // Releases every level at once and returns the depth, for Condition.wait
  // (Python's _release_save). The caller must own the lock.
  std::size_t release_save();
  // Re-acquires with the depth release_save() returned (Python's _acquire_restore).
  void acquire_restore(std::size_t depth);
  // Makes the lock free and unowned, in a forked child (Python's _at_fork_reinit()).
  void at_fork_reinit() noexcept {
    owner_.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    lock_.at_fork_reinit();
  }

 private:
  Lock lock_;
  std::atomic<std::uint64_t> owner_{0};  // get_ident() of the owner, 0 when free
  // Written only by the owner; atomic (relaxed) so that owner_count() may read it.
  std::atomic<std::size_t> count_{0};
};

// ---- Condition ------------------------------------------------------------------------

// A condition variable bound to a lock, as threading.Condition. Waiters are woken in
// FIFO order and never spuriously: wait() returns true only after a notify (or false
// after its timeout). The condition is itself Lockable through its lock.
class Condition : public detail::LockableBase<Condition> {
 public:
  // A condition with its own RLock, Python's default.
  Condition();
  // A condition over `lock`, which must outlive it.
  explicit Condition(Lock& lock);
  explicit Condition(RLock& lock);
  // A condition over any Lockable (std::mutex, a process lock, ...).
  template <class L>
    requires(!std::same_as<L, Lock> && !std::same_as<L, RLock> && requires(L& l) {
      l.lock();
      l.unlock();
      { l.try_lock() } -> std::convertible_to<bool>;
    })
  explicit Condition(L& lock) : lock_(&lock), ops_(&generic_ops<L>) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  // Blocks until the underlying lock is acquired; always true.
  bool acquire() { return acquire(true, Timeout{}); }
  // Acquires the underlying lock, blocking up to `timeout`; true when acquired.
  [[nodiscard]] bool acquire(bool blocking, Timeout timeout = {}) {
    return ops_->acquire(lock_, blocking, timeout);
  }
  // Releases the underlying lock.
  void release() { ops_->release(lock_); }
  // Releases the lock, sleeps until notified, re-acquires the lock; always true.
  // RuntimeError "cannot wait on un-acquired lock" if not held.
  bool wait() { return wait(Timeout{}); }
  // Releases the lock, sleeps until notified or `timeout` passes, re-acquires the lock.
  // True when notified. RuntimeError "cannot wait on un-acquired lock" if not held.
  [[nodiscard]] bool wait(Timeout timeout);
  // Waits until `predicate()` is true or `timeout` passes; returns the last value of the
  // predicate, as Python's wait_for.
  template <class Pred>
  bool wait_for(Pred predicate, Timeout timeout = {}) {
    return static_cast<bool>(
        wait_for(predicate, timeout, [this](const Timeout& t) { return wait(t); }));
  }
  // Python's wait_for loop in full: the predicate's last value is returned as it is (any
  // type testable with static_cast<bool>), and each wait is `wait_once(Timeout)` (which
  // must wait on this condition, as wait() does, perhaps in slices). As in Python, a false
  // predicate is waited for at least once, so an un-acquired lock raises RuntimeError
  // even with a zero timeout.
  template <class Pred, class Wait>
  auto wait_for(Pred&& predicate, Timeout timeout, Wait&& wait_once) {
    std::optional<Deadline> deadline;
    Timeout step = timeout;
    auto result = predicate();
    while (!static_cast<bool>(result)) {
      if (!timeout.is_forever()) {
        if (!deadline) {
          deadline = timeout.deadline();
        } else {
          if (deadline->expired()) break;
          step = Timeout(deadline->remaining());
        }
      }
      wait_once(step);
      result = predicate();
    }
    return result;
  }
  // Wakes up to `n` waiters (the longest-waiting first). The lock must be held.
  void notify(std::size_t n = 1);
  // Wakes every waiter. The lock must be held.
  void notify_all();
  // Forgets every waiter, in a forked child where the waiting threads no longer exist
  // (Python's Condition._at_fork_reinit() clears its waiter list likewise).
  void at_fork_reinit() noexcept {
    head_ = tail_ = nullptr;
    n_waiters_.store(0, std::memory_order_relaxed);
  }
  // How many threads wait() now (a snapshot, readable without the lock, as the
  // len(self._waiters) of Python's repr).
  std::size_t n_waiters() const noexcept { return n_waiters_.load(std::memory_order_relaxed); }

 private:
  struct Waiter;
  struct Ops {
    bool (*acquire)(void*, bool, const Timeout&);
    void (*release)(void*);
    bool (*is_owned)(void*);
    std::size_t (*release_save)(void*);
    void (*acquire_restore)(void*, std::size_t);
  };
  template <class L>
  static bool generic_acquire(void* l, bool blocking, const Timeout& timeout) {
    auto& lk = *static_cast<L*>(l);
    if (!blocking) return lk.try_lock();
    if (timeout.is_forever()) return lk.lock(), true;
    if constexpr (requires { lk.try_lock_for(std::chrono::nanoseconds(0)); }) {
      return lk.try_lock_for(timeout.duration());
    } else {
      Deadline d = timeout.deadline();  // plain Lockable: poll until the deadline
      while (!lk.try_lock()) {
        if (d.expired()) return false;
        std::this_thread::yield();
      }
      return true;
    }
  }
  template <class L>
  static constexpr Ops generic_ops = {
      &generic_acquire<L>,
      [](void* l) { static_cast<L*>(l)->unlock(); },
      // Python's fallback _is_owned(): held by somebody, presumably the caller.
      [](void* l) {
        auto& lk = *static_cast<L*>(l);
        if (lk.try_lock()) return lk.unlock(), false;
        return true;
      },
      [](void* l) -> std::size_t { return static_cast<L*>(l)->unlock(), 0; },
      [](void* l, std::size_t) { static_cast<L*>(l)->lock(); },
  };
  static const Ops lock_ops;
  static const Ops rlock_ops;

  void check_owned(const char* what) const;

  std::unique_ptr<RLock> own_lock_;  // set when the condition made its own lock
  void* lock_;
  const Ops* ops_;
  Waiter* head_ = nullptr;  // FIFO of sleeping waiters, guarded by the lock itself
  Waiter* tail_ = nullptr;
  std::atomic<std::size_t> n_waiters_{0};  // the FIFO's length, changed under the lock
};

// ---- Semaphore ------------------------------------------------------------------------

// A counting semaphore, as threading.Semaphore. Lockable (lock = acquire, unlock = release).
class Semaphore : public detail::LockableBase<Semaphore> {
 public:
  // A semaphore holding `value` permits; ValueError "semaphore initial value must be >= 0".
  explicit Semaphore(std::int64_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  // Blocks until a permit is free and takes it; always true.
  bool acquire() { return acquire(true, Timeout{}); }
  // Takes a permit, blocking up to `timeout` while none is free; true when taken.
  [[nodiscard]] bool acquire(bool blocking, Timeout timeout = {}) {
    if (!blocking && !timeout.is_forever())
      throw ValueError("can't specify timeout for non-blocking acquire");
    if (core_.try_take()) return true;
    return acquire_slow(blocking, timeout);
  }
  // Returns `n` permits and wakes up to `n` waiters; ValueError "n must be one or more".
  virtual void release(std::int64_t n = 1);
  // The number of free permits now (a snapshot).
  std::int64_t value() const noexcept { return core_.value.load(std::memory_order_relaxed); }

 protected:
  // The permits (`core_.value`) and the takers' event count.
  detail::BasicSemaphoreCore<detail::FutexScope::process_private> core_;

 private:
  bool acquire_slow(bool blocking, const Timeout& timeout);
};

// A semaphore that refuses to grow past its initial value, as threading.BoundedSemaphore.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value), initial_(value) {}
  // As Semaphore::release; ValueError "Semaphore released too many times" when the
  // value would exceed the initial one.
  void release(std::int64_t n = 1) override;
  // The value it was made with, its bound (the "value=V/INITIAL" of Python's repr).
  std::int64_t initial_value() const noexcept { return initial_; }

 private:
  std::int64_t initial_;
};

// ---- Event ----------------------------------------------------------------------------

// A flag that threads can wait for, as threading.Event.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // True once set() was called and not undone by clear().
  bool is_set() const noexcept { return core_.is_set(); }
  // Sets the flag and wakes every waiter. A waiter it wakes returns true even if clear()
  // follows at once, as in Python (bpo-13502).
  void set() noexcept { core_.set(); }
  // Resets the flag; later wait() calls block until the next set().
  void clear() noexcept { core_.clear(); }
  // Blocks until the flag is set; always true.
  bool wait() { return wait(Timeout{}); }
  // Blocks until the flag is set or `timeout` passes; true when the flag was set (by a
  // set() during the wait, even one already undone by clear()).
  [[nodiscard]] bool wait(Timeout timeout) {
    if (core_.is_set()) return true;
    return core_.wait(timeout.deadline());
  }
  // Forgets waiters that were threads of the parent, in a forked child; the flag stays
  // (Python's private _at_fork_reinit()).
  void at_fork_reinit() noexcept { core_.reinit(); }

 private:
  // The flag, its set() generation, and the waiters' event count.
  detail::BasicEventCore<detail::FutexScope::process_private> core_;
};

// ---- Thread ---------------------------------------------------------------------------

// Keyword arguments of Thread's constructor.
struct ThreadOptions {
  // The thread's name; empty means "Thread-N". Also the OS thread name (first 15 chars).
  std::string name = {};
  // Daemon threads are not waited for at exit; unset means inherit the creating thread's.
  std::optional<bool> daemon = {};
};

// A thread of control, as threading.Thread: give it a callable and arguments, or derive
// from it and override run(). A started non-daemon Thread is joined by its destructor and
// at process exit; an exception escaping run() goes to excepthook.
class Thread {
 public:
  using Options = ThreadOptions;

  // A thread that will call `fn(args...)` (the functional style).
  template <class F, class... Args>
    requires(!std::same_as<std::remove_cvref_t<F>, ThreadOptions> &&
             std::invocable<std::decay_t<F>&, std::decay_t<Args>...>)
  explicit Thread(F&& fn, Args&&... args)
      : Thread(Options{}, std::forward<F>(fn), std::forward<Args>(args)...) {}
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  Thread(Options options, F&& fn, Args&&... args) : Thread(std::move(options)) {
    set_target(detail::Task::bind(std::forward<F>(fn), std::forward<Args>(args)...));
  }
  // A thread whose work is the run() of a derived class.
  Thread() : Thread(Options{}) {}
  explicit Thread(Options options);
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  // Joins a started non-daemon thread. A derived class whose run() uses its own members
  // must join() in its own destructor, before those members are gone.
  virtual ~Thread();

  // Starts the thread; returns once it runs. RuntimeError "threads can only be started
  // once" on a second call.
  void start();
  // Waits until the thread ends or `timeout` passes (check is_alive() after a timeout).
  // RuntimeError for the current thread or a thread not started.
  void join(Timeout timeout = {});
  // True from just before run() starts until just after it ends.
  bool is_alive() const noexcept;
  // The thread's name.
  std::string name() const;
  void set_name(std::string name);
  // Whether the process exits without waiting for this thread.
  bool daemon() const noexcept;
  // RuntimeError "cannot set daemon status of active thread" once started.
  void set_daemon(bool daemonic);
  // get_ident() of the thread, or nullopt before start().
  std::optional<std::uint64_t> ident() const noexcept;
  // get_native_id() of the thread, or nullopt before start().
  std::optional<std::uint64_t> native_id() const noexcept;

 protected:
  // The thread's work; the default calls the callable given to the constructor.
  virtual void run();

 private:
  friend struct detail::ThreadState;
  friend Thread& current_thread();
  friend Thread& main_thread();
  struct Adopt {};
  Thread(Adopt, std::shared_ptr<detail::ThreadState> state);  // a thread we did not start
  void set_target(detail::Task task);
  std::shared_ptr<detail::ThreadState> state_;
};

// The Thread object of the caller; for a thread gilfree did not start, a "Dummy-N"
// daemon thread object, as Python does.
Thread& current_thread();
// The Thread object of the main thread ("MainThread").
Thread& main_thread();
// Every alive thread: started gilfree threads, the main thread, and foreign threads that
// called current_thread(). The pointers stay valid while those threads are alive.
std::vector<Thread*> enumerate();
// The number of alive threads, len(enumerate()).
std::size_t active_count();

// What excepthook receives when an exception escapes a Thread's run().
struct ExceptHookArgs {
  std::exception_ptr exc_value;
  Thread* thread;  // the failing thread
};
using ExceptHook = std::function<void(const ExceptHookArgs&)>;
// Reports an exception that escaped a thread through the installed hook. The default
// hook prints "Exception in thread NAME:" and the message to stderr.
void excepthook(const ExceptHookArgs& args);
// Installs `hook` (an empty function restores the default) and returns the previous one.
ExceptHook set_excepthook(ExceptHook hook);
// The default hook, as threading.__excepthook__.
void default_excepthook(const ExceptHookArgs& args);

// ---- local ----------------------------------------------------------------------------

namespace detail {
// A number unique to the calling thread for the life of the process (never reused).
std::uint64_t thread_serial() noexcept;
// Runs `fn` when the calling thread exits (after its run()).
void at_thread_exit(std::function<void()> fn);
}  // namespace detail

// Per-thread data bound to an object, as threading.local: each thread that touches it
// sees its own T, made on first use by the initializer. A thread's value is destroyed
// when that thread exits or when the local is destroyed, whichever comes first.
template <class T>
class local {
 public:
  // Values start as T{}.
  local()
    requires std::default_initializable<T>
      : shared_(std::make_shared<Shared>([] { return T{}; })) {}
  // Values start as init(), called once in each thread (Python's subclass __init__).
  explicit local(std::function<T()> init) : shared_(std::make_shared<Shared>(std::move(init))) {}
  local(const local&) = delete;
  local& operator=(const local&) = delete;

  // The calling thread's value.
  T& get() {
    auto key = detail::thread_serial();
    {
      std::lock_guard g(shared_->mu);
      if (auto it = shared_->values.find(key); it != shared_->values.end()) return *it->second;
    }
    auto value = std::make_unique<T>(shared_->init());
    T& ref = *value;
    {
      std::lock_guard g(shared_->mu);
      shared_->values.emplace(key, std::move(value));
    }
    detail::at_thread_exit([weak = std::weak_ptr<Shared>(shared_), key] {
      if (auto s = weak.lock()) {
        std::unique_ptr<T> doomed;
        std::lock_guard g(s->mu);
        if (auto it = s->values.find(key); it != s->values.end()) {
          doomed = std::move(it->second);
          s->values.erase(it);
        }
      }
    });
    return ref;
  }
  T& operator*() { return get(); }
  T* operator->() { return &get(); }

 private:
  struct Shared {
    explicit Shared(std::function<T()> f) : init(std::move(f)) {}
    std::function<T()> init;
    std::mutex mu;
    std::unordered_map<std::uint64_t, std::unique_ptr<T>> values;
  };
  std::shared_ptr<Shared> shared_;
};

// ---- Timer ----------------------------------------------------------------------------

// A thread that calls a function after `interval`, unless cancel() comes first, as
// threading.Timer.
class Timer : public Thread {
 public:
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  Timer(Timeout interval, F&& fn, Args&&... args)
      : interval_(interval),
        action_(detail::Task::bind(std::forward<F>(fn), std::forward<Args>(args)...)) {}
  ~Timer() override;
  // Stops the timer if it is still waiting; does nothing once the function started.
  void cancel() noexcept { finished_.set(); }

 protected:
  void run() override;

 private:
  Timeout interval_;
  detail::Task action_;
  Event finished_;
};

// ---- Barrier --------------------------------------------------------------------------

// A barrier for a fixed number of threads, as threading.Barrier. The last thread to
// arrive runs `action` (if any) and releases the others; the barrier then resets itself.
class Barrier {
 public:
  // ValueError "parties must be > 0" when parties < 1. `timeout` is the default for wait().
  explicit Barrier(std::size_t parties, std::function<void()> action = {},
                   Timeout timeout = {});
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Waits for all parties with the barrier's default timeout; returns this thread's
  // arrival index, 0 .. parties-1. BrokenBarrierError if the barrier is or becomes broken
  // (abort, reset while waiting, timeout, failing action).
  std::size_t wait() { return wait(default_timeout_); }
  // As wait(), with an explicit timeout.
  std::size_t wait(Timeout timeout);
  // As wait(timeout), calling `poll` (without the barrier's lock) at least every `every`
  // while it waits for the others. An exception from `poll` leaves the barrier as Python's
  // does when its wait is interrupted (KeyboardInterrupt): this thread is no longer
  // waiting, the barrier is not broken, and the exception propagates.
  std::size_t wait(Timeout timeout, Timeout every, const std::function<void()>& poll);
  // Returns the barrier to its empty state; threads waiting get BrokenBarrierError.
  void reset();
  // Breaks the barrier: current and future wait() calls raise BrokenBarrierError.
  void abort();
  // The number of threads required to pass the barrier.
  std::size_t parties() const noexcept { return parties_; }
  // The timeout wait() uses when given none (Python's private _timeout).
  Timeout default_timeout() const noexcept { return default_timeout_; }
  // The number of threads currently waiting in the barrier (a snapshot, read without the
  // barrier's lock, as Python reads it, so the action may call it).
  std::size_t n_waiting() const noexcept {
    return state_.load(std::memory_order_relaxed) == State::filling
               ? count_.load(std::memory_order_relaxed)
               : 0;
  }
  // True when the barrier is broken (a snapshot without the lock, as n_waiting()).
  bool broken() const noexcept {
    return state_.load(std::memory_order_relaxed) == State::broken;
  }

 private:
  enum class State { filling, draining, resetting, broken };
  std::size_t wait_impl(const Timeout& timeout, const Timeout* every,
                        const std::function<void()>* poll);
  void enter();
  void release_all();
  void wait_released(const Timeout& timeout, const Timeout* every,
                     const std::function<void()>* poll);
  void exit();
  void break_barrier();

  Lock lock_;
  Condition cond_{lock_};
  std::function<void()> action_;
  Timeout default_timeout_;
  std::size_t parties_;
  // Written only under lock_; atomic so that n_waiting() and broken() need no lock.
  std::atomic<State> state_{State::filling};
  std::atomic<std::size_t> count_{0};
};

}  // namespace gilfree
