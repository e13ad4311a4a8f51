// gilfree/detail/future_state.hpp — the shared state behind every Future handle.
//
// One heap object per future holds Python's state machine (PENDING, RUNNING, CANCELLED,
// CANCELLED_AND_NOTIFIED, FINISHED), the value or exception, the done-callbacks and the
// internal waiters of wait()/as_completed(). That is all it is: what an executor queues
// and runs is a WorkItem (work_item.hpp), which an in-process executor allocates
// together with the state (TaskState), so a submit still costs one allocation.
//
// Blocking: waiters sleep on a small global table of EventCounts keyed by the state's
// address (a "parking lot"), so a state stays small and completing a future that nobody
// sleeps on costs one fence and one load — never a syscall.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

#include "../errors.hpp"
#include "../futures/state.hpp"
#include "../timeout.hpp"
#include "wait/event_count.hpp"
#include "call.hpp"
#include "spinlock.hpp"

namespace gilfree {

namespace detail {

// Sends `message` and `error` to the current LogHook; never throws.
void log_error(std::string_view message, std::exception_ptr error) noexcept;

class SharedStateBase;

// Keeps the calling thread's most recently rethrown failed future alive until its next
// one (or its exit). Why: the exception object is shared with the future, and its
// reference count lives in libstdc++, which ThreadSanitizer does not see; if a worker
// dropped the last reference while this thread was still reading the exception in a
// catch block, TSan would report a race that cannot happen. Holding the state here makes
// the reading thread the one that frees it.
void keep_failed(SharedStateBase* state) noexcept;

// The EventCount that threads waiting on the object at `p` sleep on.
EventCount& parking_lot(const void* p) noexcept;

// A thread that may block on a future can install a hook that runs first: an executor's
// worker uses it to run a not-yet-started task of its own pool inline instead of
// deadlocking (see ThreadPoolExecutor). Called with a future that is not done yet.
class BlockingHook {
 public:
  virtual void before_blocking(SharedStateBase* state) noexcept = 0;

 protected:
  ~BlockingHook() = default;
};

// The calling thread's BlockingHook, or nullptr.
inline thread_local BlockingHook* current_blocking_hook = nullptr;

// Something wait() or as_completed() installs on futures to hear of their completion.
// on_done runs with the future's lock held: it must be short and must not touch the future.
class Waiter {
 public:
  enum class Event { result, exception, cancelled };
  virtual void on_done(SharedStateBase* state, Event event) noexcept = 0;

