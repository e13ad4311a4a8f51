// vecmath.serve: the producer/consumer demo. Python threads put work items into a
// gilfree.Queue; C++ workers of this extension take them without the GIL, compute, and
// put results into another gilfree queue, where Python threads take them.
//
//   tasks.put((key, x))    ->  C++ worker: (key, norm(x), sum(sin(x)*cos(x)+sqrt(x)))
//   tasks.put(None)        ->  one worker stops
//
// tasks.shutdown() stops every worker. A bad item (not a (key, buffer) pair, not float64, ...) gives (key, exception) instead,
// so one bad item never stops a worker. Each worker calls tasks.task_done() after each
// item, so tasks.join() in Python waits for all results.
#include <pybind11/pybind11.h>

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "buffers.hpp"
#include "gilfree/python.hpp"
#include "kernels.hpp"
#include "objects.hpp"

namespace vecmath {

namespace {

namespace gp = gilfree::python;
using namespace pybind11::literals;

// The exception being raised for `e`, as a Python object. The caller holds the GIL.
py::object exception_object(const std::exception& e) {
  if (auto* pe = dynamic_cast<const py::error_already_set*>(&e)) return pe->value();
  if (auto* be = dynamic_cast<const py::builtin_exception*>(&e)) {
    be->set_error();
    py::error_already_set err;
    return err.value();
  }
  return py::reinterpret_steal<py::object>(PyObject_CallFunction(PyExc_RuntimeError, "s", e.what()));
}

// One item: what the worker needs from Python, read under the GIL.
struct Work {
  py::object key;
  Buffer x;
};

template <class Out>
void worker_loop(gp::Queue tasks, Out results) {
  constexpr std::size_t kBlock = 4096;
  std::vector<double> tmp(kBlock);
  for (;;) {
    gp::Object item;
    try {
      item = tasks.get();  // blocks with no GIL held
    } catch (const gilfree::ShutDown&) {  // tasks.shutdown(): every worker stops
      return;
    }
    gp::Object result;
    bool stop = false;
    {
      gp::Gil gil;  // look at the item
      if (item.ptr() == Py_None) {
        stop = true;
      } else {
        py::object key = py::none();
        try {
          py::object obj = item.get();
          if (!py::isinstance<py::tuple>(obj) || py::len(obj) != 2)
            throw py::type_error("a work item is (key, float64 buffer) or None");
          key = obj[py::int_(0)];
          Work w{key, Buffer(obj[py::int_(1)], "x", false)};
          // The computation itself: without the GIL, on this worker alone.
          double ss = 0, mapped = 0;
          {
            py::gil_scoped_release nogil;
            ss = sum_squares(w.x.data(), w.x.size());
            for (std::size_t b = 0; b < w.x.size(); b += kBlock) {
              const std::size_t m = std::min(kBlock, w.x.size() - b);
              sincos_sqrt(w.x.data() + b, tmp.data(), m);
              mapped += sum(tmp.data(), m);
            }
          }
          result = gp::Object(py::make_tuple(w.key, std::sqrt(ss), mapped));
        } catch (const std::exception& e) {
          result = gp::Object(py::make_tuple(key, exception_object(e)));
        }
      }
    }
    if (!stop) results.put(std::move(result));  // no GIL: may wait for room
    tasks.task_done();
    if (stop) return;
  }
}

// serve(tasks, results, workers): starts the workers; returns one Worker per thread.
py::list serve(gp::Queue tasks, py::handle results, int workers) {
  if (workers <= 0) throw py::value_error("workers must be at least 1");
  std::optional<gp::Queue> rq;
  std::optional<gp::SimpleQueue> rs;
  try {
    rq = gp::Queue::from(results);
  } catch (const py::type_error&) {
    rs = gp::SimpleQueue::from(results);
  }
  py::list out;
  for (int i = 0; i < workers; ++i) {
    out.append(Worker::start([tasks, rq, rs]() -> Worker::Result {
      if (rq)
        worker_loop(tasks, *rq);
      else
        worker_loop(tasks, *rs);
      return true;
    }));
  }
  return out;
}

}  // namespace

void bind_pipeline(py::module_& m) {
  m.def("serve", &serve, "tasks"_a, "results"_a, "workers"_a = 2,
        "Starts `workers` C++ threads that take (key, x) items from the gilfree.Queue `tasks` "
        "without the GIL and put (key, norm(x), sum(sin(x)*cos(x)+sqrt(x))) into `results` "
        "(a gilfree.Queue or SimpleQueue); None stops one worker. Returns the workers.");
}

}  // namespace vecmath
