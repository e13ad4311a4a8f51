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
// compares items with Python's `<`, which takes the GIL under the queue's lock, so every
// PriorityQueue call releases the GIL first: a thread holding the GIL never waits for
// that lock.
//
// Subclass hooks. A Python subclass that overrides _init/_qsize/_put/_get gets what
// queue.Queue gives it: CPython's own put/get/task_done/join algorithm, run over the
// subclass's hooks with gilfree.Lock and gilfree.Condition as the mutex and conditions
// (the glue below; the library's policies are compile-time C++ types and cannot call a
// Python object). A subclass that overrides none of them keeps the C++ queue.
#include <pybind11/pybind11.h>
#include <pybind11/eval.h>
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

// The glue object holding CPython's queue algorithm for hook-mode subclasses.
py::object& glue() {
  static auto* g = new py::object();  // leaked: lives as long as the interpreter
  return *g;
}

// One Python Queue object: its C++ queue, or hook mode (glue over the subclass's hooks).
struct PyQueue {
  std::variant<std::unique_ptr<FifoQ>, std::unique_ptr<LifoQ>, std::unique_ptr<PrioQ>> q;
  long maxsize;
  PyObject* self = nullptr;  // set in hook mode; borrowed (this object lives inside it)

  template <class Q>
  PyQueue(std::unique_ptr<Q> queue, long max) : q(std::move(queue)), maxsize(max) {}
  bool hooks() const noexcept { return self != nullptr; }
  py::handle handle() const noexcept { return self; }
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit([&](auto& p) -> decltype(auto) { return f(*p); }, q);
  }
};
struct PyLifoQueue : PyQueue {
  explicit PyLifoQueue(long m) : PyQueue(std::make_unique<LifoQ>(m), m) {}
};
struct PyPriorityQueue : PyQueue {
  explicit PyPriorityQueue(long m) : PyQueue(std::make_unique<PrioQ>(m), m) {}
};

template <class Q>
constexpr bool kPriority = std::is_same_v<Q, PrioQ>;

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
  if (b.hooks()) {
    glue().attr("put")(b.handle(), item, block, timeout);
    return;
  }
  if (block && b.maxsize > 0 && !timeout.is_none() && timeout_seconds(timeout) < 0)
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
  if (b.hooks()) return glue().attr("get")(b.handle(), block, timeout);
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

// Any other member: hook mode goes to the glue, else the C++ queue (GIL per guarded()).
template <class F>
py::object forward(PyQueue& b, const char* name, F&& f) {
  if (b.hooks()) return glue().attr(name)(b.handle());
  return b.visit([&](auto& q) -> py::object {
    using Q = std::decay_t<decltype(q)>;
    return py::cast(guarded<Q>([&] { return f(q); }));
  });
}

// CPython's queue.py (3.13, with shutdown), verbatim in spirit, over the hooks.
const char* const kHookGlue = R"PY(
from collections import deque as _deque
from heapq import heappush as _heappush, heappop as _heappop
from time import monotonic as _time

HOOKS = ("_init", "_qsize", "_put", "_get")

def install(Queue, LifoQueue, PriorityQueue, Lock, Condition, set_hooks):
    def fifo_init(self, maxsize): self.queue = _deque()
    def fifo_qsize(self): return len(self.queue)
    def fifo_put(self, item): self.queue.append(item)
    def fifo_get(self): return self.queue.popleft()
    def list_init(self, maxsize): self.queue = []
    def lifo_put(self, item): self.queue.append(item)
    def lifo_get(self): return self.queue.pop()
    def prio_put(self, item): _heappush(self.queue, item)
    def prio_get(self): return _heappop(self.queue)
    hooks = {Queue: (fifo_init, fifo_qsize, fifo_put, fifo_get),
             LifoQueue: (list_init, fifo_qsize, lifo_put, lifo_get),
             PriorityQueue: (list_init, fifo_qsize, prio_put, prio_get)}
    for base, fns in hooks.items():
        for name, fn in zip(HOOKS, fns):
            fn.__name__ = fn.__qualname__ = name
            setattr(base, name, fn)
        cinit = base.__init__
        def __init__(self, maxsize=0, *, _cinit=cinit, _base=base):
            _cinit(self, maxsize)
            cls = type(self)
            if any(getattr(cls, n) is not getattr(_base, n) for n in HOOKS):
                set_hooks(self)
                self.mutex = Lock()
                self.not_empty = Condition(self.mutex)
                self.not_full = Condition(self.mutex)
                self.all_tasks_done = Condition(self.mutex)
                self.unfinished_tasks = 0
                self._gilfree_shutdown = False
                self._init(maxsize)
        __init__.__doc__ = cinit.__doc__
        base.__init__ = __init__

