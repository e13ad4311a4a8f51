// Buffer (buffers.hpp): the buffer protocol's checks, as Python-level errors.
#include "buffers.hpp"

#include <cstring>

#include "gilfree/python.hpp"

namespace vecmath {

namespace {

// float64 in native order: "d" with an optional native/standard little-endian prefix.
bool is_float64(const char* format, Py_ssize_t itemsize) {
  if (itemsize != sizeof(double) || format == nullptr) return false;
  if (std::strcmp(format, "d") == 0 || std::strcmp(format, "@d") == 0 ||
      std::strcmp(format, "=d") == 0)
    return true;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return std::strcmp(format, "<d") == 0;
#else
  return std::strcmp(format, ">d") == 0;
#endif
}

}  // namespace

Buffer::Buffer(py::handle obj, const char* name, bool writable) {
  if (!PyObject_CheckBuffer(obj.ptr()))
    throw py::type_error(std::string(name) + ": expected a buffer of float64, got " +
                         Py_TYPE(obj.ptr())->tp_name);
  // Ask for strides and format without requiring anything, then check each property
  // ourselves: the exporter's own errors (BufferError for most) would not say which
  // argument was wrong or why.
  if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
  held_ = true;
  if (!is_float64(view_.format, view_.itemsize)) {
    std::string got = view_.format ? view_.format : "B";
    release();
    throw py::type_error(std::string(name) + ": expected a buffer of float64 (format 'd'), got format '" +
                         got + "'");
  }
  if (!PyBuffer_IsContiguous(&view_, 'C')) {
    release();
    throw py::value_error(std::string(name) + ": buffer is not C-contiguous");
  }
  if (writable && view_.readonly) {
    release();
    throw py::value_error(std::string(name) + ": output buffer is read-only");
  }
}

void Buffer::release() noexcept {
  if (!std::exchange(held_, false)) return;
  gilfree::python::Gil gil;  // through the gilfree module's exit gate
  PyBuffer_Release(&view_);
}

void check_same_length(const Buffer& a, const char* an, const Buffer& b, const char* bn) {
  if (a.size() != b.size())
    throw py::value_error(std::string("length mismatch: ") + an + " has " + std::to_string(a.size()) +
                          " elements, " + bn + " has " + std::to_string(b.size()));
}

}  // namespace vecmath

namespace vecmath {
void check_no_partial_overlap(const Buffer& out, const char* outn, const Buffer& in, const char* inn) {
  const double* o = out.data();
  const double* i = in.data();
  if (o == i && out.size() == in.size()) return;
  if (o < i + in.size() && i < o + out.size())
    throw py::value_error(std::string(outn) + " partly overlaps " + inn);
}
}  // namespace vecmath
