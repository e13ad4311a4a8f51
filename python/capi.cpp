// The C API for extension authors: the capsule gilfree._C_API that
// include/gilfree/python.hpp reads (capi::Table). It maps a Python object to the C++
// object inside it and runs queue calls without the GIL; the objects' behaviour stays in
// the library and in the other translation units (queue.cpp fills the queue entries).
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "gilfree/python.hpp"
#include "gilfree/threading.hpp"

namespace gilfree::py_bind {

namespace {

namespace capi = gilfree::python::capi;

PyObject* g_bounded_semaphore_type = nullptr;  // gilfree.BoundedSemaphore (leaked)

template <class T>
void* library_object(PyObject* obj) {
  py::handle h(obj);
  return py::isinstance<T>(h) ? static_cast<void*>(&h.cast<T&>()) : nullptr;
}

void* unwrap(PyObject* obj, int kind) noexcept {
  if (obj == nullptr) return nullptr;
  try {
    switch (kind) {
      case capi::kLock:
        return library_object<Lock>(obj);
      case capi::kRLock:
        return library_object<RLock>(obj);
      case capi::kSemaphore:
        return library_object<Semaphore>(obj);
      case capi::kBoundedSemaphore: {
        // Bound as a subclass of Semaphore over a private C++ class deriving from
        // BoundedSemaphore: recognised by its Python type, reached through Semaphore.
        int is = PyObject_IsInstance(obj, g_bounded_semaphore_type);
        if (is < 0) PyErr_Clear();
        if (is <= 0) return nullptr;
        return static_cast<BoundedSemaphore*>(static_cast<Semaphore*>(library_object<Semaphore>(obj)));
      }
      case capi::kEvent:
        return library_object<Event>(obj);
      case capi::kBarrier:
        return library_object<Barrier>(obj);
      case capi::kCondition:
        return capi_condition(obj);
      case capi::kQueue:
      case capi::kSimpleQueue:
        return capi_queue(obj, kind);
      default:
        return nullptr;
    }
  } catch (...) {  // a failed cast: not one of ours
    PyErr_Clear();
    return nullptr;
  }
}

PyGILState_STATE plain_ensure_gil() noexcept { return PyGILState_Ensure(); }

}  // namespace

void export_capi(py::module_& m) {
  static capi::Table table{};  // lives as long as the process: extensions keep pointers
  g_bounded_semaphore_type = py::object(m.attr("BoundedSemaphore")).release().ptr();
  table.version = capi::kVersion;
  table.size = sizeof(capi::Table);
  table.unwrap = &unwrap;
  table.ensure_gil = &plain_ensure_gil;
  fill_queue_capi(table);
  m.attr("_C_API") = py::capsule(&table, capi::kCapsuleName);
}

}  // namespace gilfree::py_bind
