// python/bindings.hpp — what the gilfree module's translation units share: references to
// Python objects that any thread may hold, the GIL-releasing wait loop, timeout checks
// and repr helpers. Glue only; the behaviour lives in the C++ library.
//
// One translation unit per Python module (threading.cpp, queue.cpp, sched.cpp) keeps
// the builds small and the names apart.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "gilfree/errors.hpp"
#include "gilfree/python.hpp"
#include "gilfree/threading.hpp"
#include "gilfree/timeout.hpp"

namespace gilfree::py_bind {

namespace py = pybind11;

// ---- the GIL and interpreter exit ------------------------------------------------------
//
// Python 3.11 ends a thread that asks for the GIL after finalization began with
// pthread_exit(), a forced unwind that std::terminate()s when it meets a noexcept frame
// (pybind11's GIL guards, every destructor): the whole process aborts. So every GIL
// (re)acquisition in this module goes through a gate (module.cpp): once the interpreter
// is shutting down (our atexit hook closed the gate, after every thread already asking was
// let through), a thread other than the main one that asks for the GIL parks forever
// instead, as Python 3.14 itself does, and the process exits around it.

// Re-attaches `ts` (from PyEval_SaveThread) through the gate.
void restore_thread(PyThreadState* ts) noexcept;
// PyGILState_Ensure() through the gate.
PyGILState_STATE ensure_gil() noexcept;

// Holds the GIL for its lifetime, from any thread (Python threads that released it with
// NoGil, C++ threads Python never saw), through the gate; and the owned reference that
// C++ code moves around without the GIL (queue items, callables kept for later): the
// public types of <gilfree/python.hpp>, so that an extension's C++ threads and this
// module exchange the same items and take the GIL the same way (export_capi points
// python.hpp's Gil at ensure_gil()).
using Gil = gilfree::python::Gil;
using PyRef = gilfree::python::Object;

// Releases the GIL for its lifetime (the caller holds it), re-taking it through the gate:
// this module's py::gil_scoped_release.
class NoGil {
 public:
  NoGil() noexcept : ts_(PyEval_SaveThread()) {}
  ~NoGil() { restore_thread(ts_); }
  NoGil(const NoGil&) = delete;
  NoGil& operator=(const NoGil&) = delete;

 private:
  PyThreadState* ts_;
};


// `fn(*args, **kwargs)` kept for a later call from any thread (Timer, sched, Barrier).
struct PyCall {
  PyRef fn, args, kwargs;  // args: a tuple; kwargs: a dict or empty
  // Calls it; the caller holds the GIL. Raises py::error_already_set.
  py::object operator()() const {
    PyObject* r = PyObject_Call(fn.ptr(), args.ptr(), kwargs.ptr());
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  }
};

// The interpreter's main thread, the only one Python delivers signals to (module.cpp).
bool in_main_thread() noexcept;

// How long one GIL-free wait lasts in the main thread before it checks for signals, so
// Ctrl-C interrupts a blocked acquire/get/wait within this time, as it does in CPython.
inline constexpr std::chrono::milliseconds kSignalSlice{50};

// Runs `attempt(Timeout) -> bool` with the GIL released until it returns true or
// `timeout` has passed; returns the last result. Other threads wait in one go; the main
// thread waits in kSignalSlice slices and runs Python's signal handlers in between (a
// KeyboardInterrupt propagates as py::error_already_set). A zero timeout makes exactly
// one attempt.
template <class F>
bool wait_released(const Timeout& timeout, F&& attempt) {
  const Deadline deadline = timeout.deadline();
  const bool slices = in_main_thread();
  for (;;) {
    Timeout step;  // forever
    if (!deadline.is_forever()) step = Timeout(deadline.remaining());
    if (slices && (step.is_forever() || step.duration() > kSignalSlice)) step = Timeout(kSignalSlice);
    bool done;
    {
      NoGil nogil;
      done = attempt(step);
    }
    if (done) return true;
    if (deadline.expired()) return false;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

// OverflowError, as CPython raises for a timeout beyond threading.TIMEOUT_MAX.
[[noreturn]] inline void raise_overflow() {
  PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
  throw py::error_already_set();
}

// A timeout in seconds for a wait that is about to block, as CPython's pure-Python
// objects (Event, Condition, Semaphore) treat it: negative or NaN means "poll once" (their
// `timeout > 0` test is false for both), beyond TIMEOUT_MAX an OverflowError.
inline Timeout blocking_timeout(double seconds) {
  if (std::isnan(seconds) || seconds < 0) return Timeout::zero();
  if (seconds > TIMEOUT_MAX) raise_overflow();
  return Timeout(seconds);
}
// The seconds in a Python timeout argument: any real number (int, float, or an object with
// __float__); anything else is a TypeError, as CPython's comparisons raise.
inline double timeout_seconds(const py::handle& seconds) {
  const double d = PyFloat_AsDouble(seconds.ptr());
  if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return d;
}
// None means forever.
inline Timeout blocking_timeout(const py::object& seconds) {
  return seconds.is_none() ? Timeout() : blocking_timeout(timeout_seconds(seconds));
}

// "module.qualname" of the object's type, for reprs that CPython builds from the type.
inline std::string type_name(py::handle self) {
  py::handle t(reinterpret_cast<PyObject*>(Py_TYPE(self.ptr())));
  return py::str(t.attr("__module__")).cast<std::string>() + "." +
         py::str(t.attr("__qualname__")).cast<std::string>();
}
// The object's address as CPython's reprs print it (id(obj) in hex).
inline std::string address(py::handle self) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#lx",
                static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(self.ptr())));
  return buf;
}

