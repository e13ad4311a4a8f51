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
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "timeout.hpp"

namespace gilfree {

class scheduler;

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
struct SchedRecord {
  double time;
  int priority;
  std::uint64_t sequence;
  const scheduler* owner;
  std::unique_ptr<SchedAction> action;
};

}  // namespace detail

// The sched module's own names live in gilfree::sched, so that sched.Event does not
// collide with threading.Event (gilfree::Event); scheduler::Event names it too.
namespace sched {

// sched.Event: a handle to one scheduled call, returned by enter()/enterabs() and accepted
// by cancel(). Cheap to copy; copies refer to the same call. A default-constructed Event
// refers to nothing (cancelling it is a ValueError).
class Event {
 public:
  // A handle that refers to no scheduled call.
  Event() noexcept = default;

  // The absolute time the call was scheduled for, in seconds of the scheduler's timefunc.
  double time() const noexcept { return rec_->time; }
  // The priority it was entered with; among equal times the lower number runs first.
  int priority() const noexcept { return rec_->priority; }
  // The scheduler's insertion counter: among equal times and priorities, first in runs first.
  std::uint64_t sequence() const noexcept { return rec_->sequence; }
  // True when this handle refers to a scheduled call (whether or not it still is pending).
  explicit operator bool() const noexcept { return rec_ != nullptr; }

  // Two handles are equal when they refer to the same scheduled call.
  friend bool operator==(const Event& a, const Event& b) noexcept { return a.rec_ == b.rec_; }
  // Orders as the scheduler runs them: by time, then priority, then sequence. Both handles
  // must be non-empty.
  friend std::partial_ordering operator<=>(const Event& a, const Event& b) noexcept {
    if (auto c = a.rec_->time <=> b.rec_->time; c != 0) return c;
    if (auto c = a.rec_->priority <=> b.rec_->priority; c != 0) return c;
    return a.rec_->sequence <=> b.rec_->sequence;
  }

 private:
  friend class gilfree::scheduler;
  explicit Event(std::shared_ptr<detail::SchedRecord> rec) noexcept : rec_(std::move(rec)) {}
  std::shared_ptr<detail::SchedRecord> rec_;
};

}  // namespace sched

// sched.scheduler: runs calls at given times, in order, on the thread that calls run().
class scheduler {
 public:
  // A handle to one scheduled call (sched.Event).
  using Event = sched::Event;
  // Returns the current time in seconds, as Python's timefunc.
  using TimeFunc = std::function<double()>;
  // Waits the given number of seconds (0 means "let other threads run"), as Python's delayfunc.
  using DelayFunc = std::function<void(double)>;

  // Python's defaults: time.monotonic (steady_clock in seconds) and an interruptible sleep.
  scheduler();
  // A scheduler on a user clock. `timefunc` must not call into this scheduler (it is called
  // with the scheduler's lock held). An empty `delayfunc` means the default interruptible
  // sleep, which takes its argument as real seconds; a user delayfunc is called exactly as
  // Python calls it, without the lock, after every action with 0 too.
  explicit scheduler(TimeFunc timefunc, DelayFunc delayfunc = {});
  // Drops the pending calls without running them. No run() may be in progress.
  ~scheduler();

  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // The default timefunc: seconds on std::chrono::steady_clock, as time.monotonic().
  static double monotonic() noexcept;

  // Schedules `action(args...)` at absolute `time` (seconds of timefunc) with `priority`.
  // Arguments are decay-copied, as std::thread does. A NaN time is a ValueError.
  template <class F, class... Args>
  Event enterabs(double time, int priority, F&& action, Args&&... args) {
    using Bound = detail::SchedBound<std::decay_t<F>, std::decay_t<Args>...>;
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                  "sched: action is not callable with these arguments");
    return enterabs_erased(
        time, priority,
        std::make_unique<Bound>(std::forward<F>(action), std::forward<Args>(args)...));
  }

  // Schedules `action(args...)` `delay` seconds from now (timefunc() + delay). A negative
  // delay schedules it in the past, so it runs at the next run(). NaN is a ValueError.
  template <class F, class... Args>
  Event enter(double delay, int priority, F&& action, Args&&... args) {
    return enterabs(timefunc_() + delay, priority, std::forward<F>(action),
                    std::forward<Args>(args)...);
  }

  // Removes a pending event. An event that already ran, was cancelled, belongs to another
  // scheduler or is empty is a ValueError, as list.remove() raises in Python.
  void cancel(const Event& event);

  // True when no events are pending.
  bool empty() const;

  // Runs pending events as they come due, until none is left. With blocking = true, waits
  // between events and returns std::nullopt once the queue is empty. With blocking = false,
  // runs the events already due and returns the time until the next one (timefunc units, as
  // CPython returns `time - now`), or std::nullopt when none is left. An exception thrown by
  // an action propagates out of run(); that event is gone, the others stay queued.
  std::optional<double> run(bool blocking = true);

  // The pending events, in the order they would run (a snapshot).
  std::vector<Event> queue() const;

 private:
  struct Before {
    bool operator()(const std::shared_ptr<detail::SchedRecord>& a,
                    const std::shared_ptr<detail::SchedRecord>& b) const noexcept {
      return std::tie(a->time, a->priority, a->sequence) <
             std::tie(b->time, b->priority, b->sequence);
    }
  };

  Event enterabs_erased(double time, int priority, std::unique_ptr<detail::SchedAction> action);
  // Wakes run() calls sleeping in the default delay after the head of the queue changed.
  void head_changed_locked();

  struct Sync;  // the lock and the wake-up for the default sleep (src/sched.cpp)

  TimeFunc timefunc_;
  DelayFunc delayfunc_;  // empty: the default, interruptible sleep
  std::unique_ptr<Sync> sync_;
  std::set<std::shared_ptr<detail::SchedRecord>, Before> queue_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace gilfree
