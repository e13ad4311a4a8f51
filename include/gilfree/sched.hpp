// gilfree/sched.hpp — Python's sched module: a general-purpose event scheduler.
//
//   gilfree::scheduler s;                       // steady-clock seconds, a real sleep
//   s.enter(0.5, 1, [](const std::string& m) { std::puts(m.c_str()); }, "later");
//   gilfree::sched::Event e = s.enter(0.1, 1, f);
//   s.cancel(e);                                // ValueError if e already ran
//   s.run();                                    // runs due events in order, sleeps between
//
// Events run in order of time, then priority (lower first), then the order they were
// entered. enter(), enterabs(), cancel(), empty() and queue() may be called from any thread,
// also while run() is running in another. With the default delay function, run() sleeps
// interruptibly: an event entered (or a head event cancelled) from another thread while
// run() waits wakes it at once, where Python would finish the old sleep first. With a user
// delay function, run() calls it exactly as Python does and cannot be woken early.
//
// Priorities. gilfree::scheduler takes int priorities. basic_scheduler<Priority, Compare>
// takes any movable Priority ordered by Compare (a strict weak order; equivalent priorities
// run in the order entered), as Python's sched takes any object that `<` orders. Compare
// may throw: enter()/enterabs()/cancel() then throw the same and leave the queue as it was.
// Compare runs with the scheduler's lock held, and a record's Priority is never destroyed
// with that lock held, so either may call back into a runtime with its own lock (a GIL).
#pragma once

#include <cmath>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "timeout.hpp"

namespace gilfree {

template <class Priority, class Compare>
class basic_scheduler;

namespace detail {

// A scheduled call with its arguments bound, erased to one virtual call. Unlike
// std::function it accepts move-only callables and arguments.
struct SchedAction {
  virtual ~SchedAction() = default;
  virtual void operator()() = 0;
};

template <class F, class... Args>
struct SchedBound final : SchedAction {
  template <class G, class... A>
  explicit SchedBound(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
  // An event runs at most once, so the copies are handed over as rvalues, as std::thread
  // does: move-only arguments work and are consumed by the call.
  void operator()() override { std::apply(std::move(fn), std::move(args)); }
  F fn;
  std::tuple<Args...> args;
};

// What an Event handle points at. time/priority/sequence never change after enterabs();
// `action` is owned by the scheduler's lock and dropped once the event runs or is
// cancelled, so an action that captures its own Event handle leaks nothing.
template <class Priority>
struct SchedRecord {
  double time;
  Priority priority;
  std::uint64_t sequence;
  const void* owner;
  std::unique_ptr<SchedAction> action;
};

// Orders records as they run: time, then priority under Compare, then sequence.
template <class Priority, class Compare>
std::partial_ordering sched_order(const SchedRecord<Priority>& a, const SchedRecord<Priority>& b,
                                  const Compare& less) {
  if (auto c = a.time <=> b.time; c != 0) return c;
  if (less(a.priority, b.priority)) return std::partial_ordering::less;
  if (less(b.priority, a.priority)) return std::partial_ordering::greater;
  return a.sequence <=> b.sequence;
}

// The scheduler's lock, and what the default delay sleeps on. `head_gen` counts changes of
// the queue's first event, so a sleeping run() can tell "an earlier event arrived" (or "the
// event I wait for was cancelled") from a spurious wake-up. The scheduler is not a hot path
// (one event costs a heap allocation anyway), so a plain mutex and condition variable serve.
struct SchedSync {
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t head_gen = 0;
  int sleepers = 0;  // run() calls inside the default delay; notify only when someone sleeps

  // Wakes run() calls sleeping in the default delay after the head of the queue changed.
  // Called with `mu` held.
  void head_changed_locked() {
    ++head_gen;
    if (sleepers > 0) cv.notify_all();
  }
  // Sleeps up to `delay` real seconds, returning early when the head changes. Called with
  // `lk` (on `mu`) held; returns with it held.
  void default_delay(std::unique_lock<std::mutex>& lk, double delay);
};

// Seconds on std::chrono::steady_clock, as time.monotonic().
double sched_monotonic() noexcept;

}  // namespace detail

// The sched module's own names live in gilfree::sched, so that sched.Event does not
// collide with threading.Event (gilfree::Event); scheduler::Event names it too.
namespace sched {

// sched.Event for a basic_scheduler<Priority, Compare>: a handle to one scheduled call,
// returned by enter()/enterabs() and accepted by cancel(). Cheap to copy; copies refer to
// the same call. A default-constructed handle refers to nothing (cancelling it is a
// ValueError).
template <class Priority, class Compare = std::less<>>
class basic_event {
 public:
  // A handle that refers to no scheduled call.
  basic_event() noexcept = default;