def put(self, item, block=True, timeout=None):
    with self.not_full:
        if self._gilfree_shutdown:
            raise ShutDown
        if self.maxsize > 0:
            if not block:
                if self._qsize() >= self.maxsize:
                    raise Full
            elif timeout is None:
                while self._qsize() >= self.maxsize:
                    self.not_full.wait()
                    if self._gilfree_shutdown:
                        raise ShutDown
            elif timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            else:
                endtime = _time() + timeout
                while self._qsize() >= self.maxsize:
                    remaining = endtime - _time()
                    if remaining <= 0.0:
                        raise Full
                    self.not_full.wait(remaining)
                    if self._gilfree_shutdown:
                        raise ShutDown
        self._put(item)
        self.unfinished_tasks += 1
        self.not_empty.notify()

def get(self, block=True, timeout=None):
    with self.not_empty:
        if self._gilfree_shutdown and not self._qsize():
            raise ShutDown
        if not block:
            if not self._qsize():
                raise Empty
        elif timeout is None:
            while not self._qsize():
                self.not_empty.wait()
                if self._gilfree_shutdown and not self._qsize():
                    raise ShutDown
        elif timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        else:
            endtime = _time() + timeout
            while not self._qsize():
                remaining = endtime - _time()
                if remaining <= 0.0:
                    raise Empty
                self.not_empty.wait(remaining)
                if self._gilfree_shutdown and not self._qsize():
                    raise ShutDown
        item = self._get()
        self.not_full.notify()
        return item

def task_done(self):
    with self.all_tasks_done:
        unfinished = self.unfinished_tasks - 1
        if unfinished <= 0:
            if unfinished < 0:
                raise ValueError('task_done() called too many times')
            self.all_tasks_done.notify_all()
        self.unfinished_tasks = unfinished

def join(self):
    with self.all_tasks_done:
        while self.unfinished_tasks:
            self.all_tasks_done.wait()

def qsize(self):
    with self.mutex:
        return self._qsize()

def empty(self):
    with self.mutex:
        return not self._qsize()

def full(self):
    with self.mutex:
        return 0 < self.maxsize <= self._qsize()

def is_shutdown(self):
    return self._gilfree_shutdown

def shutdown(self, immediate=False):
    with self.mutex:
        self._gilfree_shutdown = True
        if immediate:
            while self._qsize():
                self._get()
                if self.unfinished_tasks > 0:
                    self.unfinished_tasks -= 1
            self.all_tasks_done.notify_all()
        self.not_empty.notify_all()
        self.not_full.notify_all()
)PY";

// ---- _testing: C++ threads on the other end of a queue ---------------------------------

// A C++ thread that gets or puts PyRef items on a gilfree queue through the C++ API,
// never touching the GIL while it blocks.
struct HandOff {
  py::object queue;  // keeps the queue alive while the thread uses it
  std::vector<PyRef> items;
  std::unique_ptr<Thread> thread;
  ~HandOff() {
    if (thread) {
      NoGil nogil;
      thread.reset();  // joins
    }
  }
};

template <class Q>
Q* queue_of(const py::object& q) {
  if (py::isinstance<SimpleQ>(q)) {
    if constexpr (std::is_same_v<Q, SimpleQ>) return &q.cast<SimpleQ&>();
    return nullptr;
  }
  if constexpr (std::is_same_v<Q, FifoQ>) {
    if (py::type::of(q).is(py::type::of<PyQueue>())) {
      auto& b = q.cast<PyQueue&>();
      if (auto* p = std::get_if<std::unique_ptr<FifoQ>>(&b.q)) return p->get();
    }
  }
  return nullptr;
}

