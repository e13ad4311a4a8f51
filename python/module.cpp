// The `gilfree` Python module: drop-in threading / queue / sched objects backed by the
// C++ library. This file makes the module, maps the library's exceptions onto Python's
// and hands the names to threading.cpp, queue.cpp and sched.cpp.
#include <pybind11/pybind11.h>

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

  py::module_ testing = m.def_submodule(
      "_testing", "Test-only helpers: C++ threads that share gilfree objects with Python.");
  bind_threading(m);
  bind_queue(m, testing);
  bind_sched(m);
  export_capi(m);  // gilfree._C_API for <gilfree/python.hpp>
}
