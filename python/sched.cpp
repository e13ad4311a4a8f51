// sched.scheduler over gilfree::scheduler.
//
// Events handed to Python are CPython's own sched.Event named tuples (time, priority,
// sequence, action, argument, kwargs), so they compare, print and unpack exactly as
// Python's do; a table keyed by sequence (unique per scheduler) maps them back to the
// library's handles for cancel() and the queue property. The table is only touched with
// the GIL held.
//
// The GIL. The library calls a user timefunc with its lock held, and actions run on the
// thread in run(); both take the GIL. So every call into the scheduler releases the GIL
// first: a thread holding the GIL never waits for the scheduler's lock. With Python's
// defaults (time.monotonic, time.sleep) the scheduler uses the library's own clock (the
// same CLOCK_MONOTONIC) and its interruptible sleep, which an event entered from another
// thread wakes at once; a Ctrl-C during that sleep is seen when the next action runs.
//
// Priorities are any Python objects: the library's basic_scheduler over PyRef priorities
// ordered by PyPriorityLess, which compares them as CPython's sched does (its events are
// tuples, so an element is compared with `==` first and `<` only when unequal) under the
// GIL. The comparison runs under the scheduler's lock, which no thread holding the GIL
// waits for (above); one that raises propagates from enter/enterabs/cancel, and the queue
// stays as it was (CPython's keeps the event at the heap's end, and its next heappop may
// raise again).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <optional>
#include <unordered_map>
#include <vector>

#include "bindings.hpp"
#include "gilfree/sched.hpp"

