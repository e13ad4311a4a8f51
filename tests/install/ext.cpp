// An author's extension compiled against an installed gilfree: <gilfree/python.hpp> and
// gilfree::shared. run.sh imports it together with the installed gilfree module.
#include <gilfree/python.hpp>
#include <pybind11/pybind11.h>

namespace gp = gilfree::python;
namespace py = pybind11;

PYBIND11_MODULE(consumer_ext, m) {
  // A C++ thread moves one item from `in` to `out` without the GIL, then sets `done`.
  m.def("pass_through", [](gp::Queue in, gp::Queue out, gp::Ref<gilfree::Event> done) {
    gilfree::Thread t([in, out, done] {
      out.put(in.get(true, 10.0));
      done->set();
    });
    t.start();
    py::gil_scoped_release nogil;
    t.join();
  });
  // A gilfree.Event made in C++ and handed to Python.
  m.def("make_event", [] { return gp::make<gilfree::Event>(); });
}
