// gilfree/queue.hpp — Python's `queue` module: Queue, LifoQueue, PriorityQueue,
// SimpleQueue, with Empty, Full and (Python 3.13) ShutDown.
//
//   gilfree::Queue<Job> q(1024);          // queue.Queue(maxsize=1024)
//   q.put(job);                           // blocks while full
//   Job j = q.get();                      // blocks while empty
//   q.task_done();  q.join();             // the producer/consumer handshake
//   q.shutdown();                         // puts raise ShutDown; gets drain, then raise
//
// How it is built. Python's queue.py keeps one mutex and three conditions around a
// container that subclasses shape through _init/_qsize/_put/_get. Here the container
// policy (Fifo, Lifo, Priority, or your own) plays the part of those hooks, and a
// "store" makes the policy safe to touch from many threads: for a bounded FIFO queue the
// store is a lock-free ring (detail/ring.hpp), for everything else a mutex around the
// policy. BasicQueue then writes Python's blocking logic once, over any store, with
// detail::Parking in the role of the conditions: a waiter polls briefly, then sleeps,
// and a put or get pays for a wake-up only when somebody sleeps.
//
// `unfinished_tasks` is not a separate counter: it is "items ever put" minus "task_done
// calls", both monotonic, so a put stays a single atomic claim.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/ring.hpp"
#include "errors.hpp"
#include "timeout.hpp"

namespace gilfree {

// ---- container policies: Python's _init / _qsize / _put / _get --------------------------
//
// A policy is what a Python subclass of Queue overrides: a type with `put(T&&)` (_put),
// `T get()` (_get, called only when size() > 0) and `std::size_t size() const` (_qsize).
// BasicQueue only calls it under its own mutex, so a policy needs no synchronization of
// its own, and any of the three may throw (the queue is then left as it was, as Python's
// is when a hook raises). Write one to make, say, a queue that drops duplicates, and use it
// as `gilfree::BasicQueue<T, MyPolicy>`; a policy that carries state (or calls out, as the
// Python module's does into a subclass's hooks) is passed as an instance.

// First in, first out (queue.Queue).
template <class T>
struct Fifo {
  void put(T&& item) { items.push_back(std::move(item)); }
  T get() {
    T item = std::move(items.front());
    items.pop_front();
    return item;
  }
  std::size_t size() const noexcept { return items.size(); }
  std::deque<T> items;
};

// Last in, first out (queue.LifoQueue).
template <class T>
struct Lifo {
  void put(T&& item) { items.push_back(std::move(item)); }
  T get() {
    T item = std::move(items.back());
    items.pop_back();
    return item;
  }
  std::size_t size() const noexcept { return items.size(); }
  std::vector<T> items;
};

// Smallest first by `Compare`, as heapq (queue.PriorityQueue). Items that compare equal
// come out in no particular order, as in Python. Every comparison is made before any
// item moves, so a comparison that throws (Python's `<` can) leaves the heap as it was.
template <class T, class Compare = std::less<T>>
struct Priority {
  void put(T&& item) {
    std::size_t hole = items.size();  // sift up: find the slot first
    while (hole > 0 && less(item, items[(hole - 1) / 2])) hole = (hole - 1) / 2;
    items.push_back(std::move(item));
    T moving = std::move(items.back());
    for (std::size_t i = items.size() - 1; i > hole; i = (i - 1) / 2)
      items[i] = std::move(items[(i - 1) / 2]);
    items[hole] = std::move(moving);
  }
  T get() {
    const std::size_t last = items.size() - 1;
    std::size_t path[64];  // sift the last item down from the root: find the path first
    int depth = 0;
    for (std::size_t hole = 0;;) {
      std::size_t child = 2 * hole + 1;
      if (child >= last) break;
      if (child + 1 < last && less(items[child + 1], items[child])) ++child;
      if (!less(items[child], items[last])) break;
      path[depth++] = hole = child;
    }
    T top = std::move(items.front());
    if (last == 0) {
      items.pop_back();
      return top;
    }
    T moving = std::move(items[last]);
    items.pop_back();
    std::size_t hole = 0;
    for (int k = 0; k < depth; ++k) {
      items[hole] = std::move(items[path[k]]);
      hole = path[k];
    }
    items[hole] = std::move(moving);
    return top;
  }
  std::size_t size() const noexcept { return items.size(); }
  std::vector<T> items;  // a binary heap, smallest (by `less`) at the front
  Compare less;
};

namespace detail {

// A store makes a policy thread-safe and counts what went through it. Every store has:
//   PushResult try_push(T& item)              moves from item only on ok
//   PopResult try_pop(std::optional<T>& out)  drained: closed and empty
//   void close()                              later pushes fail with shut_down
//   bool closed(); uint64_t pushed(), popped(); size_t size()
// pushed/popped/closed change by seq_cst read-modify-writes, as Parking requires of
// the state that waiters' predicates read.

// Any policy behind a mutex; `maxsize` <= 0 means unbounded.
template <class T, class Policy>
class LockedStore {
 public:
  explicit LockedStore(long maxsize, Policy policy = Policy())
      : maxsize_(maxsize), policy_(std::move(policy)) {}