namespace gilfree::py_bind {

namespace {

using namespace pybind11::literals;

// The order of a priority inside CPython's Event tuple: equal (by `==`, or being the same
// object) is not less; otherwise Python's `<`. Raises what they raise (TypeError for
// unorderable objects), as queue.cpp's PyLess does for PriorityQueue items.
struct PyPriorityLess {
  bool operator()(const PyRef& a, const PyRef& b) const {
    Gil gil;
    int eq = PyObject_RichCompareBool(a.ptr(), b.ptr(), Py_EQ);
    if (eq < 0) throw py::error_already_set();
    if (eq) return false;
    int r = PyObject_RichCompareBool(a.ptr(), b.ptr(), Py_LT);
    if (r < 0) throw py::error_already_set();
    return r != 0;
  }
};

using scheduler = gilfree::basic_scheduler<PyRef, PyPriorityLess>;

struct PyScheduler {
  struct Entry {
    scheduler::Event event;  // the library's handle
    py::object pyevent;  // the sched.Event given to Python
    std::shared_ptr<PyCall> call;  // what the event runs (its action holds it too)
  };
  std::unique_ptr<scheduler> sched;
  bool default_delay = false;  // made with time.sleep: the library's own sleep
  std::unordered_map<std::uint64_t, Entry> entries;  // pending events, by sequence
};

// Shared by an action and the enterabs() that made it, under the GIL: lets an action
// that runs before enterabs() has filed its entry say so.
struct Slot {
  bool ran = false;
  std::optional<std::uint64_t> sequence;
};

// What the library runs for a Python event: take the GIL, forget the entry, call.
struct SchedCall {
  std::shared_ptr<PyCall> call;
  PyScheduler* owner;  // outlives the action: ~scheduler drops pending actions
  std::shared_ptr<Slot> slot;
  void operator()() const {
    Gil gil;
    slot->ran = true;
    if (slot->sequence) owner->entries.erase(*slot->sequence);
    (*call)();
  }
};

// The collector sees the pending events: their sched.Event tuples, calls and the
// library's reference to each priority. Entries change only under the GIL; an entry whose
// call is running is still filed until the call has the GIL. A scheduler some thread runs
// is reachable from that thread, so a cleared call is never made; nor does any other
// thread hold the scheduler's lock, so clearing may cancel events with the GIL held (the
// priority comparisons take it reentrantly).
int scheduler_traverse(PyScheduler& s, visitproc visit, void* arg) {
  for (auto& [seq, e] : s.entries) {
    Py_VISIT(e.pyevent.ptr());
    Py_VISIT(e.event.priority().ptr());
    if (e.call)
      if (int r = visit_call(*e.call, visit, arg)) return r;
  }
  return 0;
}
void scheduler_clear(PyScheduler& s) {
  auto entries = std::move(s.entries);
  s.entries.clear();
  for (auto& [seq, e] : entries) {
    if (e.call) clear_call(*e.call);
    try {
      s.sched->cancel(e.event);  // the library's reference to the priority goes with it
    } catch (...) {
      PyErr_Clear();  // a comparison that raises: that priority stays (a leak, not a crash)
    }
  }
}

py::object& event_type() {
  static auto* t = new py::object();  // sched.Event; leaked with the interpreter
  return *t;
}

py::object file(PyScheduler& s, scheduler::Event ev, py::object action, py::object argument,
                py::object kwargs, const std::shared_ptr<Slot>& slot,
                std::shared_ptr<PyCall> call) {
  py::object pyev = event_type()(ev.time(), ev.priority().get(), ev.sequence(), std::move(action),
                                 std::move(argument), std::move(kwargs));
  if (!slot->ran) {
    const std::uint64_t seq = ev.sequence();
    slot->sequence = seq;
    s.entries[seq] = PyScheduler::Entry{std::move(ev), pyev, std::move(call)};
  }
  return pyev;
}

template <class Enter>
py::object enter_with(PyScheduler& s, py::object action, py::object argument, py::object kwargs,
                      Enter&& enter) {
  if (kwargs.is_none()) kwargs = py::dict();
  auto call = std::make_shared<PyCall>(
      PyCall{PyRef(action), PyRef(py::tuple(argument)), PyRef(py::dict(kwargs))});
  auto slot = std::make_shared<Slot>();
  scheduler::Event ev;
  {
    NoGil nogil;
    ev = enter(SchedCall{call, &s, slot});
  }
  return file(s, std::move(ev), std::move(action), std::move(argument), std::move(kwargs), slot,
              std::move(call));
}

}  // namespace

void bind_sched(py::module_& m) {
  py::module_ sched = py::module_::import("sched");
  py::module_ time = py::module_::import("time");
  event_type() = sched.attr("Event");

  py::class_<PyScheduler>(m, "scheduler", py::dynamic_attr(),
                          gc_visible<PyScheduler, &scheduler_traverse, &scheduler_clear, true>(),
                          "A general-purpose event scheduler, as sched.scheduler.")
      .def(py::init([time](py::object timefunc, py::object delayfunc) {
             auto s = std::make_unique<PyScheduler>();
             const bool std_time = timefunc.is(time.attr("monotonic"));
             const bool std_delay = delayfunc.is(time.attr("sleep"));
             scheduler::TimeFunc tf;  // empty: the library's steady clock = time.monotonic
             scheduler::DelayFunc df;  // empty: the library's interruptible sleep
             if (!std_time) {
               auto f = std::make_shared<PyRef>(timefunc);
               tf = [f] {
                 Gil gil;
                 return f->get()().cast<double>();
               };
             }
             if (!std_delay) {
               auto f = std::make_shared<PyRef>(delayfunc);
               df = [f](double d) {
                 Gil gil;
                 f->get()(d);
               };
             }
             s->sched = std::make_unique<scheduler>(std::move(tf), std::move(df));
             s->default_delay = std_delay;
             return s;
           }),
           "timefunc"_a = time.attr("monotonic"), "delayfunc"_a = time.attr("sleep"))
      .def(
          "enterabs",
          [](PyScheduler& s, double t, py::object priority, py::object action, py::object argument,
             py::object kwargs) {
            PyRef prio(priority);  // made here, under the GIL; the library owns it then
            return enter_with(s, std::move(action), std::move(argument), std::move(kwargs),
                              [&](SchedCall c) {
                                return s.sched->enterabs(t, std::move(prio), std::move(c));
                              });
          },
          "time"_a, "priority"_a, "action"_a, "argument"_a = py::tuple(), "kwargs"_a = py::none(),
          "Schedules action(*argument, **kwargs) at absolute `time`; returns the event.")
      .def(
          "enter",
          [](PyScheduler& s, double delay, py::object priority, py::object action, py::object argument,
             py::object kwargs) {
            PyRef prio(priority);  // made here, under the GIL; the library owns it then
            return enter_with(s, std::move(action), std::move(argument), std::move(kwargs),
                              [&](SchedCall c) {
                                return s.sched->enter(delay, std::move(prio), std::move(c));
                              });
          },
          "delay"_a, "priority"_a, "action"_a, "argument"_a = py::tuple(), "kwargs"_a = py::none(),
          "Schedules action(*argument, **kwargs) `delay` seconds from now; returns the event.")
      .def(
          "cancel",
          [](PyScheduler& s, const py::object& event) {
            auto it = s.entries.end();
            if (py::hasattr(event, "sequence")) {
              py::object seq = event.attr("sequence");
              if (py::isinstance<py::int_>(seq)) it = s.entries.find(seq.cast<std::uint64_t>());
            }
            if (it == s.entries.end() || !it->second.pyevent.equal(event))
              throw py::value_error("list.remove(x): x not in list");
            const std::uint64_t seq = it->second.event.sequence();
            scheduler::Event ev = it->second.event;
            {
              NoGil nogil;
              s.sched->cancel(ev);  // ValueError if it started running meanwhile
            }
            s.entries.erase(seq);
          },
          "event"_a, "Removes a pending event; ValueError if it is not pending.")
      .def("empty", [](PyScheduler& s) {
        NoGil nogil;
        return s.sched->empty();
      })
      .def(
          "run",
          [](PyScheduler& s, bool blocking) -> std::optional<double> {
            if (!blocking || !s.default_delay || !in_main_thread()) {
              NoGil nogil;
              return s.sched->run(blocking);
            }
            // The main thread sleeps between events as time.sleep does there: in slices,
            // with Python's signal handlers (Ctrl-C) run in between.
            for (;;) {
              std::optional<double> next;
              {
                NoGil nogil;
                next = s.sched->run(false);
              }
              if (!next) return std::nullopt;
              const double delay = std::clamp(*next, 0.0, TIMEOUT_MAX);
              wait_released(Timeout(delay), [](const Timeout& step) {
                std::this_thread::sleep_for(step.duration());
                return false;
              });
            }
          },
          "blocking"_a = true,
          "Runs events as they come due; with blocking=False returns the delay until the next.")
      .def_property_readonly("queue", [](PyScheduler& s) {
        std::vector<scheduler::Event> pending;
        {
          NoGil nogil;
          pending = s.sched->queue();
        }
        py::list out;
        for (const scheduler::Event& ev : pending)
          if (auto it = s.entries.find(ev.sequence()); it != s.entries.end())
            out.append(it->second.pyevent);
        return out;
      });
}

}  // namespace gilfree::py_bind
