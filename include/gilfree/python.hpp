// gilfree/python.hpp — for authors of Python extensions (pybind11): the gilfree objects
// that Python code creates — gilfree.Queue, LifoQueue, SimpleQueue, Event, Lock, RLock,
// Semaphore, BoundedSemaphore, Condition, Barrier — used from the extension's own C++
// threads without the GIL, and such objects created in C++ and handed to Python.
//
//   #include <gilfree/python.hpp>
//   namespace gp = gilfree::python;
//
//   // drain(q, stop): a C++ thread takes what Python threads put, until `stop` is set.
//   m.def("drain", [](gp::Queue q, gp::Ref<gilfree::Event> stop) {
//     auto t = std::make_unique<gilfree::Thread>([q, stop] {  // handle copies: no GIL
//       while (!stop->is_set()) {
//         std::optional<gp::Object> item = q.try_get(0.1);    // waits without the GIL
//         if (!item) continue;
//         gp::Gil gil;                      // the GIL only to look at the Python object
//         use(item->get());
//       }
//     });
//     t->start();
//     return keep(std::move(t));  // joined by the extension's atexit hook (rule 5)
//   });
//   // An Event made here and handed to Python.
//   m.def("make_flag", [] { return gp::make<gilfree::Event>(); });
//
// vecmath (examples/000_concurrency_in_python/vecmath/) is a complete extension built so.
//
// Building (rule 0). Link the extension with gilfree::shared (find_package(gilfree)),
// never with the static gilfree::gilfree. The `gilfree` module links the same
// libgilfree_shared.so, and the dynamic loader maps a library once per process whatever
// the number of modules that need it; so there is one copy of the library's process-wide
// state (the thread registry, the future-state allocator and its parking lots, the log
// hook). A static copy inside the extension would have its own, and futures or threads
// crossing between the two copies would not see each other. Build the extension with
// default symbol visibility too:
//   target_link_libraries(myext PRIVATE gilfree::shared)
//   set_target_properties(myext PROPERTIES CXX_VISIBILITY_PRESET default
//                                          VISIBILITY_INLINES_HIDDEN OFF)
// pybind11_add_module makes modules hidden, which would give the extension private copies
// of the library's header-inline variables (the thread_local behind Future::result's
// same-executor guard, the adaptive spin state) instead of the shared library's ones
// (pybind11's own namespace stays hidden either way).
//
// How the extension reaches the C++ object inside a Python object: through the C API that
// the `gilfree` module publishes as the capsule `gilfree._C_API` (capi::Table below), not
// through pybind11's type registry. The capsule works whatever pybind11 version (or none)
// the extension was built with, and it keeps the module's own wrapper classes private.
// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and Barrier are the library's
// own C++ classes (Ref<T> gives you a T&); a queue is reached through the table's
// functions (Queue, SimpleQueue below), since the module's queues hold Python objects in
// a form that is the module's business.
//
// The rules:
//  1. The GIL is needed to make a handle (Ref<T>::from, Queue::from, make, the pybind11
//     casters below) and to turn one back into a Python object (object()); these run in
//     code that Python called, which holds it.
//  2. A handle is then used without the GIL, from any thread: the methods of the C++
//     object (Event::wait, Lock::acquire, Condition::wait, Barrier::wait, ...) and Queue's
//     and SimpleQueue's put/get/task_done/qsize/shutdown never take it. Copying,
//     moving and destroying a handle need no GIL either; the last handle of an object
//     takes the GIL itself to drop its Python reference (Gil below works from any thread).
//  3. A call that may block must run without the GIL: from the extension's own threads,
//     or inside py::gil_scoped_release in a function Python called. Blocking while
//     holding the GIL deadlocks as soon as the thread that would wake you is a Python
//     thread. The module's own methods release the GIL while they wait, so Python threads
//     blocked on the same object do not stop yours.
//  4. A queue item is an Object: one owned reference to a Python object. Moving an Object
//     never touches the GIL (the pointer moves), so a C++ thread may take items from a
//     queue, keep them, and put them back or into another queue with the GIL released.
//     Looking at the object (get(), take(), ptr() dereferenced, any py:: call) needs the
//     GIL: take a Gil first. Dropping a non-empty Object takes the GIL itself.
//  5. Objects are kept alive by their handles: a Python caller may drop every reference
//     to a gilfree object while your threads still use it. Before the interpreter
//     finalises, stop and join threads that hold handles or Objects (an atexit hook is the
//     usual place): after finalisation nothing may take the GIL. Import gilfree before
//     registering that hook, so that it runs before gilfree's own (atexit is last in,
//     first out), which closes the gate Gil goes through: from then on a thread other
//     than the main one that asks for the GIL waits forever.
//  6. The condition of a gilfree.Condition is a gilfree::Condition over the gilfree Lock or
//     RLock it was made with: acquire() / release() it (or std::unique_lock, it is
//     Lockable) around wait() and notify() exactly as Python code does `with cond:`. A
//     Condition over a foreign lock (threading.Lock), a PriorityQueue (Python's `<`
//     orders it) and a Queue subclass overriding _put/_get/_qsize (Python code stores
//     its items) are refused with TypeError.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "gilfree/errors.hpp"
#include "gilfree/threading.hpp"
#include "gilfree/timeout.hpp"

