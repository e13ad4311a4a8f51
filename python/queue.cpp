// queue's classes: Queue, LifoQueue, PriorityQueue, SimpleQueue, over the library's
// gilfree::Queue / LifoQueue / PriorityQueue / SimpleQueue of PyRef items.
//
// Items. A PyRef owns one reference and moves without touching the refcount, so the
// library's queues shuffle items with the GIL released; the GIL is taken only to make a
// reference (put, under the caller's GIL) and to drop one (a queue destroyed with items,
// or shutdown(immediate=True)). No put or get ever decrefs under a queue's lock, so no
// __del__ can run there: SimpleQueue.put is safe from __del__ (bpo-14976).
//
// The GIL. Queue and LifoQueue make a first non-blocking try with the GIL held (their
// stores never call back into Python), and release it only to wait. PriorityQueue
// compares items with Python's `<`, and a hook queue (below) calls Python hooks, both
// taking the GIL under the queue's lock, so every call on those releases the GIL first:
// a thread holding the GIL never waits for that lock.
//
// Subclass hooks. A Python subclass that overrides _init/_qsize/_put/_get gets a library
// BasicQueue over a PyHooks policy instance, which calls the object's _qsize/_put/_get
// under the GIL: the library's algorithm over the subclass's container, as queue.Queue
// runs its own algorithm over it. __init__ calls _init(maxsize) first, as CPython's does.
// The base classes define the four hooks as CPython's do (over self.queue), so that a
// subclass may extend them with super(). A subclass that overrides none keeps the C++
// container.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

#include "bindings.hpp"
#include "gilfree/queue.hpp"
#include "gilfree/threading.hpp"

namespace gilfree::py_bind {

namespace {

using namespace pybind11::literals;

// heapq's order: Python's `<`, raising what it raises (TypeError for unorderable items).
struct PyLess {
  bool operator()(const PyRef& a, const PyRef& b) const {
    Gil gil;
    int r = PyObject_RichCompareBool(a.ptr(), b.ptr(), Py_LT);
    if (r < 0) throw py::error_already_set();
    return r != 0;
  }
};

using FifoQ = gilfree::Queue<PyRef>;
using LifoQ = gilfree::LifoQueue<PyRef>;
using PrioQ = gilfree::PriorityQueue<PyRef, PyLess>;
using SimpleQ = gilfree::SimpleQueue<PyRef>;

// SimpleQueue with the count Busy keeps (the C++ queue stays at offset zero, for the fast
// paths).
struct PySimpleQueue : SimpleQ {
  long in_flight = 0;
};

// The container policy of a hook queue: a Python object's _put/_get/_qsize, called under
// the GIL (the queue calls them under its own lock). A hook that raises throws
// py::error_already_set, and the queue stays as it was.
struct PyHooks {
  PyObject* self;  // borrowed: the Python queue object owns the C++ queue

  py::object call(const char* name, PyObject* arg = nullptr) const {
    PyObject* r = arg ? PyObject_CallMethod(self, name, "O", arg) : PyObject_CallMethod(self, name, nullptr);
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  }
  void put(PyRef&& item) {
    Gil gil;
    call("_put", item.ptr());
    item.reset();  // the container holds its own reference now
  }
  PyRef get() {
    Gil gil;
    return PyRef(call("_get"));
  }
  std::size_t size() const {
    Gil gil;
    const Py_ssize_t n = PyNumber_AsSsize_t(call("_qsize").ptr(), PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) throw py::error_already_set();
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }
};
using HookQ = gilfree::BasicQueue<PyRef, PyHooks>;

// Garbage collection. The collector may see a queue's items only while they cannot change
// under it: it runs with the GIL held, so the items are frozen when no thread is inside a
// call that released the GIL (or is a C++ hand-off thread). `in_flight` counts those; it
// is only touched with the GIL held, by a Busy guard around each such call.
struct Busy {
  long& n;
  explicit Busy(long& count) : n(count) { ++n; }
  ~Busy() { --n; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
};

// One Python Queue object: its C++ queue over a C++ container or over the hooks.
struct PyQueue {
  std::variant<std::unique_ptr<FifoQ>, std::unique_ptr<LifoQ>, std::unique_ptr<PrioQ>,
               std::unique_ptr<HookQ>>
      q;
  long in_flight = 0;  // see Busy