// ---- fast paths -------------------------------------------------------------------------
//
// pybind11's dispatcher costs ~150-200 ns per call (argument loaders, overload records),
// several times a CPython builtin method. The hottest methods therefore get a plain
// METH_FASTCALL entry that does the common case (an uncontended acquire, a put that finds
// room, a get that finds an item) straight on the C++ object and hands every other call
// (keywords, blocking, errors) to the pybind11 method it replaced, which stays the one
// place for argument checking and semantics.

// Sets the Python exception for the C++ exception `p`, as the module's translator does.
void set_python_error(std::exception_ptr p) noexcept;

// The C++ object inside a pybind11 instance of a class with one C++ base at offset zero
// (all the fast-path classes), or nullptr if that layout does not hold.
template <class T>
T* cpp_ptr(PyObject* self) noexcept {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (!inst->simple_layout || !inst->simple_holder_constructed) return nullptr;
  return static_cast<T*>(inst->simple_value_holder[0]);
}

// ---- garbage collection -------------------------------------------------------------------

// Makes a class's instances visible to the cycle collector, as CPython's own objects are:
// `Traverse(T&, visitproc, void*) -> int` visits each Python reference the C++ object owns
// (it may visit fewer, never one it does not own: a reference visited but not owned could
// get a live object freed), `Clear(T&)` drops them. `kDict`: the class has dynamic_attr,
// whose __dict__ is visited and cleared too. An instance whose __init__ never ran owns
// nothing.
template <class T, auto Traverse, bool kDict>
int gc_traverse(PyObject* self, visitproc visit, void* arg) {
  if constexpr (kDict) {
    // A Python subclass's subtype_traverse visits the __dict__ itself before calling this;
    // a second visit would count the dict's reference twice, which makes the collector
    // treat it as referenced from outside (so its cycles would never be collected).
    if (Py_TYPE(self)->tp_traverse == &gc_traverse<T, Traverse, kDict>) {
      if (int r = py::detail::pybind11_traverse(self, visit, arg)) return r;
    } else {
      Py_VISIT(Py_TYPE(self));
    }
  } else {
    Py_VISIT(Py_TYPE(self));
  }
  if (T* t = cpp_ptr<T>(self)) return Traverse(*t, visit, arg);
  return 0;
}

