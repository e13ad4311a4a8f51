// gilfree/multiprocessing/queues.hpp — multiprocessing's Queue, JoinableQueue and
// SimpleQueue, for now for trivially copyable T, as a bounded ring in anonymous shared
// memory (inherited by fork children).
//
// Why a shared ring and not CPython's pipe + feeder thread: no thread, no syscall for an
// item when nobody sleeps, qsize() exact, and nothing can be stuck in a feeder's buffer,
// so joining a process that put items never deadlocks (CPython's documented trap).
// Consistency when a participant is SIGKILLed: the item is copied under an mp::Lock and
// the tail (put) or head (get) index is published last with one atomic store, so a process
// killed inside put/get either completed its operation or left the ring as it was; the
// next process takes over the lock (Lock's dead-owner take-over). No duplicate, at most
// the killed process's own item lost, no hang.
//
// Differences from Python, for now: T is trivially copyable (serialised items of any type,
// and 64 MiB items, are not done yet); maxsize <= 0 means a ring of kDefaultCapacity items
// and put() then blocks while that is full, where Python's would grow without bound;
// there is no feeder thread, so join_thread()/cancel_join_thread() have nothing to wait
// for. Passing to forkserver/spawn children: not yet (as synchronize.hpp).
#pragma once

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "../errors.hpp"
#include "../timeout.hpp"
#include "detail/shared_futex.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"
#include "synchronize.hpp"

namespace gilfree::multiprocessing {

namespace detail {
struct QueueHeader {
  std::atomic<std::uint64_t> head{0};  // next to get; written under the lock
  std::atomic<std::uint64_t> tail{0};  // next to put; written under the lock
  std::atomic<std::uint32_t> put_seq{0};  // bumped after each put: getters sleep on it
  std::atomic<std::uint32_t> get_seq{0};  // bumped after each get: putters sleep on it
  std::atomic<std::uint32_t> getters{0};  // sleeping (or killed while sleeping) getters
  std::atomic<std::uint32_t> putters{0};
  std::atomic<std::uint32_t> unfinished{0};  // JoinableQueue's unfinished tasks
  std::uint32_t capacity = 0;
};

inline Deadline queue_slice(const Deadline& d) {
  auto r = Deadline(Deadline::clock::now() + kRecheck);
  if (d.is_forever() || r.time_point() < d.time_point()) return r;
  return d;
}
}  // namespace detail

// multiprocessing.Queue for trivially copyable T (see the file comment for the
// differences from Python). Copies are handles to the same queue.
template <class T>
class Queue {
  static_assert(std::is_trivially_copyable_v<T>, "mp::Queue holds trivially copyable items for now");

 public:
  // The ring's size when maxsize <= 0.
  static constexpr std::uint32_t kDefaultCapacity = 1u << 16;

  // A queue holding at most `maxsize` items (<= 0: kDefaultCapacity).
  explicit Queue(int maxsize = 0) : maxsize_(maxsize) {
    const std::uint32_t cap = maxsize > 0 ? static_cast<std::uint32_t>(maxsize) : kDefaultCapacity;
    auto mem = detail::map_shared(bytes_for(cap));
    h_ = new (mem.get()) detail::QueueHeader();
    h_->capacity = cap;
    point_at(std::move(mem));
  }
  virtual ~Queue() = default;
  Queue(const Queue&) = default;
  Queue& operator=(const Queue&) = default;

  // The wire form (a Process argument under forkserver/spawn): a reference to the shared
  // ring and its lock; close() does not cross (it is per process, as CPython's).
  template <class A>
  void save(A& ar) const {
    ar(static_cast<std::int32_t>(maxsize_), lock_);
    detail::save_block(ar, mem_, bytes_for(h_->capacity));
  }
  template <class A>
  void load(A& ar) {
    std::int32_t maxsize = 0;
    detail::SharedRef ref;
    ar(maxsize, lock_, ref);
    if (ref.size < sizeof(detail::QueueHeader)) throw UnpicklingError("a Queue's ring is too small");
    auto mem = detail::attach_shared(ref);
    const std::uint32_t cap = static_cast<detail::QueueHeader*>(mem.get())->capacity;
    if (cap == 0 || ref.size < bytes_for(cap)) throw UnpicklingError("a Queue's ring is too small");
    maxsize_ = maxsize;
    closed_ = false;
    point_at(std::move(mem));
  }

  // Puts `item`, waiting up to `timeout` while full (Full then; at once if !block);
  // ValueError after close() in this process.
  void put(const T& item, bool block = true, Timeout timeout = {}) {
    if (closed_) throw ValueError("Queue is closed");
    const Deadline deadline = block ? timeout.deadline() : Deadline(Deadline::clock::now());
    for (;;) {
      const std::uint32_t seen = h_->get_seq.load();
      if (!lock_.acquire(true, remaining(deadline))) throw Full();
      const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
      if (tail - h_->head.load(std::memory_order_relaxed) < h_->capacity) {
        slots_[tail % h_->capacity] = item;
        on_put();
        h_->tail.store(tail + 1, std::memory_order_release);  // published last
        lock_.release();
        h_->put_seq.fetch_add(1);
        if (h_->getters.load() > 0) detail::shared_futex_wake(h_->put_seq, 1);
        return;
      }
      lock_.release();
      if (deadline.expired()) throw Full();
      h_->putters.fetch_add(1);
      if (h_->get_seq.load() == seen) detail::shared_futex_wait(h_->get_seq, seen, detail::queue_slice(deadline));
      h_->putters.fetch_sub(1);
    }
  }

