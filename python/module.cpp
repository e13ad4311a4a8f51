// The `gilfree` Python module: drop-in threading / queue / sched objects backed by the
// C++ library. This file makes the module, maps the library's exceptions onto Python's
// and hands the names to threading.cpp, queue.cpp and sched.cpp.
#include <pybind11/pybind11.h>

#include <unistd.h>

#include <atomic>
#include <exception>
#include <new>
#include <stdexcept>

#include "bindings.hpp"
#include "gilfree/errors.hpp"
#include "gilfree/timeout.hpp"

namespace gilfree::py_bind {

namespace {
unsigned long g_main_ident = 0;
// The exception classes gilfree raises: CPython's own where they exist, so that
// `except queue.Empty` and `except threading.BrokenBarrierError` keep working after a
// drop-in replacement. Leaked on purpose (they live as long as the interpreter).
PyObject* g_empty = nullptr;
PyObject* g_full = nullptr;
PyObject* g_shutdown = nullptr;
PyObject* g_broken_barrier = nullptr;
}  // namespace

bool in_main_thread() noexcept { return PyThread_get_thread_ident() == g_main_ident; }

// ---- the GIL gate (bindings.hpp) --------------------------------------------------------

namespace {
// Closed by close_gate() at exit; threads between enter_gate() and leave_gate() counted in
// g_asking (seq_cst on both sides: a thread either sees the gate closed or is counted
// before close_gate() reads the count).
std::atomic<bool> g_closed{false};
std::atomic<long> g_asking{0};

[[noreturn]] void park_forever() noexcept {
  for (;;) ::pause();  // no signal handler of ours returns into Python from here
}

// The main thread finalizes the interpreter and is never ended by it, so it never parks.
void enter_gate() noexcept {
  if (in_main_thread()) return;
  g_asking.fetch_add(1, std::memory_order_seq_cst);
  if (g_closed.load(std::memory_order_seq_cst) || _Py_IsFinalizing()) {
    if (g_asking.fetch_sub(1, std::memory_order_seq_cst) == 1) g_asking.notify_all();
    park_forever();
  }
}

void leave_gate() noexcept {
  if (in_main_thread()) return;
  if (g_asking.fetch_sub(1, std::memory_order_seq_cst) == 1) g_asking.notify_all();
}

// atexit (the last Python code before finalization, main thread, GIL held): closes the
// gate, then lets every thread already asking for the GIL have it and go back to Python
// before finalization can begin.
void close_gate() {
  g_closed.store(true, std::memory_order_seq_cst);
  NoGil nogil;  // the main thread: never parks
  for (long n; (n = g_asking.load(std::memory_order_seq_cst)) != 0;) g_asking.wait(n);
}
}  // namespace

void restore_thread(PyThreadState* ts) noexcept {
  enter_gate();
  PyEval_RestoreThread(ts);
  leave_gate();
}

PyGILState_STATE ensure_gil() noexcept {
  if (PyGILState_Check()) return PyGILState_Ensure();  // held already: cannot end us
  enter_gate();
  PyGILState_STATE s = PyGILState_Ensure();
  leave_gate();
  return s;
}

// Most derived first. CPython raises Empty, Full and BrokenBarrierError without a
// message, so these carry none either. Other exceptions (error_already_set, the standard
// ones) are left to pybind11 when this runs as its translator; the fast paths get them
// mapped here too.
void set_python_error(std::exception_ptr p) noexcept {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const BrokenBarrierError&) {
    PyErr_SetNone(g_broken_barrier);
  } catch (const Empty&) {
    PyErr_SetNone(g_empty);
  } catch (const Full&) {
    PyErr_SetNone(g_full);
  } catch (const ShutDown&) {
    PyErr_SetNone(g_shutdown);
  } catch (const TimeoutError& e) {
    PyErr_SetString(PyExc_TimeoutError, e.what());
  } catch (const ValueError& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const RuntimeError& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (pybind11::error_already_set& e) {
    e.restore();
  } catch (pybind11::builtin_exception& e) {  // py::value_error, py::type_error, ...
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
}

// pybind11 hands a method called on an instance whose __init__ never ran (made by
// Cls.__new__(Cls), or copy.copy) freshly allocated, unconstructed memory as `this`. Each
// class's typeinfo gets this allocator instead, so such a call raises TypeError.
void* refuse_uninitialised(std::size_t) {
  throw py::type_error("this gilfree object is not initialised (its __init__ never ran)");
}

// Installs refuse_uninitialised for every pybind11 class among `mod`'s attributes.
void guard_classes(py::module_& mod) {
  for (auto item : mod.attr("__dict__").cast<py::dict>()) {
    if (!PyType_Check(item.second.ptr())) continue;
    auto* type = reinterpret_cast<PyTypeObject*>(item.second.ptr());
    if (auto* info = py::detail::get_type_info(type)) info->operator_new = &refuse_uninitialised;
  }
}

}  // namespace gilfree::py_bind

PYBIND11_MODULE(gilfree, m) {
  namespace py = pybind11;
  using namespace gilfree::py_bind;
  m.doc() =
      "Python's threading, queue and sched objects backed by the gilfree C++ library.\n\n"
      "Drop-in replacements: same signatures, defaults, exceptions and reprs; blocking\n"
      "calls release the GIL, so Python threads and C++ threads can share one object.";

  py::module_ threading = py::module_::import("threading");
  py::module_ queue = py::module_::import("queue");
  g_main_ident = threading.attr("main_thread")().attr("ident").cast<unsigned long>();

  g_empty = py::object(queue.attr("Empty")).release().ptr();
  g_full = py::object(queue.attr("Full")).release().ptr();
  g_broken_barrier = py::object(threading.attr("BrokenBarrierError")).release().ptr();
  if (py::hasattr(queue, "ShutDown")) {  // Python 3.13+
    g_shutdown = py::object(queue.attr("ShutDown")).release().ptr();
  } else {
    g_shutdown = PyErr_NewExceptionWithDoc("gilfree.ShutDown",
                                           "Raised by put or get on a queue that was shut down.",
                                           PyExc_Exception, nullptr);
  }
  m.attr("Empty") = py::handle(g_empty);
  m.attr("Full") = py::handle(g_full);
  m.attr("ShutDown") = py::handle(g_shutdown);
  m.attr("BrokenBarrierError") = py::handle(g_broken_barrier);
  m.attr("TIMEOUT_MAX") = gilfree::TIMEOUT_MAX;

  py::register_exception_translator(&set_python_error);
  // Registered before the timers' hook, so that atexit (last in, first out) closes the
  // gate after pending timers ran.
  m.def("_close_gil_gate", &close_gate, "Parks threads that ask for the GIL from now on.");
  py::module_::import("atexit").attr("register")(m.attr("_close_gil_gate"));

  py::module_ testing = m.def_submodule(
      "_testing", "Test-only helpers: C++ threads that share gilfree objects with Python.");
  bind_threading(m);
  bind_queue(m, testing);
  bind_sched(m);
  guard_classes(m);
  guard_classes(testing);
  export_capi(m);  // gilfree._C_API for <gilfree/python.hpp>
}