  PushResult try_push(T& item) {
    std::lock_guard lock(mutex_);
    if (closed_.load(std::memory_order_relaxed)) return PushResult::shut_down;
    const long maxsize = maxsize_.load(std::memory_order_relaxed);
    if (maxsize > 0 && policy_.size() >= static_cast<std::size_t>(maxsize))
      return PushResult::full;
    policy_.put(std::move(item));
    pushed_.fetch_add(1, std::memory_order_seq_cst);
    return PushResult::ok;
  }
  PopResult try_pop(std::optional<T>& out) {
    std::lock_guard lock(mutex_);
    if (policy_.size() == 0)
      return closed_.load(std::memory_order_relaxed) ? PopResult::drained : PopResult::empty;
    out.emplace(policy_.get());
    popped_.fetch_add(1, std::memory_order_seq_cst);
    return PopResult::ok;
  }
  void close() {
    std::lock_guard lock(mutex_);  // orders the close against pushes in progress
    closed_.exchange(true, std::memory_order_seq_cst);
  }
  bool closed() const noexcept { return closed_.load(std::memory_order_seq_cst); }
  std::uint64_t pushed() const noexcept { return pushed_.load(std::memory_order_seq_cst); }
  std::uint64_t popped() const noexcept { return popped_.load(std::memory_order_seq_cst); }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return policy_.size();
  }
  // Any new bound takes effect for the next push.
  void set_maxsize(long maxsize) {
    std::lock_guard lock(mutex_);
    maxsize_.store(maxsize, std::memory_order_relaxed);
  }
  // Calls f(item) for each item, if the policy exposes `items` and the lock is free now.
  template <class F>
  bool try_visit(F&& f) const {
    if constexpr (requires { policy_.items.begin(); }) {
      std::unique_lock lock(mutex_, std::try_to_lock);
      if (!lock) return false;
      for (const T& item : policy_.items) f(item);
      return true;
    } else {
      return false;
    }
  }

 private:
  std::atomic<long> maxsize_;
  mutable std::mutex mutex_;
  Policy policy_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> pushed_{0};
  std::atomic<std::uint64_t> popped_{0};
};

// The bounded FIFO case on the lock-free ring; the rest behind a mutex: unbounded, too
// large to preallocate, or maxsize 1 (a ring's sequence numbers need two slots to tell
// "full" from "free"). Chosen once, at construction.
template <class T>
class FifoStore {
 public:
  // Bounds above this use a growing deque, as Python's do, not a preallocated ring.
  static constexpr long kMaxRing = 1 << 16;

  explicit FifoStore(long maxsize)
      : ring_(maxsize >= 2 && maxsize <= kMaxRing
                  ? std::make_unique<BoundedRing<T>>(static_cast<std::size_t>(maxsize))
                  : nullptr),
        capacity_(maxsize),
        limit_(maxsize),
        locked_(maxsize) {}