template <class T, auto Traverse, auto Clear, bool kDict>
py::custom_type_setup gc_visible() {
  return py::custom_type_setup([](PyHeapTypeObject* heap) {
    PyTypeObject* type = &heap->ht_type;
    type->tp_flags |= Py_TPFLAGS_HAVE_GC;
    type->tp_traverse = &gc_traverse<T, Traverse, kDict>;
    type->tp_clear = [](PyObject* self) -> int {
      if constexpr (kDict) py::detail::pybind11_clear(self);
      if (T* t = cpp_ptr<T>(self)) Clear(*t);
      return 0;
    };
  });
}

// Visits the references of a PyCall (any of them may be empty).
inline int visit_call(const PyCall& c, visitproc visit, void* arg) {
  Py_VISIT(c.fn.ptr());
  Py_VISIT(c.args.ptr());
  Py_VISIT(c.kwargs.ptr());
  return 0;
}
// Drops them (the GIL held), so that calling it afterwards would be a bug: only for an
// object the collector found unreachable.
inline void clear_call(PyCall& c) {
  c.fn.reset();
  c.args.reset();
  c.kwargs.reset();
}

using FastBody = PyObject* (*)(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                               PyObject* kwnames, PyObject* slow);

// The pybind11 method each installed fast body falls back to; `Tag` tells apart two
// methods sharing one body (acquire and __enter__).
template <FastBody Body, int Tag>
inline PyObject* g_slow = nullptr;

// Calls the pybind11 method with the fast call's arguments.
inline PyObject* call_slow(PyObject* slow, PyObject* self, PyObject* const* args,
                           Py_ssize_t nargs, PyObject* kwnames) noexcept {
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  PyObject* small[8];
  std::unique_ptr<PyObject*[]> big;
  PyObject** buf = small;
  if (nargs + nkw + 1 > 8) buf = (big = std::make_unique<PyObject*[]>(nargs + nkw + 1)).get();
  buf[0] = self;
  for (Py_ssize_t i = 0; i < nargs + nkw; ++i) buf[i + 1] = args[i];
  return PyObject_Vectorcall(slow, buf, nargs + 1, kwnames);
}

template <FastBody Body, int Tag>
PyObject* fast_entry(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Body(self, args, nargs, kwnames, g_slow<Body, Tag>);
}

// Replaces cls.<name> (a pybind11 method) with a METH_FASTCALL method running `Body`,
// which gets the pybind11 method for every call it does not handle itself. Each
// (Body, Tag) pair may be installed once.
template <FastBody Body, int Tag = 0>
void install_fast(py::handle cls, const char* name) {
  py::object slow = cls.attr(name);
  g_slow<Body, Tag> = slow.inc_ref().ptr();  // kept for the interpreter's life
  std::string doc = py::hasattr(slow, "__doc__") && !slow.attr("__doc__").is_none()
                        ? slow.attr("__doc__").cast<std::string>()
                        : std::string();
  auto* def = new PyMethodDef{name, reinterpret_cast<PyCFunction>(
                                        reinterpret_cast<void (*)()>(&fast_entry<Body, Tag>)),
                              METH_FASTCALL | METH_KEYWORDS, strdup(doc.c_str())};
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
  if (!descr) throw py::error_already_set();
  py::setattr(cls, name, py::reinterpret_steal<py::object>(descr));
}

// ---- the C API for extension authors (capi.cpp; read by include/gilfree/python.hpp) ------
// Publishes the capsule gilfree._C_API.
void export_capi(py::module_& m);
// The library object inside a gilfree threading object of `kind` (a
// python::capi::Kind: Lock ... Barrier), else nullptr (threading.cpp). GIL held.
void* capi_threading(PyObject* obj, int kind);
// The queue inside a gilfree.Queue/LifoQueue (kind kQueue, no Python hooks) or SimpleQueue
// (kSimpleQueue) as the table's opaque pointer, else nullptr (queue.cpp). GIL held.
void* capi_queue(PyObject* obj, int kind);
// Sets the table's queue functions (queue.cpp).
void fill_queue_capi(gilfree::python::capi::Table& table);

void bind_threading(py::module_& m);
void bind_queue(py::module_& m, py::module_& testing);
void bind_sched(py::module_& m);

}  // namespace gilfree::py_bind
