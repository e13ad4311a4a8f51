// vecmath.objects: the extension's own C++ threads on gilfree objects that Python passed
// in, and gilfree objects made in C++ and handed to Python — the rules of
// <gilfree/python.hpp> at work (the tests drive each one from Python threads at the same
// time). Every C++ thread here blocks only with the GIL released and takes the GIL only to
// make or look at a Python object.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "gilfree/python.hpp"
#include "gilfree/threading.hpp"
#include "objects.hpp"

namespace vecmath {

namespace {

namespace gp = gilfree::python;
using namespace pybind11::literals;
using gilfree::Timeout;

// An integer that C++ threads and Python share (the state a Condition guards here).
struct Box {
  std::atomic<long> value{0};
};

// Any of Lock, RLock, Semaphore, BoundedSemaphore, Condition, as acquire/release calls on
// the C++ object. TypeError for anything else.
struct AnyLock {
  std::function<bool(Timeout)> acquire;
  std::function<void()> release;
};

template <class T>
bool as_lock(py::handle obj, AnyLock& out) {
  auto r = gp::Ref<T>::try_from(obj);
  if (!r) return false;
  out.acquire = [r = *r](Timeout t) { return r->acquire(true, t); };
  out.release = [r = *r] { r->release(); };
  return true;
}

AnyLock any_lock(py::handle obj) {
  AnyLock l;
  if (as_lock<gilfree::Lock>(obj, l) || as_lock<gilfree::RLock>(obj, l) ||
      as_lock<gilfree::Semaphore>(obj, l) || as_lock<gilfree::Condition>(obj, l))
    return l;
  throw py::type_error(std::string("expected a gilfree Lock, RLock, Semaphore or Condition, got ") +
                       Py_TYPE(obj.ptr())->tp_name);
}

Timeout timeout_arg(double seconds) { return Timeout(seconds); }

// hold(lock, acquired, release, timeout): a C++ thread acquires `lock`, sets `acquired`,
// waits (up to timeout) for `release`, then releases the lock. Result: True if it got
// the lock and was released by the event.
std::unique_ptr<Worker> hold(py::handle lock, gp::Ref<gilfree::Event> acquired,
                             gp::Ref<gilfree::Event> release, double timeout) {
  AnyLock l = any_lock(lock);
  const Timeout t = timeout_arg(timeout);
  return Worker::start([l, acquired, release, t]() -> Worker::Result {
    if (!l.acquire(t)) return false;
    acquired->set();
    const bool released = release->wait(t);
    l.release();
    return released;
  });
}

// set_when(cond, box, value): a C++ thread sets box.value under the condition's lock and
// notifies every waiter.
std::unique_ptr<Worker> set_value(gp::Ref<gilfree::Condition> cond, std::shared_ptr<Box> box, long value) {
  return Worker::start([cond, box, value]() -> Worker::Result {
    std::unique_lock g(*cond);
    box->value = value;
    cond->notify_all();
    return true;
  });
}

// wait_value(cond, box, value, timeout): a C++ thread waits on the condition until
// box.value == value. Result: whether it saw it within the timeout.
std::unique_ptr<Worker> wait_value(gp::Ref<gilfree::Condition> cond, std::shared_ptr<Box> box, long value,
                                   double timeout) {
  const Timeout t = timeout_arg(timeout);
  return Worker::start([cond, box, value, t]() -> Worker::Result {
    std::unique_lock g(*cond);
    return cond->wait_for([&] { return box->value == value; }, t);
  });
}

// barrier_wait(barrier, n): n C++ threads wait on the barrier once each. Result: the
// indices wait() returned, in no particular order.
std::unique_ptr<Worker> barrier_wait(gp::Ref<gilfree::Barrier> barrier, int n) {
  if (n <= 0) throw py::value_error("n must be at least 1");
  return Worker::start([barrier, n]() -> Worker::Result {
    std::mutex m;
    std::vector<long> got;
    std::vector<std::unique_ptr<gilfree::Thread>> ts;
    for (int i = 0; i < n; ++i) {
      ts.push_back(std::make_unique<gilfree::Thread>([&] {
        long idx = static_cast<long>(barrier->wait());
        std::scoped_lock g(m);
        got.push_back(idx);
      }));
      ts.back()->start();
    }
    for (auto& t : ts) t->join();
    return got;
  });
}

// echo(inq, outq, n): a C++ thread takes n items from `inq` and puts each, unchanged, into
// `outq` (each wait bounded by `timeout`), calling inq.task_done() after each. Queue or SimpleQueue on either side. The
// items move as Objects: the thread never takes the GIL.
template <class In, class Out>
std::unique_ptr<Worker> echo_with(In in, Out out, long n, Timeout t) {
  return Worker::start([in, out, n, t]() -> Worker::Result {
    for (long i = 0; i < n; ++i) {
      gp::Object item = in.get(true, t);  // Empty after the timeout: the worker's error
      out.put(std::move(item), true, t);  // Full after the timeout
      if constexpr (std::is_same_v<In, gp::Queue>) in.task_done();
    }
    return true;
  });
}

template <class In>
std::unique_ptr<Worker> echo_to(In in, py::handle outq, long n, Timeout t) {
  try {
    return echo_with(in, gp::Queue::from(outq), n, t);
  } catch (const py::type_error&) {
    return echo_with(in, gp::SimpleQueue::from(outq), n, t);
  }
}

std::unique_ptr<Worker> echo(py::handle inq, py::handle outq, long n, double timeout) {
  const Timeout t = timeout_arg(timeout);
  try {
    return echo_to(gp::Queue::from(inq), outq, n, t);
  } catch (const py::type_error&) {
    return echo_to(gp::SimpleQueue::from(inq), outq, n, t);
  }
}

// made_in_cpp(): one of each gilfree object, created here and handed to Python.
py::dict made_in_cpp() {
  py::dict d;
  auto lock = gp::make<gilfree::Lock>();
  d["Lock"] = lock.object();
  d["RLock"] = gp::make<gilfree::RLock>().object();
  d["Condition"] = gp::make<gilfree::Condition>(lock).object();
  d["Semaphore"] = gp::make<gilfree::Semaphore>(2).object();
  d["BoundedSemaphore"] = gp::make<gilfree::BoundedSemaphore>(1).object();
  d["Event"] = gp::make<gilfree::Event>().object();
  d["Barrier"] = gp::make<gilfree::Barrier>(2).object();
  d["Queue"] = gp::make_queue(3).object();
  d["SimpleQueue"] = gp::make_simple_queue().object();
  return d;
}

// countdown(n): C++ makes a Queue and an Event, and a C++ thread puts n, n-1, ..., 1 into
// the queue then sets the event; Python gets (queue, event, worker).
py::tuple countdown(long n) {
  gp::Queue q = gp::make_queue();
  gp::Ref<gilfree::Event> done = gp::make<gilfree::Event>();
  auto w = Worker::start([q, done, n]() -> Worker::Result {
    for (long i = n; i > 0; --i) {
      gp::Object item;
      {
        gp::Gil gil;  // only to make the int
        item = gp::Object(py::int_(i));
      }
      q.put(std::move(item));
    }
    done->set();
    return true;
  });
  return py::make_tuple(q, done, std::move(w));
}

}  // namespace

// ---- Worker -------------------------------------------------------------------------------

namespace {
std::mutex g_orphans_mutex;
std::vector<std::unique_ptr<gilfree::Thread>> g_orphans;
}  // namespace

std::unique_ptr<Worker> Worker::start(std::function<Result()> body) {
  auto w = std::unique_ptr<Worker>(new Worker);
  w->state_ = std::make_shared<State>();
  w->thread_ = std::make_unique<gilfree::Thread>(
      gilfree::Thread::Options{.name = "vecmath-worker"}, [state = w->state_, body] {
        try {
          state->result = body();
        } catch (const std::exception& e) {
          state->error = e.what();
        }
      });
  py::gil_scoped_release nogil;
  w->thread_->start();
  return w;
}

Worker::~Worker() {
  if (thread_ && thread_->is_alive()) {
    std::scoped_lock g(g_orphans_mutex);
    g_orphans.push_back(std::move(thread_));
  }
}

void join_orphans() {
  for (;;) {
    std::unique_ptr<gilfree::Thread> t;
    {
      std::scoped_lock g(g_orphans_mutex);
      if (g_orphans.empty()) return;
      t = std::move(g_orphans.back());
      g_orphans.pop_back();
    }
    t->join();
  }
}

bool Worker::join(const py::object& timeout) {
  Timeout t = timeout.is_none() ? Timeout() : Timeout(timeout.cast<double>());
  py::gil_scoped_release nogil;
  thread_->join(t);
  return !thread_->is_alive();
}

py::object Worker::result() {
  if (thread_->is_alive()) throw py::value_error("the worker is still running");
  if (!state_->error.empty()) throw py::value_error("the C++ worker failed: " + state_->error);
  return std::visit([](const auto& v) { return py::cast(v); }, state_->result);
}

void bind_objects(py::module_& m) {
  py::module_ o = m.def_submodule(
      "objects", "C++ threads of this extension on gilfree objects shared with Python.");
  py::class_<Worker>(o, "Worker", "A C++ thread started by this module.")
      .def("join", &Worker::join, "timeout"_a = py::none(), "Waits; True once the thread ended.")
      .def("result", &Worker::result, "What the thread returned (ValueError while it runs).");
  py::class_<Box, std::shared_ptr<Box>>(o, "Box", "An integer shared by C++ and Python threads.")
      .def(py::init<>())
      .def_property(
          "value", [](const Box& b) { return b.value.load(); }, [](Box& b, long v) { b.value = v; });
  o.def("hold", &hold, "lock"_a, "acquired"_a, "release"_a, "timeout"_a);
  o.def("set_value", &set_value, "cond"_a, "box"_a, "value"_a);
  o.def("wait_value", &wait_value, "cond"_a, "box"_a, "value"_a, "timeout"_a);
  o.def("barrier_wait", &barrier_wait, "barrier"_a, "n"_a);
  o.def("echo", &echo, "inq"_a, "outq"_a, "n"_a, "timeout"_a);
  o.def("made_in_cpp", &made_in_cpp);
  o.def(
      "made_with_condition",
      [](py::handle cond) { return gp::Ref<gilfree::Condition>::from(cond).object(); }, "cond"_a,
      "Returns `cond` through Ref<Condition>::from (its TypeError for a foreign-lock condition).");
  o.def("countdown", &countdown, "n"_a);
}

}  // namespace vecmath
