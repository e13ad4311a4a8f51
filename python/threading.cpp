// threading's objects: Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event,
// Barrier, Timer. Each method keeps CPython's signature, defaults, errors and repr; every
// wait that may block runs with the GIL released (wait_released), after a first try that
// keeps the GIL, so an uncontended acquire costs no GIL hand-off.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "gilfree/threading.hpp"

namespace gilfree::py_bind {

namespace {

using namespace pybind11::literals;

// ---- Lock and RLock -------------------------------------------------------------------

// CPython's lock.acquire(blocking=True, timeout=-1): -1 is forever, other negatives and
// a timeout on a non-blocking call are ValueErrors, beyond TIMEOUT_MAX an OverflowError
// (all checked before trying, as _thread does).
template <class L>
bool lock_acquire(L& lock, bool blocking, double timeout) {
  if (!blocking && timeout != -1)
    throw py::value_error("can't specify a timeout for a non-blocking call");
  if (std::isnan(timeout)) throw py::value_error("Invalid value NaN (not a number)");
  if (timeout < 0 && timeout != -1) throw py::value_error("timeout value must be positive");
  if (timeout > TIMEOUT_MAX) raise_overflow();
  if (lock.try_lock()) return true;
  if (!blocking) return false;
  const Timeout t = timeout == -1 ? Timeout() : Timeout(timeout);
  return wait_released(t, [&](const Timeout& step) { return lock.acquire(true, step); });
}

template <class L>
void bind_lock_protocol(py::class_<L>& cls) {
  cls.def("acquire", &lock_acquire<L>, "blocking"_a = true, "timeout"_a = -1.0,
          "Acquires the lock, blocking up to `timeout` seconds (-1: forever); True if acquired.")
      .def("__enter__", [](L& l) { return lock_acquire(l, true, -1); })
      .def("__exit__", [](L& l, const py::args&) { l.release(); });
}

// ---- Condition ------------------------------------------------------------------------

// A Python value tested as Python tests it (PyObject_IsTrue), for the library's wait_for.
struct Truthy {
  py::object value;
  explicit operator bool() const {
    const int r = PyObject_IsTrue(value.ptr());
    if (r < 0) throw py::error_already_set();
    return r != 0;
  }
};

// A gilfree::Condition over the Python Lock/RLock object it was given (kept alive here),
// or over a new RLock, as threading.Condition() makes one.
//
// Any other lock (threading.Lock, a user's class with acquire/release) gets what CPython
// gives it: the condition is then CPython's own threading.Condition over that lock, to
// which every method forwards (`foreign`), since the library can only wait on C++ locks.
struct PyCondition {
  py::object lock;  // the lock object given (or the RLock made)
  Lock* plain = nullptr;  // the C++ lock inside `lock`, at most one of the two
  RLock* reentrant = nullptr;
  std::unique_ptr<Condition> cond;
  py::object foreign;  // threading.Condition(lock) when the lock is not gilfree's

  explicit PyCondition(py::object l) : lock(std::move(l)) {
    if (py::isinstance<RLock>(lock)) {
      reentrant = &lock.cast<RLock&>();
      cond = std::make_unique<Condition>(*reentrant);
    } else if (py::isinstance<Lock>(lock)) {
      plain = &lock.cast<Lock&>();
      cond = std::make_unique<Condition>(*plain);
    } else {
      foreign = py::module_::import("threading").attr("Condition")(lock);
    }
  }

  // threading.Condition.wait(timeout=None): True when notified. A negative timeout polls.
  py::object wait(const py::object& timeout) {
    if (foreign) return foreign.attr("wait")(timeout);
    const Timeout t = blocking_timeout(timeout);
    return py::bool_(wait_released(t, [&](const Timeout& step) { return cond->wait(step); }));
  }