namespace gilfree::python {

namespace py = pybind11;

// Holds the GIL for its lifetime, from any thread: a Python thread that released it with
// py::gil_scoped_release, or a C++ thread Python never saw. Reentrant. Goes through the
// gilfree module's exit gate once the capsule was read (rule 5).
namespace detail {
// How Gil takes the GIL: the gilfree module's gate once known (capi::table() sets it from
// the capsule; the module sets its own), PyGILState_Ensure until then. The gate lets a
// thread that asks for the GIL while the interpreter finalises wait forever instead of
// being ended by Python 3.11 with a forced unwind (which aborts the whole process when it
// meets a noexcept C++ frame).
inline std::atomic<PyGILState_STATE (*)() noexcept> ensure_gil{nullptr};
}  // namespace detail

class Gil {
 public:
  Gil() noexcept : state_(ensure()) {}
  ~Gil() { PyGILState_Release(state_); }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

 private:
  static PyGILState_STATE ensure() noexcept {
    auto* gate = detail::ensure_gil.load(std::memory_order_acquire);
    return gate ? gate() : PyGILState_Ensure();
  }
  PyGILState_STATE state_;
};

// One owned reference to a Python object, which C++ code may move around without the GIL:
// moving transfers the pointer only. The refcount is touched when an Object is made (under
// the GIL) and when a non-empty Object is dropped, which takes the GIL itself.
class Object {
 public:
  Object() noexcept = default;
  // Takes over `obj`'s reference. The caller holds the GIL.
  explicit Object(py::object obj) noexcept : p_(obj.release().ptr()) {}
  // Takes over a reference the caller owns (a new reference from the C API); no GIL needed.
  static Object steal(PyObject* p) noexcept {
    Object o;
    o.p_ = p;
    return o;
  }
  Object(Object&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Object& operator=(Object&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  ~Object() { reset(); }

  // Drops the reference, taking the GIL if there is one to drop.
  void reset() noexcept {
    if (PyObject* p = std::exchange(p_, nullptr)) {
      Gil gil;
      Py_DECREF(p);
    }
  }
  // Gives the reference back to Python. The caller holds the GIL.
  py::object take() && noexcept { return py::reinterpret_steal<py::object>(std::exchange(p_, nullptr)); }
  // A new reference to the object. The caller holds the GIL.
  py::object get() const { return py::reinterpret_borrow<py::object>(p_); }
  // Gives up ownership of the reference without touching it; no GIL needed.
  PyObject* release() noexcept { return std::exchange(p_, nullptr); }
  // The object (borrowed); dereferencing it needs the GIL.
  PyObject* ptr() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

// ---- the C API the gilfree module publishes ------------------------------------------------
//
// A versioned table of plain functions in the capsule gilfree._C_API. Extension code goes
// through Ref/Queue/SimpleQueue below; the table is the contract with the module.
namespace capi {

inline constexpr const char* kCapsuleName = "gilfree._C_API";
// Bumped when a field changes meaning; fields are only ever appended (check `size`).
inline constexpr std::uint32_t kVersion = 1;

// What unwrap() is asked for.
enum Kind : int {
  kLock = 1,
  kRLock,
  kCondition,
  kSemaphore,  // also accepts a BoundedSemaphore (a Semaphore in C++ as in Python)
  kBoundedSemaphore,
  kEvent,
  kBarrier,
  kQueue,  // gilfree.Queue or LifoQueue without Python hooks
  kSimpleQueue,
};

// The outcome of a queue call.
enum Status : int {
  kOk = 0,
  kEmptyOrFull = 1,   // get found no item / put found no room within the timeout
  kShutDown = 2,      // the queue was shut down (and, for get, is empty)
  kValueError = 3,    // task_done() called too many times
  kUnsupported = 4,   // the operation does not exist for this kind (SimpleQueue.task_done)
  kError = 5,         // anything else (out of memory)
};

// A timeout for the table: nanoseconds, or -1 for forever.
inline std::int64_t timeout_ns(const Timeout& t) noexcept {
  return t.is_forever() ? -1 : static_cast<std::int64_t>(t.duration().count());
}

struct Table {
  std::uint32_t version;  // kVersion of the module
  std::uint32_t size;     // sizeof(Table) in the module
  // The C++ object inside `obj` when obj is a gilfree object that `kind` accepts: a
  // gilfree::Lock*, RLock*, Condition*, Semaphore*, BoundedSemaphore*, Event*, Barrier*,
  // or for the queues an opaque pointer for the functions below. nullptr otherwise, with
  // no Python error set. The caller holds the GIL; the pointer lives as long as `obj`.
  void* (*unwrap)(PyObject* obj, int kind) noexcept;
  // Puts `item` into queue `q` (from unwrap, of kind `kind`), waiting as Python's put does
  // for block/timeout. On kOk the queue owns the item's reference; otherwise the caller
  // still does. No GIL needed or taken; may block.
  int (*put)(void* q, int kind, PyObject* item, int block, std::int64_t timeout_ns) noexcept;
  // Takes an item: on kOk *item is a new reference. No GIL needed or taken; may block.
  int (*get)(void* q, int kind, PyObject** item, int block, std::int64_t timeout_ns) noexcept;
  // Python's task_done(): kOk, kValueError or kUnsupported. No GIL needed.
  int (*task_done)(void* q, int kind) noexcept;
  // The approximate number of items. No GIL needed.
  std::int64_t (*qsize)(void* q, int kind) noexcept;
  // Python's shutdown(immediate) (3.13): kOk or kUnsupported. No GIL needed (an
  // immediate shutdown takes it to drop the items).
  int (*shutdown)(void* q, int kind, int immediate) noexcept;
  // Marks queue `q` as used from C++ threads without the GIL (delta +1 when a handle is
  // made, -1 when its last copy goes), so that the module does not show the queue's items
  // to the cycle collector while they may move. The caller holds the GIL.
  void (*lease)(void* q, int kind, int delta) noexcept;
  // PyGILState_Ensure() through the module's exit gate (Gil above uses it).
  PyGILState_STATE (*ensure_gil)() noexcept;
};

// The module's table: imports gilfree on first use (the caller holds the GIL then) and
// checks the version. ImportError / RuntimeError as Python exceptions.
inline const Table& table() {
  // One pointer per extension module (inline function, hidden visibility), set under the GIL.
  static const Table* t = nullptr;
  if (t == nullptr) {
    py::module_::import("gilfree");
    auto* p = static_cast<const Table*>(PyCapsule_Import(kCapsuleName, 0));
    if (p == nullptr) throw py::error_already_set();
    if (p->version < kVersion || p->size < sizeof(Table))
      throw py::import_error("the gilfree module is older than <gilfree/python.hpp> (C API version " +
                             std::to_string(p->version) + ", need " + std::to_string(kVersion) + ")");
    t = p;
    detail::ensure_gil.store(p->ensure_gil, std::memory_order_release);
  }
  return *t;
}

}  // namespace capi

// What each class is called in Python and which kind the C API knows it as.
template <class T>
struct Traits;
template <>
struct Traits<Lock> {
  static constexpr int kind = capi::kLock;
  static constexpr char name[] = "Lock";
};
template <>
struct Traits<RLock> {
  static constexpr int kind = capi::kRLock;
  static constexpr char name[] = "RLock";
};
template <>
struct Traits<Condition> {
  static constexpr int kind = capi::kCondition;
  static constexpr char name[] = "Condition";
  static constexpr char what[] = "Condition over a gilfree Lock or RLock";
};
template <>
struct Traits<Semaphore> {
  static constexpr int kind = capi::kSemaphore;
  static constexpr char name[] = "Semaphore";
};
template <>
struct Traits<BoundedSemaphore> {
  static constexpr int kind = capi::kBoundedSemaphore;
  static constexpr char name[] = "BoundedSemaphore";
};
template <>
struct Traits<Event> {
  static constexpr int kind = capi::kEvent;
  static constexpr char name[] = "Event";
};
template <>
struct Traits<Barrier> {
  static constexpr int kind = capi::kBarrier;
  static constexpr char name[] = "Barrier";
};

namespace detail {

// How error messages name what was expected: Traits<T>::what where given, else the name.
template <class T>
constexpr const char* what() {
  if constexpr (requires { Traits<T>::what; })
    return Traits<T>::what;
  else
    return Traits<T>::name;
}

// The Python object a handle keeps alive, shared by the handle's copies so that copying
// needs no GIL; the last copy drops the reference (taking the GIL).
using Owner = std::shared_ptr<const Object>;

inline Owner own(py::handle obj) { return std::make_shared<const Object>(py::reinterpret_borrow<py::object>(obj)); }

inline void* unwrap_or_throw(py::handle obj, int kind, const char* what) {
  void* p = capi::table().unwrap(obj.ptr(), kind);
  if (p == nullptr)
    throw py::type_error(std::string("expected a gilfree.") + what + ", got " + Py_TYPE(obj.ptr())->tp_name);
  return p;
}

}  // namespace detail

// A gilfree object living inside a Python object — Ref<gilfree::Event>, Ref<gilfree::Lock>,
// ... — usable from any thread without the GIL (rules 2 and 3 at the top). Copies share the
// object; the Python object lives as long as any copy.
template <class T>
class Ref {
 public:
  // An empty handle.
  Ref() noexcept = default;

  // The T inside `obj`, a gilfree.<Traits<T>::name>; TypeError otherwise (a Condition
  // over a foreign lock too). GIL held.
  static Ref from(py::handle obj) {
    Ref r;
    r.p_ = static_cast<T*>(detail::unwrap_or_throw(obj, Traits<T>::kind, detail::what<T>()));
    r.owner_ = detail::own(obj);
    return r;
  }

  // As from(), but nullopt instead of TypeError. GIL held.
  static std::optional<Ref> try_from(py::handle obj) {
    void* p = capi::table().unwrap(obj.ptr(), Traits<T>::kind);
    if (p == nullptr) return std::nullopt;
    Ref r;
    r.p_ = static_cast<T*>(p);
    r.owner_ = detail::own(obj);
    return r;
  }

  T* get() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

  // The Python object (a new reference), to hand to Python. GIL held.
  py::object object() const { return owner_ ? owner_->get() : py::none(); }

 private:
  detail::Owner owner_;
  T* p_ = nullptr;
};

// Makes a gilfree.<Traits<T>::name>(args...) object in Python and returns its handle: the
// way C++ code creates a Lock, Event, Condition, ... to hand to Python (object()). GIL held.
template <class T, class... Args>
Ref<T> make(Args&&... args) {
  py::object obj = py::module_::import("gilfree").attr(Traits<T>::name)(std::forward<Args>(args)...);
  return Ref<T>::from(obj);
}

namespace detail {

// What Queue and SimpleQueue share: the queue's opaque pointer and the status mapping.
class QueueBase {
 public:
  explicit operator bool() const noexcept { return q_ != nullptr; }
  // The Python object (a new reference), to hand to Python. GIL held.
  py::object object() const { return owner_ ? owner_->obj.get() : py::none(); }
  // The approximate number of items.
  std::size_t qsize() const { return static_cast<std::size_t>(api_->qsize(q_, kind_)); }
  bool empty() const { return qsize() == 0; }

  // Puts `item`, blocking (without the GIL) up to `timeout` for room; Full when there is
  // none, ShutDown after shutdown(). The item stays with the caller when put fails.
  void put(Object& item, bool block = true, Timeout timeout = {}) const {
    PyObject* p = item.ptr();
    check(api_->put(q_, kind_, p, block, capi::timeout_ns(timeout)), false);
    item.release();  // the queue owns the reference now
  }
  void put(Object&& item, bool block = true, Timeout timeout = {}) const { put(item, block, timeout); }
  // Takes an item, blocking (without the GIL) up to `timeout`; Empty when there is none,
  // ShutDown when the queue was shut down and is empty.
  Object get(bool block = true, Timeout timeout = {}) const {
    PyObject* p = nullptr;
    check(api_->get(q_, kind_, &p, block, capi::timeout_ns(timeout)), true);
    return Object::steal(p);
  }
  void put_nowait(Object&& item) const { put(item, false); }
  Object get_nowait() const { return get(false); }
  // An item within `timeout` (default: only if one is there now), else nullopt.
  // ShutDown when the queue was shut down and is empty.
  std::optional<Object> try_get(Timeout timeout = Timeout::zero()) const {
    PyObject* p = nullptr;
    int s = api_->get(q_, kind_, &p, true, capi::timeout_ns(timeout));
    if (s == capi::kEmptyOrFull) return std::nullopt;
    check(s, true);
    return Object::steal(p);
  }

 protected:
  QueueBase() = default;
  void init(py::handle obj, int kind, const char* what) {
    kind_ = kind;
    api_ = &capi::table();
    q_ = unwrap_or_throw(obj, kind, what);
    owner_ = std::make_shared<const Lease>(obj, q_, kind_, api_);
  }
  static void check(int status, bool getting) {
    switch (status) {
      case capi::kOk:
        return;
      case capi::kEmptyOrFull:
        if (getting) throw Empty();
        throw Full();
      case capi::kShutDown:
        throw ShutDown();
      case capi::kValueError:
        throw ValueError("task_done() called too many times");
      case capi::kUnsupported:
        throw RuntimeError("not supported by this queue");
      default:
        throw RuntimeError("gilfree queue call failed");
    }
  }

  // The Python queue, leased (capi::Table::lease) while any copy of the handle lives.
  struct Lease {
    Lease(py::handle o, void* queue, int k, const capi::Table* t)
        : obj(py::reinterpret_borrow<py::object>(o)), q(queue), kind(k), api(t) {
      api->lease(q, kind, +1);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Object obj;
    void* q;
    int kind;
    const capi::Table* api;
    ~Lease() {
      Gil gil;
      api->lease(q, kind, -1);
      obj.reset();
    }
  };

  std::shared_ptr<const Lease> owner_;
  void* q_ = nullptr;
  const capi::Table* api_ = nullptr;
  int kind_ = 0;
};

}  // namespace detail

// A gilfree.Queue or gilfree.LifoQueue (not a PriorityQueue, whose order calls Python, nor
// a subclass overriding _put/_get) used from C++ without the GIL: Python's queue.Queue
// API with Object items. Copies share the queue.
class Queue : public detail::QueueBase {
 public:
  Queue() = default;
  // The queue inside `obj`; TypeError otherwise. GIL held.
  static Queue from(py::handle obj) {
    Queue q;
    q.init(obj, capi::kQueue, "Queue (FIFO or LIFO, without Python hooks)");
    return q;
  }
  // Python's task_done(); ValueError when called more times than items were taken.
  void task_done() const { check(api_->task_done(q_, kind_), false); }
  // Python's shutdown(immediate) (3.13): later puts raise ShutDown; gets drain the queue
  // then raise ShutDown; `immediate` drops the items first.
  void shutdown(bool immediate = false) const { check(api_->shutdown(q_, kind_, immediate), false); }
};

// Makes a gilfree.Queue(maxsize) in Python and returns its handle. GIL held.
inline Queue make_queue(long maxsize = 0) {
  return Queue::from(py::module_::import("gilfree").attr("Queue")(maxsize));
}

// A gilfree.SimpleQueue used from C++ without the GIL (put never blocks).
class SimpleQueue : public detail::QueueBase {
 public:
  SimpleQueue() = default;
  // The queue inside `obj`; TypeError otherwise. GIL held.
  static SimpleQueue from(py::handle obj) {
    SimpleQueue q;
    q.init(obj, capi::kSimpleQueue, "SimpleQueue");
    return q;
  }
};

// Makes a gilfree.SimpleQueue() in Python and returns its handle. GIL held.
inline SimpleQueue make_simple_queue() {
  return SimpleQueue::from(py::module_::import("gilfree").attr("SimpleQueue")());
}

}  // namespace gilfree::python

// pybind11 conversions, so that a bound function takes and returns the handles directly:
// `m.def("f", [](gilfree::python::Queue q, gilfree::python::Ref<gilfree::Event> e) {...})`.
// An argument of the wrong kind makes the overload not match (pybind11's TypeError).
namespace pybind11::detail {

template <class H>
struct gilfree_handle_caster {
  static constexpr auto name = const_name("gilfree object");
  bool load(handle src, bool) {
    if (!src) return false;
    try {
      value = H::from(src);
      return true;
    } catch (const pybind11::type_error&) {
      return false;
    }
  }
  static handle cast(const H& h, return_value_policy, handle) { return h.object().release(); }
  operator H*() { return &value; }
  operator H&() { return value; }
  operator H&&() && { return std::move(value); }
  template <class U>
  using cast_op_type = movable_cast_op_type<U>;
  H value;
};

template <class T>
struct type_caster<gilfree::python::Ref<T>> : gilfree_handle_caster<gilfree::python::Ref<T>> {};
template <>
struct type_caster<gilfree::python::Queue> : gilfree_handle_caster<gilfree::python::Queue> {};
template <>
struct type_caster<gilfree::python::SimpleQueue> : gilfree_handle_caster<gilfree::python::SimpleQueue> {};

}  // namespace pybind11::detail