 protected:
  ~Waiter() = default;
};

// A Waiter's registration on one future (owned by the waiter).
struct WaiterLink {
  WaiterLink* prev = nullptr;
  WaiterLink* next = nullptr;
  Waiter* owner = nullptr;
  bool linked = false;
};

// A future's shared state: what every Future handle points to.
class SharedStateBase {
 public:
  // A pending state owned by `refs` handles (an executor's task starts with two: the
  // future's and the queue's, so that submitting costs no extra atomic increment).
  explicit SharedStateBase(std::int32_t refs = 1) noexcept : refs_(refs) {}
  SharedStateBase(const SharedStateBase&) = delete;
  SharedStateBase& operator=(const SharedStateBase&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  FutureState state() const noexcept {
    return static_cast<FutureState>(state_.load(std::memory_order_acquire));
  }
  // CANCELLED, CANCELLED_AND_NOTIFIED or FINISHED: result() no longer blocks.
  bool done() const noexcept { return state() >= FutureState::CANCELLED; }
  // CANCELLED_AND_NOTIFIED or FINISHED: what wait() and as_completed() count as done.
  bool notified_done() const noexcept {
    return state() >= FutureState::CANCELLED_AND_NOTIFIED;
  }

  // Python's Future.cancel().
  bool cancel();
  // What try_start() did.
  enum class Start { started, cancelled, busy };
  // PENDING → RUNNING (started); CANCELLED → CANCELLED_AND_NOTIFIED, waking waiters
  // (cancelled; exactly one caller sees it); otherwise busy: someone else already
  // started it, notified its cancellation, or finished it.
  Start try_start() noexcept;
  // Python's set_running_or_notify_cancel(): try_start(), RuntimeError in other states.
  bool set_running_or_notify_cancel();
  // Python's set_exception(); InvalidStateError when already done.
  void set_exception(std::exception_ptr error);
  // The stored exception; meaningful once FINISHED has been observed.
  const std::exception_ptr& stored_exception() const noexcept { return error_; }

  // Blocks until done() or the deadline; true when done.
  bool wait_done(const Deadline& deadline) {
    auto is_done = [this] { return done(); };
    if (done() || adaptive_spin_until(future_spin_ns, is_done)) return true;
    return sleep_until(parking_lot(this), deadline, is_done);
  }

  // Adds a callback run once done (at once, on this thread, if already done).
  void add_done_callback(std::function<void(SharedStateBase&)> fn);
  // Links `link` unless the future is already notified_done(); then returns false and
  // leaves it unlinked (the caller treats the future as done).
  bool add_waiter(WaiterLink* link) noexcept;
  // Unlinks `link` if still linked; afterwards its owner is never called for this state.
  void remove_waiter(WaiterLink* link) noexcept;

  // The element type T of Future<T> (typeid(void) for Future<void>).
  virtual const std::type_info& value_type() const noexcept = 0;
  // <Future at 0x... state=finished returned int>, as Python's repr.
  std::string repr() const;

 protected:
  virtual ~SharedStateBase();

  // Runs `write` (which stores the value) and moves to FINISHED, or throws
  // InvalidStateError when already done. `write` runs under the state's lock.
  template <class Write>
  void finish(Write&& write) {
    lock_.lock();
    auto st = state_.load(std::memory_order_relaxed);
    if (st >= static_cast<std::uint32_t>(FutureState::CANCELLED)) {
      lock_.unlock();
      throw_invalid_state(static_cast<FutureState>(st));
    }
    try {
      write();
    } catch (...) {
      lock_.unlock();
      throw;
    }
    state_.store(static_cast<std::uint32_t>(FutureState::FINISHED), std::memory_order_release);
    if (callbacks_ == nullptr && waiters_ == nullptr) {
      lock_.unlock();
      parking_lot(this).notify_all();
      return;
    }
    after_done_locked(error_ ? Waiter::Event::exception : Waiter::Event::result);
  }

 private:
  struct CallbackNode {
    CallbackNode* next;
    std::function<void(SharedStateBase&)> fn;
  };
  [[noreturn]] void throw_invalid_state(FutureState st) const;
  // With lock_ held and the state just made done: notifies waiters (unless `event` is
  // empty), unlocks, wakes sleepers, runs the callbacks.
  void after_done_locked(std::optional<Waiter::Event> event) noexcept;
  void notify_waiters_locked(Waiter::Event event) noexcept;
  void run_callbacks(CallbackNode* list) noexcept;

  std::atomic<std::int32_t> refs_;
  std::atomic<std::uint32_t> state_{static_cast<std::uint32_t>(FutureState::PENDING)};
  SpinLock lock_;
  std::exception_ptr error_;
  CallbackNode* callbacks_ = nullptr;  // newest first; reversed when run
  WaiterLink* waiters_ = nullptr;
};

template <class T>
class SharedState : public SharedStateBase {
 public:
  explicit SharedState(std::int32_t refs = 1) noexcept : SharedStateBase(refs) {}
  const std::type_info& value_type() const noexcept override { return typeid(T); }

  // Python's set_result(); InvalidStateError when already done.
  template <class... A>
  void set_value(A&&... a) {
    finish([&] { value_.emplace(std::forward<A>(a)...); });
  }
  // The value; only after FINISHED without an exception has been observed.
  const stored_t<T>& value() const noexcept { return *value_; }
  stored_t<T>& value() noexcept { return *value_; }

 private:
  std::optional<stored_t<T>> value_;
};

}  // namespace detail
}  // namespace gilfree