  // threading.Condition.wait_for: the library's loop (CPython's), waiting as wait() does.
  py::object wait_for(const py::object& predicate, const py::object& timeout) {
    if (foreign) return foreign.attr("wait_for")(predicate, timeout);
    const Timeout t = blocking_timeout(timeout);
    Truthy last = cond->wait_for([&] { return Truthy{predicate()}; }, t, [&](const Timeout& step) {
      return wait_released(step, [&](const Timeout& slice) { return cond->wait(slice); });
    });
    return std::move(last.value);
  }
};

// ---- Semaphore ------------------------------------------------------------------------

// A semaphore's initial value: any Python int, as CPython takes; beyond what 64 bits hold
// it is capped there (no program can take that many permits), and a negative one stays
// negative for the library's ValueError.
std::int64_t permits(const py::int_& value) {
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow > 0) return INT64_MAX;
  if (overflow < 0) return -1;
  return v;
}

// threading.Semaphore.acquire(blocking=True, timeout=None). A negative timeout polls.
bool semaphore_acquire(Semaphore& s, bool blocking, const py::object& timeout) {
  if (!blocking && !timeout.is_none())
    throw py::value_error("can't specify timeout for non-blocking acquire");
  if (s.try_lock()) return true;
  if (!blocking) return false;
  return wait_released(blocking_timeout(timeout),
                       [&](const Timeout& step) { return s.acquire(true, step); });
}

// ---- Timer ----------------------------------------------------------------------------

// The call a Timer makes on its own C++ thread: it takes the GIL, and reports an
// exception as an exception escaping a Python thread is reported.
struct TimerCall {
  std::shared_ptr<PyCall> call;
  void operator()() const {
    Gil gil;
    try {
      (*call)();
    } catch (py::error_already_set& e) {
      py::module_ sys = py::module_::import("sys");
      py::print("Exception in thread " + current_thread().name() + ":",
                "file"_a = sys.attr("stderr"));
      py::module_::import("traceback")
          .attr("print_exception")(e.type(), e.value(), e.trace(), "file"_a = sys.attr("stderr"));
    }
  }
};

// Started timers, until they are finished and reaped, so that dropping the last Python
// reference to a pending timer neither cancels it nor blocks (as in CPython, where the
// running thread keeps itself alive), and so that interpreter exit waits for them.
// Touched only with the GIL held; leaked on purpose (no static destruction at exit).
std::vector<std::shared_ptr<Timer>>& started_timers() {
  static auto* v = new std::vector<std::shared_ptr<Timer>>();
  return *v;
}

// Forgets finished timers; the last owner's ~Timer joins an ended thread, GIL released.
void reap_timers() {
  auto& all = started_timers();
  std::vector<std::shared_ptr<Timer>> done;
  for (auto it = all.begin(); it != all.end();) {
    if (!(*it)->is_alive()) {
      done.push_back(std::move(*it));
      it = all.erase(it);
    } else {
      ++it;
    }
  }
  NoGil nogil;
  done.clear();
}

// At interpreter exit (atexit): wait for pending non-daemon timers, cancel daemon ones
// (as ~Timer does), all before Python is finalized.
void join_timers() {
  std::vector<std::shared_ptr<Timer>> all = std::move(started_timers());
  started_timers().clear();
  NoGil nogil;
  for (auto& t : all) {
    if (t->is_alive() && t->daemon()) t->cancel();
    if (t->is_alive()) t->join();
  }
  all.clear();
}

struct PyTimer {
  std::shared_ptr<Timer> timer;
  double interval;
  py::object function, args, kwargs;
  std::shared_ptr<PyCall> call;  // what the timer's thread calls (TimerCall shares it)
};

// The collector sees the attributes, and the call while no thread can be making it.
int timer_traverse(PyTimer& t, visitproc visit, void* arg) {
  Py_VISIT(t.function.ptr());
  Py_VISIT(t.args.ptr());
  Py_VISIT(t.kwargs.ptr());
  if (t.call && !t.timer->is_alive()) return visit_call(*t.call, visit, arg);
  return 0;
}
void timer_clear(PyTimer& t) {
  t.function = t.args = t.kwargs = py::none();
  if (t.call && !t.timer->is_alive()) clear_call(*t.call);
}

// A Barrier and its Python action, which the collector must see.
struct PyBarrier : Barrier {
  PyBarrier(std::size_t parties, std::shared_ptr<PyCall> call, Timeout timeout)
      : Barrier(parties, action_for(call), timeout), action(std::move(call)) {}
  static std::function<void()> action_for(const std::shared_ptr<PyCall>& call) {
    if (!call) return {};
    return [call] {
      Gil gil;
      (*call)();
    };
  }
  std::shared_ptr<PyCall> action;  // null without an action
};

// A thread inside wait() keeps the barrier reachable, so a cleared action is never run.
int barrier_traverse(PyBarrier& b, visitproc visit, void* arg) {
  return b.action ? visit_call(*b.action, visit, arg) : 0;
}
void barrier_clear(PyBarrier& b) {
  if (b.action) clear_call(*b.action);
}

std::string timer_repr(py::handle self) {
  auto& t = *self.cast<PyTimer&>().timer;
  std::string status = "initial";
  auto ident = t.ident();
  if (ident) status = t.is_alive() ? "started" : "stopped";
  if (t.daemon()) status += " daemon";
  if (ident) status += " " + std::to_string(*ident);
  std::string cls = py::str(py::type::handle_of(self).attr("__name__"));
  return "<" + cls + "(" + t.name() + ", " + status + ")>";
}

// ---- fast paths (bindings.hpp): the no-argument calls of the hottest methods -----------

template <class L>
PyObject* fast_acquire(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                       PyObject* slow) {
  if (n == 0 && !kw) {
    if (L* l = cpp_ptr<L>(self)) {
      try {
        if (l->try_lock()) Py_RETURN_TRUE;
      } catch (...) {
        set_python_error(std::current_exception());
        return nullptr;
      }
    }
  }
  return call_slow(slow, self, args, n, kw);  // blocking, or arguments to check
}

// release() (no arguments) and __exit__(*exc_info) (any).
template <class L, bool kAnyArgs>
PyObject* fast_release(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                       PyObject* slow) {
  L* l = cpp_ptr<L>(self);
  if (!l || (!kAnyArgs && (n != 0 || kw))) return call_slow(slow, self, args, n, kw);
  try {
    l->release();
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
  Py_RETURN_NONE;
}

// A no-argument query or action that cannot fail.
template <class T, auto Member>
PyObject* fast_noargs(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                      PyObject* slow) {
  T* t = cpp_ptr<T>(self);
  if (!t || n != 0 || kw) return call_slow(slow, self, args, n, kw);
  if constexpr (std::is_same_v<decltype((t->*Member)()), bool>) {
    return PyBool_FromLong((t->*Member)());
  } else {
    (t->*Member)();
    Py_RETURN_NONE;
  }
}

// Condition's acquire()/__enter__ and release()/__exit__ go straight to its C++ lock.
PyObject* fast_cond_acquire(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                            PyObject* slow) {
  if (n == 0 && !kw) {
    if (PyCondition* c = cpp_ptr<PyCondition>(self); c && !c->foreign) {
      if (c->plain ? c->plain->try_lock() : c->reentrant->try_lock()) Py_RETURN_TRUE;
    }
  }
  return call_slow(slow, self, args, n, kw);
}

template <bool kAnyArgs>
PyObject* fast_cond_release(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                            PyObject* slow) {
  PyCondition* c = cpp_ptr<PyCondition>(self);
  if (!c || c->foreign || (!kAnyArgs && (n != 0 || kw))) return call_slow(slow, self, args, n, kw);
  try {
    c->plain ? c->plain->release() : c->reentrant->release();
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* fast_event_wait(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                          PyObject* slow) {
  if (n == 0 && !kw)
    if (Event* e = cpp_ptr<Event>(self); e && e->is_set()) Py_RETURN_TRUE;
  return call_slow(slow, self, args, n, kw);
}

}  // namespace

void bind_threading(py::module_& m) {
  py::class_<Lock> lock(m, "Lock", "A primitive lock, as threading.Lock: any thread may release it.");
  lock.def(py::init<>());
  bind_lock_protocol(lock);
  lock.def("release", &Lock::release, "Releases the lock; RuntimeError if it is unlocked.")
      .def("locked", &Lock::locked, "True while some thread holds the lock.")
      .def("_at_fork_reinit", &Lock::at_fork_reinit)
      .def("__repr__", [](py::handle self) {
        return "<" + std::string(self.cast<Lock&>().locked() ? "locked" : "unlocked") + " " +
               type_name(self) + " object at " + address(self) + ">";
      });

  py::class_<RLock> rlock(m, "RLock", "A reentrant lock, as threading.RLock.");
  rlock.def(py::init<>());
  bind_lock_protocol(rlock);
  rlock.def("release", &RLock::release, "Undoes one acquire; RuntimeError for a non-owner.")
      .def("locked", &RLock::locked)
      .def("_is_owned", &RLock::is_owned)
      .def("_recursion_count", &RLock::count)
      .def("_release_save",
           [](RLock& l) {
             const std::size_t depth = l.release_save();
             return py::make_tuple(depth, l.owner());  // CPython's (count, owner)
           })
      .def("_acquire_restore",
           [](RLock& l, const py::tuple& state) {
             const auto depth = state[0].cast<std::size_t>();
             NoGil nogil;
             l.acquire_restore(depth);
           })
      .def("_at_fork_reinit", &RLock::at_fork_reinit)
      .def("__repr__", [](py::handle self) {
        auto& l = self.cast<RLock&>();
        return "<" + std::string(l.locked() ? "locked" : "unlocked") + " " + type_name(self) +
               " object owner=" + std::to_string(l.owner()) +
               " count=" + std::to_string(l.owner_count()) + " at " + address(self) + ">";
      });

  install_fast<&fast_acquire<Lock>>(lock, "acquire");
  install_fast<&fast_acquire<Lock>, 1>(lock, "__enter__");
  install_fast<&fast_release<Lock, false>>(lock, "release");
  install_fast<&fast_release<Lock, true>>(lock, "__exit__");
  install_fast<&fast_noargs<Lock, &Lock::locked>>(lock, "locked");
  install_fast<&fast_acquire<RLock>>(rlock, "acquire");
  install_fast<&fast_acquire<RLock>, 1>(rlock, "__enter__");
  install_fast<&fast_release<RLock, false>>(rlock, "release");
  install_fast<&fast_release<RLock, true>>(rlock, "__exit__");

  py::class_<PyCondition> condition(m, "Condition", "A condition variable, as threading.Condition.");
  condition.def(py::init([](py::object lock) {
             if (lock.is_none()) lock = py::type::of<RLock>()();
             return new PyCondition(std::move(lock));
           }),
           "lock"_a = py::none())
      .def("acquire",
           [](PyCondition& c, const py::args& a, const py::kwargs& k) {
             return c.lock.attr("acquire")(*a, **k);
           })
      .def("release", [](PyCondition& c) { return c.lock.attr("release")(); })
      .def("__enter__", [](PyCondition& c) { return c.lock.attr("__enter__")(); })
      .def("__exit__", [](PyCondition& c, const py::args& a) { return c.lock.attr("__exit__")(*a); })
      // CPython's Condition takes these from its lock when it has them (RLock), else
      // falls back to plain acquire/release, as here.
      .def("_is_owned",
           [](PyCondition& c) -> py::object {
             if (py::hasattr(c.lock, "_is_owned")) return c.lock.attr("_is_owned")();
             if (c.lock.attr("acquire")(false).cast<bool>()) {
               c.lock.attr("release")();
               return py::bool_(false);
             }
             return py::bool_(true);
           })
      .def("_release_save",
           [](PyCondition& c) -> py::object {
             if (py::hasattr(c.lock, "_release_save")) return c.lock.attr("_release_save")();
             return c.lock.attr("release")();
           })
      .def("_acquire_restore",
           [](PyCondition& c, const py::object& state) -> py::object {
             if (py::hasattr(c.lock, "_acquire_restore"))
               return c.lock.attr("_acquire_restore")(state);
             return c.lock.attr("acquire")();
           })
      .def("_at_fork_reinit",
           [](PyCondition& c) {
             if (c.foreign) return void(c.foreign.attr("_at_fork_reinit")());
             c.lock.attr("_at_fork_reinit")();
             c.cond->at_fork_reinit();
           })
      .def("wait", &PyCondition::wait, "timeout"_a = py::none(),
           "Releases the lock until notified or timed out, then re-acquires it; True if notified.")
      .def("wait_for", &PyCondition::wait_for, "predicate"_a, "timeout"_a = py::none())
      .def(
          "notify",
          [](PyCondition& c, const py::object& n) {
            if (c.foreign) return void(c.foreign.attr("notify")(n));
            // Any integer; zero or less wakes nobody, as CPython's islice-based notify.
            const Py_ssize_t k = PyNumber_AsSsize_t(n.ptr(), PyExc_OverflowError);
            if (k == -1 && PyErr_Occurred()) throw py::error_already_set();
            c.cond->notify(k > 0 ? static_cast<std::size_t>(k) : 0);
          },
          "n"_a = 1)
      .def("notify_all",
           [](PyCondition& c) {
             if (c.foreign) return void(c.foreign.attr("notify_all")());
             c.cond->notify_all();
           })
      .def("__repr__", [](PyCondition& c) {
        if (c.foreign) return py::repr(c.foreign).cast<std::string>();
        return "<Condition(" + py::repr(c.lock).cast<std::string>() + ", " +
               std::to_string(c.cond->n_waiters()) + ")>";
      });

  install_fast<&fast_cond_acquire>(condition, "acquire");
  install_fast<&fast_cond_acquire, 1>(condition, "__enter__");
  install_fast<&fast_cond_release<false>>(condition, "release");
  install_fast<&fast_cond_release<true>>(condition, "__exit__");

  py::class_<Semaphore> semaphore(m, "Semaphore", "A counting semaphore, as threading.Semaphore.");
  semaphore.def(py::init([](const py::int_& v) { return new Semaphore(permits(v)); }), "value"_a = 1)
      .def("acquire", &semaphore_acquire, "blocking"_a = true, "timeout"_a = py::none())
      .def("release", &Semaphore::release, "n"_a = 1)
      .def("__enter__", [](Semaphore& s) { return semaphore_acquire(s, true, py::none()); })
      .def("__exit__", [](Semaphore& s, const py::args&) { s.release(); })
      .def("__repr__", [](py::handle self) {
        return "<" + type_name(self) + " at " + address(self) +
               ": value=" + std::to_string(self.cast<Semaphore&>().value()) + ">";
      });

  // Also serve BoundedSemaphore, whose Semaphore base sits at offset zero.
  install_fast<&fast_acquire<Semaphore>>(semaphore, "acquire");
  install_fast<&fast_acquire<Semaphore>, 1>(semaphore, "__enter__");
  install_fast<&fast_release<Semaphore, false>>(semaphore, "release");
  install_fast<&fast_release<Semaphore, true>>(semaphore, "__exit__");

  py::class_<BoundedSemaphore, Semaphore>(
      m, "BoundedSemaphore", "A semaphore that may not grow past its initial value.")
      .def(py::init([](const py::int_& v) { return new BoundedSemaphore(permits(v)); }),
           "value"_a = 1)
      .def("__repr__", [](py::handle self) {
        auto& s = self.cast<BoundedSemaphore&>();
        return "<" + type_name(self) + " at " + address(self) + ": value=" +
               std::to_string(s.value()) + "/" + std::to_string(s.initial_value()) + ">";
      });

  py::class_<Event> event(m, "Event", "A flag threads can wait for, as threading.Event.");
  event
      .def(py::init<>())
      .def("is_set", &Event::is_set)
      .def("_at_fork_reinit", &Event::at_fork_reinit)
      .def("set", &Event::set)
      .def("clear", &Event::clear)
      .def(
          "wait",
          [](Event& e, const py::object& timeout) {
            if (e.is_set()) return true;
            return wait_released(blocking_timeout(timeout),
                                 [&](const Timeout& step) { return e.wait(step); });
          },
          "timeout"_a = py::none(), "Blocks until set or timed out; returns the flag.")
      .def("__repr__", [](py::handle self) {
        return "<" + type_name(self) + " at " + address(self) + ": " +
               (self.cast<Event&>().is_set() ? "set" : "unset") + ">";
      });

  install_fast<&fast_noargs<Event, &Event::is_set>>(event, "is_set");
  install_fast<&fast_noargs<Event, &Event::set>>(event, "set");
  install_fast<&fast_noargs<Event, &Event::clear>>(event, "clear");
  install_fast<&fast_event_wait>(event, "wait");

  // The barrier's action runs on the last arriving thread with the barrier's lock held,
  // as in CPython; every Barrier call that takes that lock releases the GIL first so that
  // the action (which takes the GIL) can never wait for a thread that holds the GIL and
  // wants the lock. n_waiting, broken and the repr take no lock, so the action may read them.
  py::class_<PyBarrier>(m, "Barrier", gc_visible<PyBarrier, &barrier_traverse, &barrier_clear, false>(),
                        "A barrier for a fixed number of threads.")
      .def(py::init([](std::size_t parties, const py::object& action, const py::object& timeout) {
             std::shared_ptr<PyCall> call;
             if (!action.is_none())
               call = std::make_shared<PyCall>(
                   PyCall{PyRef(action), PyRef(py::tuple()), PyRef(py::dict())});
             return new PyBarrier(parties, std::move(call), blocking_timeout(timeout));
           }),
           "parties"_a, "action"_a = py::none(), "timeout"_a = py::none())
      .def(
          "wait",
          [](PyBarrier& b, const py::object& timeout) {
            const Timeout t = timeout.is_none() ? b.default_timeout() : blocking_timeout(timeout);
            NoGil nogil;
            if (!in_main_thread()) return b.wait(t);
            // Signals reach only the main thread: check them between slices, as
            // wait_released does, without breaking the barrier.
            return b.wait(t, Timeout(kSignalSlice), [] {
              Gil gil;
              if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            });
          },
          "timeout"_a = py::none())
      .def("reset", &Barrier::reset, py::call_guard<NoGil>())
      .def("abort", &Barrier::abort, py::call_guard<NoGil>())
      .def_property_readonly("parties", [](const PyBarrier& b) { return b.parties(); })
      .def_property_readonly("n_waiting", [](const PyBarrier& b) { return b.n_waiting(); })
      .def_property_readonly("broken", [](const PyBarrier& b) { return b.broken(); })
      .def("__repr__", [](py::handle self) {
        const Barrier& b = self.cast<PyBarrier&>();
        std::string head = "<" + type_name(self) + " at " + address(self) + ": ";
        if (b.broken()) return head + "broken>";
        return head + "waiters=" + std::to_string(b.n_waiting()) + "/" +
               std::to_string(b.parties()) + ">";
      });

  py::class_<PyTimer>(m, "Timer", py::dynamic_attr(),
                      gc_visible<PyTimer, &timer_traverse, &timer_clear, true>(),
                      "Calls a function after `interval` seconds unless cancelled, as threading.Timer.")
      .def(py::init([](double interval, py::object function, py::object args, py::object kwargs) {
             if (args.is_none()) args = py::list();  // fresh per Timer, as CPython's
             if (kwargs.is_none()) kwargs = py::dict();
             auto call = std::make_shared<PyCall>(
                 PyCall{PyRef(function), PyRef(py::tuple(args)), PyRef(py::dict(kwargs))});
             auto* t = new PyTimer{
                 std::make_shared<Timer>(blocking_timeout(interval), TimerCall{call}), interval,
                 function, args, kwargs, call};
             // Python's threads inherit daemon from the creating Python thread.
             t->timer->set_daemon(
                 py::module_::import("threading").attr("current_thread")().attr("daemon").cast<bool>());
             return t;
           }),
           "interval"_a, "function"_a, "args"_a = py::none(), "kwargs"_a = py::none())
      .def("start",
           [](PyTimer& t) {
             reap_timers();
             {
               NoGil nogil;
               t.timer->start();
             }
             started_timers().push_back(t.timer);
           })
      .def("cancel", [](PyTimer& t) { t.timer->cancel(); })
      .def(
          "join",
          [](PyTimer& t, const py::object& timeout) {
            Timer& timer = *t.timer;
            wait_released(blocking_timeout(timeout), [&](const Timeout& step) {
              timer.join(step);
              return !timer.is_alive();
            });
          },
          "timeout"_a = py::none())
      .def("is_alive", [](PyTimer& t) { return t.timer->is_alive(); })
      .def_property(
          "name", [](PyTimer& t) { return t.timer->name(); },
          [](PyTimer& t, std::string n) { t.timer->set_name(std::move(n)); })
      .def_property(
          "daemon", [](PyTimer& t) { return t.timer->daemon(); },
          [](PyTimer& t, bool d) { t.timer->set_daemon(d); })
      .def_property_readonly("ident", [](PyTimer& t) { return t.timer->ident(); })
      .def_property_readonly("native_id", [](PyTimer& t) { return t.timer->native_id(); })
      .def_readonly("interval", &PyTimer::interval)
      .def_readonly("function", &PyTimer::function)
      .def_readonly("args", &PyTimer::args)
      .def_readonly("kwargs", &PyTimer::kwargs)
      .def("__repr__", &timer_repr);

  m.def("_join_timers", &join_timers, "Waits for pending timers (registered with atexit).");
  py::module_::import("atexit").attr("register")(m.attr("_join_timers"));
}

// For the C API (capi.cpp): the library object inside a threading object of `kind`
// (python::capi::Kind), or nullptr. Beside the bindings because it knows their classes. A
// Condition over a foreign lock is CPython's own and has no library condition.
void* capi_threading(PyObject* obj, int kind) {
  namespace capi = gilfree::python::capi;
  py::handle h(obj);
  auto get = [&](auto* type) -> void* {
    using T = std::remove_pointer_t<decltype(type)>;
    return py::isinstance<T>(h) ? static_cast<void*>(&h.cast<T&>()) : nullptr;
  };
  switch (kind) {
    case capi::kLock:
      return get((Lock*)nullptr);
    case capi::kRLock:
      return get((RLock*)nullptr);
    case capi::kSemaphore:
      return py::isinstance<Semaphore>(h) ? static_cast<void*>(&h.cast<Semaphore&>()) : nullptr;
    case capi::kBoundedSemaphore:
      return get((BoundedSemaphore*)nullptr);
    case capi::kEvent:
      return get((Event*)nullptr);
    case capi::kBarrier:
      return py::isinstance<PyBarrier>(h) ? static_cast<void*>(static_cast<Barrier*>(&h.cast<PyBarrier&>()))
                                          : nullptr;
    case capi::kCondition:
      return py::isinstance<PyCondition>(h) ? static_cast<void*>(h.cast<PyCondition&>().cond.get()) : nullptr;
    default:
      return nullptr;
  }
}

}  // namespace gilfree::py_bind