  PushResult try_push(T& item) {
    if (!ring_) return locked_.try_push(item);
    if (limit_.load(std::memory_order_acquire) == capacity_) return ring_->try_push(item);
    // A bound lowered below the ring's capacity: pushes check it one at a time, so that
    // racing pushers cannot overshoot it (pops only make room).
    std::lock_guard lock(shrunk_);
    if (ring_->size() >= static_cast<std::size_t>(limit_.load(std::memory_order_relaxed)))
      return ring_->closed() ? PushResult::shut_down : PushResult::full;
    return ring_->try_push(item);
  }
  // The ring has no stable view of its items: only the mutex-backed store visits.
  template <class F>
  bool try_visit(F&& f) const {
    return ring_ ? false : locked_.try_visit(std::forward<F>(f));
  }
  // A ring cannot grow: its bound may be lowered, and raised again up to the initial one.
  void set_maxsize(long maxsize) {
    if (!ring_) return locked_.set_maxsize(maxsize);
    if (maxsize <= 0 || maxsize > capacity_)
      throw ValueError("a bounded FIFO queue's maxsize can only be lowered (to >= 1), or "
                       "raised back up to its initial value");
    std::lock_guard lock(shrunk_);
    limit_.store(maxsize, std::memory_order_release);
  }
  PopResult try_pop(std::optional<T>& out) {
    return ring_ ? ring_->try_pop(out) : locked_.try_pop(out);
  }
  void close() { ring_ ? ring_->close() : locked_.close(); }
  bool closed() const noexcept { return ring_ ? ring_->closed() : locked_.closed(); }
  std::uint64_t pushed() const noexcept { return ring_ ? ring_->pushed() : locked_.pushed(); }
  std::uint64_t popped() const noexcept { return ring_ ? ring_->popped() : locked_.popped(); }
  std::size_t size() const { return ring_ ? ring_->size() : locked_.size(); }

 private:
  const std::unique_ptr<BoundedRing<T>> ring_;
  const long capacity_;     // the ring's, when there is one
  std::atomic<long> limit_;  // the bound now, <= capacity_
  std::mutex shrunk_;        // serializes pushes while limit_ < capacity_
  LockedStore<T, Fifo<T>> locked_;
};

template <class T, class Policy>
struct StoreFor {
  using type = LockedStore<T, Policy>;
};
template <class T>
  requires std::is_nothrow_move_constructible_v<T>
struct StoreFor<T, Fifo<T>> {
  using type = FifoStore<T>;
};

}  // namespace detail

// ---- the queue --------------------------------------------------------------------------

// Python's queue.Queue over a container policy; Queue, LifoQueue and PriorityQueue are
// this template with Fifo, Lifo and Priority. Every member is safe to call from any
// number of threads. T needs only to be move-constructible.
template <class T, class Policy>
class BasicQueue {
 public:
  using value_type = T;

  // A queue holding at most `maxsize` items; zero or negative means unbounded.
  explicit BasicQueue(long maxsize = 0) : maxsize_(maxsize), store_(maxsize) {}
  // A queue over the given policy instance (a policy with state, or one that calls out).
  explicit BasicQueue(Policy policy, long maxsize = 0)
    requires std::same_as<typename detail::StoreFor<T, Policy>::type,
                          detail::LockedStore<T, Policy>>
      : maxsize_(maxsize), store_(maxsize, std::move(policy)) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // Puts `item` in the queue. With `block`, waits for a free slot up to `timeout`
  // (default: forever) and then raises Full; without, raises Full at once if there is
  // none. Raises ShutDown if the queue is shut down, also while waiting.
  void put(T item, bool block = true, Timeout timeout = {}) {
    switch (put_item(item, block, timeout.deadline())) {
      case Outcome::ok: return;
      case Outcome::shut_down: throw ShutDown();
      case Outcome::timed_out: throw Full();
    }
  }

  // Removes and returns the next item. With `block`, waits for one up to `timeout`
  // (default: forever) and then raises Empty; without, raises Empty at once. Once the
  // queue is shut down, gets still return what is left, then raise ShutDown.
  T get(bool block = true, Timeout timeout = {}) {
    std::optional<T> item;
    switch (get_item(item, block, timeout.deadline())) {
      case Outcome::ok: return std::move(*item);
      case Outcome::shut_down: throw ShutDown();
      case Outcome::timed_out: throw Empty();
    }
    __builtin_unreachable();
  }

  // put(item, false): raises Full rather than wait.
  void put_nowait(T item) { put(std::move(item), false); }
  // get(false): raises Empty rather than wait.
  T get_nowait() { return get(false); }

  // Like get(true, timeout) but says "nothing" with nullopt instead of raising Empty or
  // ShutDown; the default timeout is zero (do not wait).
  [[nodiscard]] std::optional<T> try_get(Timeout timeout = Timeout::zero()) {
    std::optional<T> item;
    get_item(item, true, timeout.deadline());
    return item;
  }
  // Like put(item, true, timeout) but returns false instead of raising Full or
  // ShutDown; `item` is moved from only on success. The default timeout is zero.
  [[nodiscard]] bool try_put(T&& item, Timeout timeout = Timeout::zero()) {
    return put_item(item, true, timeout.deadline()) == Outcome::ok;
  }
  // Copying form of try_put.
  [[nodiscard]] bool try_put(const T& item, Timeout timeout = Timeout::zero())
    requires std::copy_constructible<T>
  {
    T copy(item);
    return try_put(std::move(copy), timeout);
  }

