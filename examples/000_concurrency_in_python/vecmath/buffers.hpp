// Float64 buffers for the vecmath extension: any object with the buffer protocol (NumPy
// arrays, array.array('d'), memoryview) checked once, with the GIL held, so the kernels
// can then read and write plain memory with the GIL released. Every check failure is a
// Python exception raised before any work starts.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>
#include <utility>

namespace vecmath {

namespace py = pybind11;

// One acquired buffer of float64, C-contiguous, any number of dimensions (seen flat).
// Holds the exporter's buffer (and so the object) until it is released; the release
// takes the GIL, so a worker thread may drop the last Buffer of a call.
class Buffer {
 public:
  Buffer() noexcept = default;
  // Acquires `obj`'s buffer for reading, or for writing when `writable`. `name` is the
  // argument's name in error messages. Raises TypeError when `obj` has no buffer or it
  // is not float64, ValueError when it is not C-contiguous or (writable) read-only. The
  // caller holds the GIL.
  Buffer(py::handle obj, const char* name, bool writable);
  Buffer(Buffer&& o) noexcept : view_(o.view_), held_(std::exchange(o.held_, false)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      view_ = o.view_;
      held_ = std::exchange(o.held_, false);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  // Releases the buffer now (taking the GIL if this thread does not hold it).
  void release() noexcept;

  const double* data() const noexcept { return static_cast<const double*>(view_.buf); }
  double* mutable_data() const noexcept { return static_cast<double*>(view_.buf); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(view_.len) / sizeof(double); }
  // The exporting object (a borrowed reference, valid while the buffer is held).
  py::handle owner() const noexcept { return view_.obj; }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

// Raises ValueError unless `a` and `b` hold the same number of elements.
void check_same_length(const Buffer& a, const char* an, const Buffer& b, const char* bn);

}  // namespace vecmath

namespace vecmath {
// Raises ValueError when `out` and `in` share memory without being the same range: an
// element-wise kernel split over threads may then read what another thread already wrote.
void check_no_partial_overlap(const Buffer& out, const char* outn, const Buffer& in, const char* inn);
}  // namespace vecmath