  template <class Q>
  explicit PyQueue(std::unique_ptr<Q> queue) : q(std::move(queue)) {}
  bool hooks() const noexcept { return q.index() == 3; }
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit([&](auto& p) -> decltype(auto) { return f(*p); }, q);
  }
};

struct PyLifoQueue : PyQueue {
  using PyQueue::PyQueue;
};
struct PyPriorityQueue : PyQueue {
  using PyQueue::PyQueue;
};

constexpr const char* kHooks[] = {"_init", "_qsize", "_put", "_get"};

// True when `type` (a subclass of `base`) overrides one of the hooks.
bool overrides_hooks(PyObject* type, PyObject* base) {
  for (const char* name : kHooks) {
    py::object mine = py::reinterpret_steal<py::object>(PyObject_GetAttrString(type, name));
    py::object theirs = py::reinterpret_steal<py::object>(PyObject_GetAttrString(base, name));
    if (!mine || !theirs) throw py::error_already_set();
    if (!mine.is(theirs)) return true;
  }
  return false;
}

// Queue/LifoQueue/PriorityQueue.__init__(maxsize=0): the C++ queue `Default`, or a hook
// queue for a subclass that overrides a hook (after calling its _init, as CPython does).
template <class Default, class Cpp, class... Base>
void bind_init(py::class_<Cpp, Base...>& cls) {
  PyObject* base = cls.ptr();  // the class lives as long as the interpreter
  cls.def(
      "__init__",
      [base](py::detail::value_and_holder& v_h, long maxsize) {
        py::handle self(reinterpret_cast<PyObject*>(v_h.inst));
        if (overrides_hooks(reinterpret_cast<PyObject*>(Py_TYPE(self.ptr())), base)) {
          self.attr("_init")(maxsize);
          v_h.value_ptr() = new Cpp(std::make_unique<HookQ>(PyHooks{self.ptr()}, maxsize));
        } else {
          v_h.value_ptr() = new Cpp(std::make_unique<Default>(maxsize));
        }
      },
      py::detail::is_new_style_constructor(), "maxsize"_a = 0);
}

// The hooks of the base classes, as queue.py defines them, over `self.queue`: a deque
// (Queue) or a list (LifoQueue; PriorityQueue as a heap). `make` is deque or list;
// `put(queue, item)` and `get(queue)` the container operations.
template <class Cls>
void bind_hooks(Cls& cls, py::object make, py::object put, py::object get) {
  cls.def("_init", [make](py::handle self, py::object) { self.attr("queue") = make(); },
          "maxsize"_a)
      .def("_qsize", [](py::handle self) { return py::len(self.attr("queue")); })
      .def("_put", [put](py::handle self, py::object item) { put(self.attr("queue"), item); },
           "item"_a)
      .def("_get", [get](py::handle self) { return get(self.attr("queue")); });
}

// The collector sees the items of a queue behind a mutex (not those of the bounded FIFO
// ring, which has no stable view, nor a hook queue's, which live in its __dict__).
int queue_traverse(PyQueue& b, visitproc visit, void* arg) {
  if (b.in_flight) return 0;
  int r = 0;
  b.visit([&](auto& q) {
    q.try_visit([&](const PyRef& item) {
      if (r == 0 && item.ptr()) r = visit(item.ptr(), arg);
    });
  });
  return r;
}
template <class Q>
void drop_items(Q& q) {
  std::vector<PyRef> dropped;  // decref'd after the queue's lock is released
  try {
    while (std::optional<PyRef> item = q.try_get()) dropped.push_back(std::move(*item));
  } catch (...) {
    PyErr_Clear();  // a failing comparison: leave the rest
  }
}
void queue_clear(PyQueue& b) {
  if (b.in_flight) return;
  b.visit([](auto& q) {
    if constexpr (!std::is_same_v<std::decay_t<decltype(q)>, HookQ>) drop_items(q);
  });
}
int simple_traverse(PySimpleQueue& q, visitproc visit, void* arg) {
  if (q.in_flight) return 0;
  int r = 0;
  q.try_visit([&](const PyRef& item) {
    if (r == 0 && item.ptr()) r = visit(item.ptr(), arg);
  });
  return r;
}
void simple_clear(PySimpleQueue& q) {
  if (q.in_flight == 0) drop_items(q);
}

template <class Q>
constexpr bool kPriority = std::is_same_v<Q, PrioQ> || std::is_same_v<Q, HookQ>;

// Runs `f` with the GIL released for PriorityQueue, held otherwise (see the top).
template <class Q, class F>
decltype(auto) guarded(F&& f) {
  if constexpr (kPriority<Q>) {
    NoGil nogil;
    return f();
  } else {
    return f();
  }
}

void queue_put(PyQueue& b, py::object item, bool block, const py::object& timeout) {
  Busy busy(b.in_flight);
  const long maxsize = b.visit([](auto& q) { return q.maxsize(); });
  if (block && maxsize > 0 && !timeout.is_none() && timeout_seconds(timeout) < 0)
    throw py::value_error("'timeout' must be a non-negative number");
  PyRef ref(std::move(item));
  b.visit([&](auto& q) {
    using Q = std::decay_t<decltype(q)>;
    bool shut = false;
    auto attempt = [&](const Timeout& step) {
      if (q.try_put(std::move(ref), step)) return true;
      shut = q.is_shutdown();
      return shut;
    };
    bool done;
    if constexpr (kPriority<Q>)
      done = wait_released(Timeout::zero(), attempt);
    else
      done = attempt(Timeout::zero());
    if (!done && block) done = wait_released(blocking_timeout(timeout), attempt);
    if (shut) throw ShutDown();
    if (!done) throw Full();
  });
}

py::object queue_get(PyQueue& b, bool block, const py::object& timeout) {
  Busy busy(b.in_flight);
  if (block && !timeout.is_none() && timeout_seconds(timeout) < 0)
    throw py::value_error("'timeout' must be a non-negative number");
  return b.visit([&](auto& q) -> py::object {
    using Q = std::decay_t<decltype(q)>;
    std::optional<PyRef> out;
    bool shut = false;
    auto attempt = [&](const Timeout& step) {
      out = q.try_get(step);
      if (out) return true;
      shut = q.is_shutdown();  // try_get failed on a shut-down queue: it is drained
      return shut;
    };
    bool done;
    if constexpr (kPriority<Q>)
      done = wait_released(Timeout::zero(), attempt);
    else
      done = attempt(Timeout::zero());
    if (!done && block) wait_released(blocking_timeout(timeout), attempt);
    if (out) return std::move(*out).take();
    if (shut) throw ShutDown();
    throw Empty();
  });
}

// Any other member: the C++ queue, with the GIL as guarded() says.
template <class F>
py::object forward(PyQueue& b, F&& f) {
  Busy busy(b.in_flight);
  return b.visit([&](auto& q) -> py::object {
    using Q = std::decay_t<decltype(q)>;
    return py::cast(guarded<Q>([&] { return f(q); }));
  });
}


// ---- _testing: C++ threads on the other end of a queue ---------------------------------
//
// What an extension's own threads do, through <gilfree/python.hpp>: the queue is reached
// as a python::Queue / SimpleQueue handle (the module's C API; the handle keeps the queue
// alive and leased, so the collector leaves its items alone), items move as Objects, and
// the GIL is never touched while the thread blocks.

namespace gp = gilfree::python;

// gilfree.Queue/LifoQueue (without Python hooks) or SimpleQueue, as a handle.
using AnyQueue = std::variant<gp::Queue, gp::SimpleQueue>;

AnyQueue any_queue(const py::object& q, const char* who) {
  try {
    return gp::SimpleQueue::from(q);
  } catch (const py::type_error&) {
  }
  try {
    return gp::Queue::from(q);
  } catch (const py::type_error&) {
    throw py::type_error(std::string(who) + " needs a gilfree.Queue or gilfree.SimpleQueue");
  }
}

// A C++ thread and the items it got or has still to put.
struct HandOff {
  std::vector<PyRef> items;
  std::unique_ptr<Thread> thread;
  ~HandOff() {
    if (thread) {
      NoGil nogil;
      thread.reset();  // joins; the handles it held drop their leases (taking the GIL)
    }
  }
};

template <class Body>
std::unique_ptr<HandOff> start_hand_off(std::vector<PyRef> items, Body body) {
  auto h = std::make_unique<HandOff>();
  h->items = std::move(items);
  HandOff* raw = h.get();
  h->thread = std::make_unique<Thread>(Thread::Options{.name = "cpp-hand-off", .daemon = false},
                                       [raw, body] { body(raw->items); });
  NoGil nogil;
  h->thread->start();
  return h;
}

// ---- fast paths (bindings.hpp): put(item) that finds room, get() that finds an item ------

template <class Q>
bool put_now(Q& q, PyObject* item) {
  return q.try_put(PyRef(py::reinterpret_borrow<py::object>(item)));
}

// Queue/LifoQueue.put(item); PriorityQueue and hook mode take the pybind11 path.
PyObject* fast_put(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                   PyObject* slow) {
  if (n == 1 && !kw) {
    if (PyQueue* b = cpp_ptr<PyQueue>(self); b && !b->hooks()) {
      try {
        bool done = false;
        if (auto* f = std::get_if<std::unique_ptr<FifoQ>>(&b->q))
          done = put_now(**f, args[0]);
        else if (auto* l = std::get_if<std::unique_ptr<LifoQ>>(&b->q))
          done = put_now(**l, args[0]);
        if (done) Py_RETURN_NONE;
      } catch (...) {
        set_python_error(std::current_exception());
        return nullptr;
      }
    }
  }
  return call_slow(slow, self, args, n, kw);
}

template <class Q>
PyObject* get_now(Q& q) {
  std::optional<PyRef> out = q.try_get();
  return out ? std::move(*out).take().release().ptr() : nullptr;
}

// Queue/LifoQueue.get().
PyObject* fast_get(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                   PyObject* slow) {
  if (n == 0 && !kw) {
    if (PyQueue* b = cpp_ptr<PyQueue>(self); b && !b->hooks()) {
      PyObject* item = nullptr;
      if (auto* f = std::get_if<std::unique_ptr<FifoQ>>(&b->q))
        item = get_now(**f);
      else if (auto* l = std::get_if<std::unique_ptr<LifoQ>>(&b->q))
        item = get_now(**l);
      if (item) return item;
    }
  }
  return call_slow(slow, self, args, n, kw);
}

// SimpleQueue.put(item[, block[, timeout]]): never blocks.
PyObject* fast_simple_put(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                          PyObject* slow) {
  SimpleQ* q = cpp_ptr<SimpleQ>(self);
  if (!q || n < 1 || n > 3 || kw) return call_slow(slow, self, args, n, kw);
  try {
    q->put_nowait(PyRef(py::reinterpret_borrow<py::object>(args[0])));
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* fast_simple_get(PyObject* self, PyObject* const* args, Py_ssize_t n, PyObject* kw,
                          PyObject* slow) {
  if (n == 0 && !kw)
    if (SimpleQ* q = cpp_ptr<SimpleQ>(self))
      if (PyObject* item = get_now(*q)) return item;
  return call_slow(slow, self, args, n, kw);
}

}  // namespace

void bind_queue(py::module_& m, py::module_& testing) {
  auto put_doc = "Puts an item, waiting up to `timeout` seconds (None: forever) for a free slot.";
  auto get_doc = "Removes and returns an item, waiting up to `timeout` seconds (None: forever).";

  py::class_<PyQueue> queue(m, "Queue", py::dynamic_attr(),
                            gc_visible<PyQueue, &queue_traverse, &queue_clear, true>(),
                            "A FIFO queue, as queue.Queue; maxsize <= 0 means unbounded.");
  bind_init<FifoQ>(queue);
  queue.def("put", &queue_put, "item"_a, "block"_a = true, "timeout"_a = py::none(), put_doc)
      .def("get", &queue_get, "block"_a = true, "timeout"_a = py::none(), get_doc)
      .def("put_nowait", [](PyQueue& b, py::object item) { queue_put(b, std::move(item), false, py::none()); },
           "item"_a)
      .def("get_nowait", [](PyQueue& b) { return queue_get(b, false, py::none()); })
      .def("qsize", [](PyQueue& b) { return forward(b, [](auto& q) { return q.qsize(); }); })
      .def("empty", [](PyQueue& b) { return forward(b, [](auto& q) { return q.empty(); }); })
      .def("full", [](PyQueue& b) { return forward(b, [](auto& q) { return q.full(); }); })
      .def("task_done", [](PyQueue& b) {
        b.visit([](auto& q) { q.task_done(); });  // lock-free counters: no GIL concern
      })
      .def("join", [](PyQueue& b) {
        Busy busy(b.in_flight);
        b.visit([](auto& q) {
          wait_released(Timeout(), [&](const Timeout& step) { return q.join(step); });
        });
      })
      .def(
          "shutdown",
          [](PyQueue& b, bool immediate) {
            Busy busy(b.in_flight);
            NoGil nogil;  // an immediate shutdown drops (decrefs) items
            b.visit([&](auto& q) { q.shutdown(immediate); });
          },
          "immediate"_a = false)
      .def_property_readonly("is_shutdown", [](PyQueue& b) {
        return forward(b, [](auto& q) { return q.is_shutdown(); });
      })
      .def_property(
          "maxsize", [](PyQueue& b) { return b.visit([](auto& q) { return q.maxsize(); }); },
          [](PyQueue& b, long maxsize) {
            Busy busy(b.in_flight);
            b.visit([&](auto& q) {
              using Q = std::decay_t<decltype(q)>;
              guarded<Q>([&] { q.set_maxsize(maxsize); });
            });
          },
          "The bound; assignable, as queue.Queue's attribute (a bounded Queue cannot grow "
          "past its initial bound).");

  install_fast<&fast_put>(queue, "put");
  install_fast<&fast_get>(queue, "get");

  py::class_<PyLifoQueue, PyQueue> lifo(m, "LifoQueue", py::dynamic_attr(),
                                        gc_visible<PyQueue, &queue_traverse, &queue_clear, true>(),
                                        "A LIFO queue, as queue.LifoQueue.");
  bind_init<LifoQ>(lifo);
  py::class_<PyPriorityQueue, PyQueue> prio(m, "PriorityQueue", py::dynamic_attr(),
                                            gc_visible<PyQueue, &queue_traverse, &queue_clear, true>(),
                                            "Smallest item first, as queue.PriorityQueue.");
  bind_init<PrioQ>(prio);

  py::module_ collections = py::module_::import("collections");
  py::module_ heapq = py::module_::import("heapq");
  py::object list = py::module_::import("builtins").attr("list");
  bind_hooks(queue, collections.attr("deque"), collections.attr("deque").attr("append"),
             collections.attr("deque").attr("popleft"));
  bind_hooks(lifo, list, list.attr("append"), list.attr("pop"));
  bind_hooks(prio, list, heapq.attr("heappush"), heapq.attr("heappop"));

  py::class_<PySimpleQueue> simple(m, "SimpleQueue",
                                   gc_visible<PySimpleQueue, &simple_traverse, &simple_clear, false>(),
                                   "An unbounded FIFO queue, as queue.SimpleQueue.");
  simple.def(py::init<>())
      .def(
          "put", [](PySimpleQueue& q, py::object item, bool, const py::object&) { q.put_nowait(PyRef(std::move(item))); },
          "item"_a, "block"_a = true, "timeout"_a = py::none(), "Puts an item; never blocks.")
      .def("put_nowait", [](PySimpleQueue& q, py::object item) { q.put_nowait(PyRef(std::move(item))); }, "item"_a)
      .def(
          "get",
          [](PySimpleQueue& q, bool block, const py::object& timeout) -> py::object {
            Busy busy(q.in_flight);
            Timeout t;
            if (block && !timeout.is_none()) {  // _queue checks the timeout up front
              const double s = timeout_seconds(timeout);
              if (std::isnan(s)) throw py::value_error("Invalid value NaN (not a number)");
              if (s < 0) throw py::value_error("'timeout' must be a non-negative number");
              t = blocking_timeout(s);
            }
            std::optional<PyRef> out = q.try_get();
            if (!out && block)
              wait_released(t, [&](const Timeout& step) { return bool(out = q.try_get(step)); });
            if (!out) throw Empty();
            return std::move(*out).take();
          },
          "block"_a = true, "timeout"_a = py::none(), get_doc)
      .def("get_nowait", [](PySimpleQueue& q) -> py::object {
        std::optional<PyRef> out = q.try_get();
        if (!out) throw Empty();
        return std::move(*out).take();
      })
      .def("qsize", [](const PySimpleQueue& q) { return q.qsize(); })
      .def("empty", [](const PySimpleQueue& q) { return q.empty(); });

  install_fast<&fast_simple_put>(simple, "put");
  install_fast<&fast_simple_get>(simple, "get");

  // _testing.cpp_consume(q, n): a C++ thread gets n items from q (gilfree.Queue or
  // SimpleQueue); .join() returns them as a list. _testing.cpp_produce(q, items): a C++
  // thread puts each item.
  py::class_<HandOff>(testing, "HandOff")
      .def("join", [](HandOff& h) {
        {
          NoGil nogil;
          h.thread->join();
        }
        py::list out;
        for (auto& r : h.items) out.append(std::move(r).take());
        h.items.clear();
        return out;
      });
  testing.def("cpp_consume", [](py::object q, std::size_t n) {
    return std::visit(
        [n](auto queue) {
          return start_hand_off({}, [queue, n](std::vector<PyRef>& got) {
            for (std::size_t i = 0; i < n; ++i) got.push_back(queue.get());
          });
        },
        any_queue(q, "cpp_consume"));
  });
  testing.def("cpp_produce", [](py::object q, const py::iterable& items) {
    AnyQueue queue = any_queue(q, "cpp_produce");
    std::vector<PyRef> refs;
    for (py::handle it : items) refs.emplace_back(py::reinterpret_borrow<py::object>(it));
    return std::visit(
        [&refs](auto handle) {
          return start_hand_off(std::move(refs), [handle](std::vector<PyRef>& todo) {
            for (auto& r : todo) handle.put(std::move(r));
            todo.clear();
          });
        },
        std::move(queue));
  });
}

// ---- the C API's queue functions (capi.cpp, include/gilfree/python.hpp) ------------------
//
// The opaque pointer is the PyQueue (kQueue) or the PySimpleQueue (kSimpleQueue). The functions
// run without the GIL: items move as PyRefs, and PyRef takes the GIL itself on the one
// path that drops an item (an immediate shutdown).

namespace {

namespace capi = gilfree::python::capi;

Timeout capi_timeout(std::int64_t ns) {
  return ns < 0 ? Timeout() : Timeout(std::chrono::nanoseconds(ns));
}

// Runs f on the FIFO or LIFO queue of a PyQueue, or the SimpleQueue.
template <class F>
int capi_visit(void* q, int kind, F&& f) noexcept {
  try {
    if (kind == capi::kSimpleQueue) return f(static_cast<SimpleQ&>(*static_cast<PySimpleQueue*>(q)));
    auto* b = static_cast<PyQueue*>(q);
    if (auto* fq = std::get_if<std::unique_ptr<FifoQ>>(&b->q)) return f(**fq);
    if (auto* lq = std::get_if<std::unique_ptr<LifoQ>>(&b->q)) return f(**lq);
    return capi::kUnsupported;
  } catch (const ValueError&) {
    return capi::kValueError;
  } catch (...) {
    return capi::kError;
  }
}

int capi_put(void* q, int kind, PyObject* item, int block, std::int64_t timeout_ns) noexcept {
  return capi_visit(q, kind, [&](auto& queue) -> int {
    PyRef ref = PyRef::steal(item);  // no refcount change: no GIL needed
    int status;
    if constexpr (std::is_same_v<std::decay_t<decltype(queue)>, SimpleQ>) {
      queue.put_nowait(std::move(ref));
      status = capi::kOk;
    } else if (queue.try_put(std::move(ref), block ? capi_timeout(timeout_ns) : Timeout::zero())) {
      status = capi::kOk;
    } else {
      status = queue.is_shutdown() ? capi::kShutDown : capi::kEmptyOrFull;
    }
    if (status != capi::kOk) ref.release();  // the caller keeps its reference
    return status;
  });
}

int capi_get(void* q, int kind, PyObject** item, int block, std::int64_t timeout_ns) noexcept {
  return capi_visit(q, kind, [&](auto& queue) -> int {
    std::optional<PyRef> out = queue.try_get(block ? capi_timeout(timeout_ns) : Timeout::zero());
    if (out) {
      *item = out->release();
      return capi::kOk;
    }
    if constexpr (!std::is_same_v<std::decay_t<decltype(queue)>, SimpleQ>)
      if (queue.is_shutdown()) return capi::kShutDown;
    return capi::kEmptyOrFull;
  });
}

int capi_task_done(void* q, int kind) noexcept {
  return capi_visit(q, kind, [&](auto& queue) -> int {
    if constexpr (std::is_same_v<std::decay_t<decltype(queue)>, SimpleQ>) {
      return capi::kUnsupported;
    } else {
      queue.task_done();
      return capi::kOk;
    }
  });
}

std::int64_t capi_qsize(void* q, int kind) noexcept {
  std::int64_t n = 0;
  capi_visit(q, kind, [&](auto& queue) -> int {
    n = static_cast<std::int64_t>(queue.qsize());
    return capi::kOk;
  });
  return n;
}

int capi_shutdown(void* q, int kind, int immediate) noexcept {
  return capi_visit(q, kind, [&](auto& queue) -> int {
    if constexpr (std::is_same_v<std::decay_t<decltype(queue)>, SimpleQ>) {
      return capi::kUnsupported;
    } else {
      queue.shutdown(immediate != 0);
      return capi::kOk;
    }
  });
}

}  // namespace

void* capi_queue(PyObject* obj, int kind) {
  py::handle h(obj);
  if (kind == capi::kSimpleQueue)
    return py::isinstance<PySimpleQueue>(h) ? static_cast<void*>(&h.cast<PySimpleQueue&>()) : nullptr;
  if (!py::isinstance<PyQueue>(h)) return nullptr;
  auto& b = h.cast<PyQueue&>();
  if (b.hooks() || std::holds_alternative<std::unique_ptr<PrioQ>>(b.q)) return nullptr;
  return &b;
}

// A leased queue counts as busy (Busy above): its items may move without the GIL, so the
// collector must not look at them. Called with the GIL held.
void capi_lease(void* q, int kind, int delta) noexcept {
  if (kind == capi::kSimpleQueue)
    static_cast<PySimpleQueue*>(q)->in_flight += delta;
  else
    static_cast<PyQueue*>(q)->in_flight += delta;
}

void fill_queue_capi(capi::Table& table) {
  table.lease = &capi_lease;
  table.put = &capi_put;
  table.get = &capi_get;
  table.task_done = &capi_task_done;
  table.qsize = &capi_qsize;
  table.shutdown = &capi_shutdown;
}

}  // namespace gilfree::py_bind