  // The absolute time the call was scheduled for, in seconds of the scheduler's timefunc.
  double time() const noexcept { return rec_->time; }
  // The priority it was entered with; among equal times the lower (under Compare) runs first.
  const Priority& priority() const noexcept { return rec_->priority; }
  // The scheduler's insertion counter: among equal times and priorities, first in runs first.
  std::uint64_t sequence() const noexcept { return rec_->sequence; }
  // True when this handle refers to a scheduled call (whether or not it still is pending).
  explicit operator bool() const noexcept { return rec_ != nullptr; }

  // Two handles are equal when they refer to the same scheduled call.
  friend bool operator==(const basic_event& a, const basic_event& b) noexcept {
    return a.rec_ == b.rec_;
  }
  // Orders as the scheduler runs them: by time, then priority, then sequence. Both handles
  // must be non-empty. Throws what Compare throws.
  friend std::partial_ordering operator<=>(const basic_event& a, const basic_event& b) noexcept(
      std::is_nothrow_invocable_v<const Compare&, const Priority&, const Priority&>) {
    return detail::sched_order(*a.rec_, *b.rec_, Compare{});
  }

 private:
  template <class, class>
  friend class gilfree::basic_scheduler;
  explicit basic_event(std::shared_ptr<detail::SchedRecord<Priority>> rec) noexcept
      : rec_(std::move(rec)) {}
  std::shared_ptr<detail::SchedRecord<Priority>> rec_;
};

// sched.Event of gilfree::scheduler (int priorities).
using Event = basic_event<int>;

}  // namespace sched

// sched.scheduler: runs calls at given times, in order, on the thread that calls run().
// Priority: any movable type; Compare: a strict weak order on it, default-constructible
// (event handles compare with a default-constructed one).
template <class Priority, class Compare = std::less<>>
class basic_scheduler {
 public:
  // A handle to one scheduled call (sched.Event).
  using Event = sched::basic_event<Priority, Compare>;
  // Returns the current time in seconds, as Python's timefunc.
  using TimeFunc = std::function<double()>;
  // Waits the given number of seconds (0 means "let other threads run"), as Python's delayfunc.
  using DelayFunc = std::function<void(double)>;

  // Python's defaults: time.monotonic (steady_clock in seconds) and an interruptible sleep.
  basic_scheduler() : basic_scheduler(TimeFunc(&detail::sched_monotonic)) {}
  // A scheduler on a user clock. `timefunc` must not call into this scheduler (it is called
  // with the scheduler's lock held). An empty `delayfunc` means the default interruptible
  // sleep, which takes its argument as real seconds; a user delayfunc is called exactly as
  // Python calls it, without the lock, after every action with 0 too.
  explicit basic_scheduler(TimeFunc timefunc, DelayFunc delayfunc = {}, Compare compare = {})
      : timefunc_(timefunc ? std::move(timefunc) : TimeFunc(&detail::sched_monotonic)),
        delayfunc_(std::move(delayfunc)),
        sync_(std::make_unique<detail::SchedSync>()),
        queue_(Before{std::move(compare)}) {}
  // Drops the pending calls without running them. No run() may be in progress.
  ~basic_scheduler() {
    // Drop every pending action (and with it any Event handle it captured, which would
    // otherwise keep its own record alive forever).
    for (const auto& rec : queue_) rec->action.reset();
  }

  basic_scheduler(const basic_scheduler&) = delete;
  basic_scheduler& operator=(const basic_scheduler&) = delete;

  // The default timefunc: seconds on std::chrono::steady_clock, as time.monotonic().
  static double monotonic() noexcept { return detail::sched_monotonic(); }

  // Schedules `action(args...)` at absolute `time` (seconds of timefunc) with `priority`.
  // Arguments are decay-copied, as std::thread does. A NaN time is a ValueError; a
  // comparison of priorities that throws leaves the queue as it was and propagates.
  template <class F, class... Args>
  Event enterabs(double time, Priority priority, F&& action, Args&&... args) {
    using Bound = detail::SchedBound<std::decay_t<F>, std::decay_t<Args>...>;
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                  "sched: action is not callable with these arguments");
    return enterabs_erased(
        time, std::move(priority),
        std::make_unique<Bound>(std::forward<F>(action), std::forward<Args>(args)...));
  }

