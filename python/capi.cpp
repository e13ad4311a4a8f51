// The C API for extension authors: the capsule gilfree._C_API that
// include/gilfree/python.hpp reads (capi::Table). It maps a Python object to the C++
// object inside it and runs queue calls without the GIL; the objects' behaviour stays in
// the library and beside each binding (threading.cpp and queue.cpp know their classes;
// queue.cpp fills the queue entries).
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "gilfree/python.hpp"
#include "gilfree/threading.hpp"

namespace gilfree::py_bind {

namespace {

namespace capi = gilfree::python::capi;

void* unwrap(PyObject* obj, int kind) noexcept {
  if (obj == nullptr) return nullptr;
  try {
    if (kind == capi::kQueue || kind == capi::kSimpleQueue) return capi_queue(obj, kind);
    return capi_threading(obj, kind);
  } catch (...) {  // a failed cast: not one of ours
    PyErr_Clear();
    return nullptr;
  }
}

}  // namespace

void export_capi(py::module_& m) {
  static capi::Table table{};  // lives as long as the process: extensions keep pointers
  table.version = capi::kVersion;
  table.size = sizeof(capi::Table);
  table.unwrap = &unwrap;
  table.ensure_gil = &ensure_gil;  // the exit gate (module.cpp)
  // This module's own python::Gil (PyRef's drops, the policies' calls) goes through it too.
  gilfree::python::detail::ensure_gil.store(&ensure_gil, std::memory_order_release);
  fill_queue_capi(table);
  m.attr("_C_API") = py::capsule(&table, capi::kCapsuleName);
}

}  // namespace gilfree::py_bind