  // The number of items in the queue; approximate while other threads put and get.
  std::size_t qsize() const { return store_.size(); }
  // True when the queue holds no items (approximate, as qsize()).
  bool empty() const { return qsize() == 0; }
  // True when the queue is bounded and holds maxsize() items (approximate, as qsize()).
  bool full() const {
    const long maxsize = this->maxsize();
    return maxsize > 0 && qsize() >= static_cast<std::size_t>(maxsize);
  }
  // The bound (zero or negative: unbounded).
  long maxsize() const noexcept { return maxsize_.load(std::memory_order_relaxed); }
  // Changes the bound, as assigning Python's `maxsize` attribute does: puts check the new
  // one from now on (items already in the queue stay), and waiting putters recheck. A
  // bounded Queue (FIFO) on the lock-free ring cannot grow past its initial bound:
  // ValueError.
  void set_maxsize(long maxsize) {
    store_.set_maxsize(maxsize);
    maxsize_.exchange(maxsize, std::memory_order_seq_cst);  // an RMW, as Parking requires
    not_full_.wake_all();
  }
  // True once shutdown() was called (Python's `is_shutdown` attribute).
  bool is_shutdown() const noexcept { return store_.closed(); }

  // Calls f(const T&) for each item in the queue and returns true, when that can be done
  // without waiting and without racing the queue's own lock: the container is behind a
  // mutex (not the bounded FIFO ring), the policy exposes its `items`, and the mutex is
  // free now. Otherwise visits nothing and returns false. The view is a snapshot; only a
  // caller that knows no other thread is using the queue can rely on it staying true (the
  // Python module's garbage-collector support).
  template <class F>
  bool try_visit(F&& f) const {
    return store_.try_visit(std::forward<F>(f));
  }

  // Says that one item taken from the queue has been fully processed; when every item
  // put has been, join() returns. More calls than items put: ValueError.
  void task_done() {
    std::uint64_t done = done_.load(std::memory_order_seq_cst);
    do {
      if (done >= store_.pushed()) throw ValueError("task_done() called too many times");
    } while (!done_.compare_exchange_weak(done, done + 1, std::memory_order_seq_cst));
    if (done + 1 == store_.pushed()) all_tasks_done_.wake_all();
  }

  // Blocks until every item ever put has had its task_done() (at once if none is
  // pending). An immediate shutdown() releases it.
  void join() { join(Timeout()); }
  // As join(), giving up once `timeout` passed; true when every task is done (a caller
  // that must stay responsive, such as one that checks for Ctrl-C, waits in slices).
  bool join(Timeout timeout) {
    const Deadline deadline = timeout.deadline();
    while (!all_tasks_done()) {
      if (deadline.expired()) return false;
      all_tasks_done_.park_until(deadline, [this] { return all_tasks_done(); });
    }
    return true;
  }

  // Python 3.13's shutdown: later puts raise ShutDown, and so do gets once the queue is
  // empty; blocked callers wake up to that. With `immediate`, the queue is emptied first
  // (one task counted done per item dropped, so join() returns) and gets raise at once.
  void shutdown(bool immediate = false) {
    store_.close();
    if (immediate) {
      std::optional<T> dropped;
      while (store_.try_pop(dropped) == detail::PopResult::ok) {
        dropped.reset();
        forgive_one_task();
      }
      all_tasks_done_.wake_all();
    }
    not_empty_.wake_all();
    not_full_.wake_all();
  }

 private:
  enum class Outcome { ok, timed_out, shut_down };

  // Python's put(), with the store doing _put under whatever lock it needs.
  Outcome put_item(T& item, bool block, const Deadline& deadline) {
    for (;;) {
      switch (store_.try_push(item)) {
        case detail::PushResult::ok:
          not_empty_.wake_one();  // self.not_empty.notify()
          return Outcome::ok;
        case detail::PushResult::shut_down:
          return Outcome::shut_down;
        case detail::PushResult::full:
          break;
      }
      if (!block || deadline.expired()) return Outcome::timed_out;
      not_full_.park_until(deadline, [this] { return may_have_room(); });
    }
  }