  // Schedules `action(args...)` `delay` seconds from now (timefunc() + delay). A negative
  // delay schedules it in the past, so it runs at the next run(). NaN is a ValueError.
  template <class F, class... Args>
  Event enter(double delay, Priority priority, F&& action, Args&&... args) {
    return enterabs(timefunc_() + delay, std::move(priority), std::forward<F>(action),
                    std::forward<Args>(args)...);
  }

  // Removes a pending event. An event that already ran, was cancelled, belongs to another
  // scheduler or is empty is a ValueError, as list.remove() raises in Python.
  void cancel(const Event& event) {
    std::unique_ptr<detail::SchedAction> dropped;  // destroyed after the lock is released
    std::lock_guard lk(sync_->mu);
    auto it = event.rec_ && event.rec_->owner == this ? queue_.find(event.rec_) : queue_.end();
    if (it == queue_.end() || it->get() != event.rec_.get())
      throw ValueError("list.remove(x): x not in list");
    const bool was_head = it == queue_.begin();
    dropped = std::move((*it)->action);
    queue_.erase(it);  // not the record's last owner: `event` holds it
    if (was_head) sync_->head_changed_locked();
  }

  // True when no events are pending.
  bool empty() const {
    std::lock_guard lk(sync_->mu);
    return queue_.empty();
  }

  // Runs pending events as they come due, until none is left. With blocking = true, waits
  // between events and returns std::nullopt once the queue is empty. With blocking = false,
  // runs the events already due and returns the time until the next one (timefunc units, as
  // CPython returns `time - now`), or std::nullopt when none is left. An exception thrown by
  // an action propagates out of run(); that event is gone, the others stay queued.
  std::optional<double> run(bool blocking = true) {
    std::unique_lock lk(sync_->mu);
    for (;;) {
      if (queue_.empty()) return std::nullopt;
      auto head = queue_.begin();
      const double time = (*head)->time;
      const double now = timefunc_();
      if (time > now) {
        const double delay = time - now;
        if (!blocking) return delay;
        if (delayfunc_) {
          lk.unlock();
          delayfunc_(delay);
          lk.lock();
        } else {
          sync_->default_delay(lk, delay);
        }
        continue;
      }
      // Due: take it out under the lock, run it without the lock (the action may enter or
      // cancel events, and other threads may too). If it throws, the exception leaves run()
      // with the lock released and the rest of the queue untouched, as in Python. The
      // record (and its priority) dies after the lock is released.
      std::shared_ptr<detail::SchedRecord<Priority>> rec = std::move(queue_.extract(head).value());
      std::unique_ptr<detail::SchedAction> action = std::move(rec->action);
      lk.unlock();
      rec.reset();
      (*action)();
      action.reset();  // the bound arguments die outside the lock too
      if (delayfunc_) delayfunc_(0);  // Python's "let other threads run"
      lk.lock();
    }
  }

  // The pending events, in the order they would run (a snapshot).
  std::vector<Event> queue() const {
    std::lock_guard lk(sync_->mu);
    std::vector<Event> out;
    out.reserve(queue_.size());
    for (const auto& rec : queue_) out.push_back(Event(rec));
    return out;
  }

 private:
  using Record = detail::SchedRecord<Priority>;

  struct Before {
    [[no_unique_address]] Compare less;
    bool operator()(const std::shared_ptr<Record>& a, const std::shared_ptr<Record>& b) const {
      return detail::sched_order(*a, *b, less) < 0;
    }
  };

  Event enterabs_erased(double time, Priority&& priority,
                        std::unique_ptr<detail::SchedAction> action) {
    if (std::isnan(time)) throw ValueError("sched: event time must not be NaN");
    auto rec = std::make_shared<Record>(
        Record{time, std::move(priority), 0, this, std::move(action)});
    std::unique_lock lk(sync_->mu);
    rec->sequence = next_sequence_++;
    // A throwing comparison leaves the set unchanged (a single-element insert has no effect
    // when it throws); `rec` then dies after the lock is released, on unwinding.
    auto it = queue_.insert(rec).first;
    if (it == queue_.begin()) sync_->head_changed_locked();
    lk.unlock();
    return Event(std::move(rec));
  }

  TimeFunc timefunc_;
  DelayFunc delayfunc_;  // empty: the default, interruptible sleep
  std::unique_ptr<detail::SchedSync> sync_;
  std::set<std::shared_ptr<Record>, Before> queue_;
  std::uint64_t next_sequence_ = 0;
};

// Python's sched.scheduler with int priorities (lower runs first).
using scheduler = basic_scheduler<int>;

extern template class basic_scheduler<int>;

}  // namespace gilfree
