// What objects.cpp and pipeline.cpp share: a C++ thread whose end Python can wait for.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "gilfree/threading.hpp"

namespace vecmath {

namespace py = pybind11;

// A gilfree::Thread running one C++ body; Python joins it (without the GIL) and reads
// what it returned. A Worker that Python drops while its thread runs does not wait: the
// thread goes on (the caller lost interest, the work did not) and join_orphans() joins it
// before the interpreter finalises.
class Worker {
 public:
  using Result = std::variant<bool, double, std::vector<long>>;
  // Starts `body` on a new thread. The caller holds the GIL.
  static std::unique_ptr<Worker> start(std::function<Result()> body);
  ~Worker();
  // Waits up to `timeout` seconds (None: forever) with the GIL released; True once ended.
  bool join(const py::object& timeout);
  // The body's result; ValueError while it runs or when the body threw.
  py::object result();

 private:
  struct State {
    Result result;
    std::string error;
  };
  Worker() = default;
  std::shared_ptr<State> state_;  // shared with the running body
  std::unique_ptr<gilfree::Thread> thread_;
};

// Joins the threads of dropped Workers (the atexit hook calls it without the GIL).
void join_orphans();

// Adds vecmath.objects (objects.cpp).
void bind_objects(py::module_& m);
// Adds vecmath.serve (pipeline.cpp).
void bind_pipeline(py::module_& m);

}  // namespace vecmath