  // Removes and returns an item, waiting up to `timeout` while empty (Empty then; at once
  // if !block).
  T get(bool block = true, Timeout timeout = {}) {
    const Deadline deadline = block ? timeout.deadline() : Deadline(Deadline::clock::now());
    for (;;) {
      const std::uint32_t seen = h_->put_seq.load();
      if (!lock_.acquire(true, remaining(deadline))) throw Empty();
      const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
      if (h_->tail.load(std::memory_order_relaxed) != head) {
        T item = slots_[head % h_->capacity];
        h_->head.store(head + 1, std::memory_order_release);  // published last
        lock_.release();
        h_->get_seq.fetch_add(1);
        if (h_->putters.load() > 0) detail::shared_futex_wake(h_->get_seq, 1);
        return item;
      }
      lock_.release();
      if (deadline.expired()) throw Empty();
      h_->getters.fetch_add(1);
      if (h_->put_seq.load() == seen) detail::shared_futex_wait(h_->put_seq, seen, detail::queue_slice(deadline));
      h_->getters.fetch_sub(1);
    }
  }

  // put(item, false).
  void put_nowait(const T& item) { put(item, false); }
  // get(false).
  T get_nowait() { return get(false); }
  // The number of items, exact at the moment of the read (unlike CPython's approximation).
  std::size_t qsize() const noexcept {
    return static_cast<std::size_t>(h_->tail.load(std::memory_order_acquire) -
                                    h_->head.load(std::memory_order_acquire));
  }
  // qsize() == 0.
  bool empty() const noexcept { return qsize() == 0; }
  // True when a put would have to wait.
  bool full() const noexcept { return qsize() >= h_->capacity; }
  // The maxsize given to the constructor.
  int maxsize() const noexcept { return maxsize_; }
  // This process will put no more (put is then a ValueError here); other processes are
  // unaffected.
  void close() noexcept { closed_ = true; }
  // CPython waits for its feeder thread here; without one there is nothing to wait for.
  // AssertionError unless close() was called first, as CPython's.
  void join_thread() const {
    if (!closed_) throw AssertionError("Queue not closed");
  }
  // CPython's opt-out of join_thread() at exit; a no-op here (no feeder thread).
  void cancel_join_thread() noexcept {}

 protected:
  virtual void on_put() {}
  detail::QueueHeader* h_ = nullptr;

 private:
  static std::size_t bytes_for(std::uint32_t cap) {
    return sizeof(detail::QueueHeader) + alignof(T) + std::size_t{cap} * sizeof(T);
  }
  void point_at(std::shared_ptr<void> mem) {
    h_ = static_cast<detail::QueueHeader*>(mem.get());
    auto base = reinterpret_cast<std::uintptr_t>(h_ + 1);
    base = (base + alignof(T) - 1) / alignof(T) * alignof(T);
    slots_ = reinterpret_cast<T*>(base);
    mem_ = std::move(mem);
  }
  static Timeout remaining(const Deadline& d) {
    if (d.is_forever()) return Timeout();
    return Timeout(d.remaining());
  }
  std::shared_ptr<void> mem_;
  T* slots_ = nullptr;
  Lock lock_;
  int maxsize_;
  bool closed_ = false;  // per process, as CPython's _closed
};

// multiprocessing.JoinableQueue: a Queue whose consumers call task_done() for each item
// and whose join() waits until every item put has been marked done.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  using Queue<T>::Queue;

  // Marks one item done; ValueError "task_done() called too many times" if none is
  // unfinished.
  void task_done() {
    auto& u = this->h_->unfinished;
    std::uint32_t c = u.load();
    do {
      if (c == 0) throw ValueError("task_done() called too many times");
    } while (!u.compare_exchange_weak(c, c - 1));
    if (c == 1) detail::shared_futex_wake(u, INT_MAX);
  }
  // Waits until every item put has been marked done, or `timeout` (then false).
  bool join(Timeout timeout = {}) {
    auto& u = this->h_->unfinished;
    const Deadline deadline = timeout.deadline();
    for (;;) {
      std::uint32_t c = u.load();
      if (c == 0) return true;
      if (deadline.expired()) return false;
      detail::shared_futex_wait(u, c, detail::queue_slice(deadline));
    }
  }

 protected:
  // Counted under the lock, before the item is published, so join() never sees a put item
  // as done.
  void on_put() override { this->h_->unfinished.fetch_add(1); }
};

// multiprocessing.SimpleQueue: put/get/empty/close only (the same ring).
template <class T>
class SimpleQueue {
 public:
  // An empty queue.
  SimpleQueue() = default;
  // Puts `item` (blocks while the ring is full).
  void put(const T& item) { q_.put(item); }
  // Removes and returns an item, waiting while empty.
  T get() { return q_.get(); }
  // True when no item is queued.
  bool empty() const noexcept { return q_.empty(); }
  // This process will use the queue no more.
  void close() noexcept { q_.close(); }

  // The wire form: the underlying ring's.
  template <class A>
  void save(A& ar) const {
    ar(q_);
  }
  template <class A>
  void load(A& ar) {
    ar(q_);
  }

 private:
  Queue<T> q_;
};

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