template <class Body>
std::unique_ptr<HandOff> start_hand_off(py::object q, std::vector<PyRef> items, Body body) {
  auto h = std::make_unique<HandOff>();
  h->queue = std::move(q);
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
                            "A FIFO queue, as queue.Queue; maxsize <= 0 means unbounded.");
  queue.def(py::init([](long maxsize) { return new PyQueue(std::make_unique<FifoQ>(maxsize), maxsize); }),
            "maxsize"_a = 0)
      .def("put", &queue_put, "item"_a, "block"_a = true, "timeout"_a = py::none(), put_doc)
      .def("get", &queue_get, "block"_a = true, "timeout"_a = py::none(), get_doc)
      .def("put_nowait", [](PyQueue& b, py::object item) { queue_put(b, std::move(item), false, py::none()); },
           "item"_a)
      .def("get_nowait", [](PyQueue& b) { return queue_get(b, false, py::none()); })
      .def("qsize", [](PyQueue& b) { return forward(b, "qsize", [](auto& q) { return q.qsize(); }); })
      .def("empty", [](PyQueue& b) { return forward(b, "empty", [](auto& q) { return q.empty(); }); })
      .def("full", [](PyQueue& b) { return forward(b, "full", [](auto& q) { return q.full(); }); })
      .def("task_done", [](PyQueue& b) {
        if (b.hooks()) return void(glue().attr("task_done")(b.handle()));
        b.visit([](auto& q) { q.task_done(); });  // lock-free counters: no GIL concern
      })
      .def("join", [](PyQueue& b) {
        if (b.hooks()) return void(glue().attr("join")(b.handle()));
        b.visit([](auto& q) {
          wait_released(Timeout(), [&](const Timeout& step) { return q.join(step); });
        });
      })
      .def(
          "shutdown",
          [](PyQueue& b, bool immediate) {
            if (b.hooks()) return void(glue().attr("shutdown")(b.handle(), immediate));
            NoGil nogil;  // an immediate shutdown drops (decrefs) items
            b.visit([&](auto& q) { q.shutdown(immediate); });
          },
          "immediate"_a = false)
      .def_property_readonly("is_shutdown", [](PyQueue& b) {
        return forward(b, "is_shutdown", [](auto& q) { return q.is_shutdown(); });
      })
      .def_readonly("maxsize", &PyQueue::maxsize)
      .def("_gilfree_set_hooks", [](py::handle self) {
        self.cast<PyQueue&>().self = self.ptr();
      });

  install_fast<&fast_put>(queue, "put");
  install_fast<&fast_get>(queue, "get");

  py::class_<PyLifoQueue, PyQueue>(m, "LifoQueue", py::dynamic_attr(),
                                   "A LIFO queue, as queue.LifoQueue.")
      .def(py::init<long>(), "maxsize"_a = 0);
  py::class_<PyPriorityQueue, PyQueue>(m, "PriorityQueue", py::dynamic_attr(),
                                       "Smallest item first, as queue.PriorityQueue.")
      .def(py::init<long>(), "maxsize"_a = 0);

  py::dict ns;
  ns["ShutDown"] = m.attr("ShutDown");
  ns["Full"] = m.attr("Full");
  ns["Empty"] = m.attr("Empty");
  ns["__builtins__"] = py::module_::import("builtins");
  py::exec(kHookGlue, ns);
  glue() = py::module_::import("types").attr("SimpleNamespace")(**ns);
  ns["install"](m.attr("Queue"), m.attr("LifoQueue"), m.attr("PriorityQueue"), m.attr("Lock"),
                m.attr("Condition"), m.attr("Queue").attr("_gilfree_set_hooks"));

  py::class_<SimpleQ> simple(m, "SimpleQueue", "An unbounded FIFO queue, as queue.SimpleQueue.");
  simple.def(py::init<>())
      .def(
          "put", [](SimpleQ& q, py::object item, bool, const py::object&) { q.put_nowait(PyRef(std::move(item))); },
          "item"_a, "block"_a = true, "timeout"_a = py::none(), "Puts an item; never blocks.")
      .def("put_nowait", [](SimpleQ& q, py::object item) { q.put_nowait(PyRef(std::move(item))); }, "item"_a)
      .def(
          "get",
          [](SimpleQ& q, bool block, const py::object& timeout) -> py::object {
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
      .def("get_nowait", [](SimpleQ& q) -> py::object {
        std::optional<PyRef> out = q.try_get();
        if (!out) throw Empty();
        return std::move(*out).take();
      })
      .def("qsize", &SimpleQ::qsize)
      .def("empty", &SimpleQ::empty);

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
    if (auto* fq = queue_of<FifoQ>(q))
      return start_hand_off(q, {}, [fq, n](std::vector<PyRef>& got) {
        for (std::size_t i = 0; i < n; ++i) got.push_back(fq->get());
      });
    if (auto* sq = queue_of<SimpleQ>(q))
      return start_hand_off(q, {}, [sq, n](std::vector<PyRef>& got) {
        for (std::size_t i = 0; i < n; ++i) got.push_back(sq->get());
      });
    throw py::type_error("cpp_consume needs a gilfree.Queue or gilfree.SimpleQueue");
  });
  testing.def("cpp_produce", [](py::object q, const py::iterable& items) {
    std::vector<PyRef> refs;
    for (py::handle it : items) refs.emplace_back(py::reinterpret_borrow<py::object>(it));
    if (auto* fq = queue_of<FifoQ>(q))
      return start_hand_off(q, std::move(refs), [fq](std::vector<PyRef>& todo) {
        for (auto& r : todo) fq->put(std::move(r));
        todo.clear();
      });
    if (auto* sq = queue_of<SimpleQ>(q))
      return start_hand_off(q, std::move(refs), [sq](std::vector<PyRef>& todo) {
        for (auto& r : todo) sq->put(std::move(r));
        todo.clear();
      });
    throw py::type_error("cpp_produce needs a gilfree.Queue or gilfree.SimpleQueue");
  });
}

}  // namespace gilfree::py_bind