  // Python's get(), with the store doing _get under whatever lock it needs.
  Outcome get_item(std::optional<T>& item, bool block, const Deadline& deadline) {
    for (;;) {
      switch (store_.try_pop(item)) {
        case detail::PopResult::ok:
          not_full_.wake_one();  // self.not_full.notify()
          return Outcome::ok;
        case detail::PopResult::drained:
          return Outcome::shut_down;
        case detail::PopResult::empty:
          break;
      }
      if (!block || deadline.expired()) return Outcome::timed_out;
      not_empty_.park_until(deadline, [this] { return may_have_item(); });
    }
  }

  // The waiters' predicates: cheap hints, rechecked by the next try_push/try_pop.
  // `popped` is read before `pushed` (so pushed >= popped): a pop the predicate missed
  // then came after the waiter announced itself, and that pop's wake-up finds it.
  bool may_have_item() const noexcept {
    const std::uint64_t popped = store_.popped();
    return store_.pushed() != popped || store_.closed();
  }
  bool may_have_room() const noexcept {
    const std::uint64_t popped = store_.popped();
    const long maxsize = maxsize_.load(std::memory_order_seq_cst);
    return maxsize <= 0 || store_.pushed() - popped < static_cast<std::uint64_t>(maxsize) ||
           store_.closed();
  }
  // unfinished_tasks == 0; `done_` first, so that the pair read is never too small.
  bool all_tasks_done() const noexcept {
    const std::uint64_t done = done_.load(std::memory_order_seq_cst);
    return done == store_.pushed();
  }
  // For each item an immediate shutdown drops: "if unfinished_tasks > 0: -= 1".
  void forgive_one_task() noexcept {
    std::uint64_t done = done_.load(std::memory_order_seq_cst);
    while (done < store_.pushed() &&
           !done_.compare_exchange_weak(done, done + 1, std::memory_order_seq_cst)) {
    }
  }

  std::atomic<long> maxsize_;
  typename detail::StoreFor<T, Policy>::type store_;
  alignas(64) std::atomic<std::uint64_t> done_{0};  // task_done() calls so far
  detail::Parking not_empty_;       // getters wait here
  detail::Parking not_full_;        // putters wait here
  detail::Parking all_tasks_done_;  // join() waits here
};

// queue.Queue: first in, first out. Bounded queues run on a lock-free ring.
template <class T>
class Queue : public BasicQueue<T, Fifo<T>> {
 public:
  using BasicQueue<T, Fifo<T>>::BasicQueue;
};

// queue.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public BasicQueue<T, Lifo<T>> {
 public:
  using BasicQueue<T, Lifo<T>>::BasicQueue;
};

// queue.PriorityQueue: the smallest item by `Compare` first (as heapq); use
// std::greater<T> for largest first, or pairs (priority, item) as in Python.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, Priority<T, Compare>> {
 public:
  using BasicQueue<T, Priority<T, Compare>>::BasicQueue;
};

// queue.SimpleQueue: an unbounded FIFO queue without task tracking or shutdown.
template <class T>
class SimpleQueue {
 public:
  using value_type = T;

  SimpleQueue() = default;
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  // Puts `item` in the queue; never blocks, so `block` and `timeout` are ignored, as
  // in Python (they exist for compatibility with Queue.put).
  void put(T item, bool block = true, Timeout timeout = {}) {
    (void)block;
    (void)timeout;
    queue_.put(std::move(item));
  }
  // put(item): never blocks.
  void put_nowait(T item) { queue_.put(std::move(item)); }
  // Removes and returns the next item, waiting as Queue::get; raises Empty.
  T get(bool block = true, Timeout timeout = {}) { return queue_.get(block, timeout); }
  // get(false): raises Empty rather than wait.
  T get_nowait() { return queue_.get(false); }
  // get with a timeout (default zero), nullopt instead of Empty.
  [[nodiscard]] std::optional<T> try_get(Timeout timeout = Timeout::zero()) {
    return queue_.try_get(timeout);
  }
  // The number of items (approximate while other threads put and get).
  std::size_t qsize() const { return queue_.qsize(); }
  // As BasicQueue::try_visit.
  template <class F>
  bool try_visit(F&& f) const {
    return queue_.try_visit(std::forward<F>(f));
  }
  // True when there are no items (approximate).
  bool empty() const { return queue_.empty(); }

 private:
  Queue<T> queue_;  // unbounded: a deque behind a mutex
};

}  // namespace gilfree
