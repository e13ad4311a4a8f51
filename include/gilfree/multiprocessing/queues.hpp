// gilfree/multiprocessing/queues.hpp — multiprocessing's Queue, JoinableQueue and
// SimpleQueue as a ring in shared memory (memfd: inherited by fork children, opened by
// forkserver/spawn children that receive the queue as a Process argument).
//
// Why a shared ring and not CPython's pipe + feeder thread: no thread, no syscall for an
// item when nobody sleeps, qsize() exact, and nothing can be stuck in a feeder's buffer,
// so joining a process that put items never deadlocks (CPython's documented trap).
//
// The fixed-slot ring (trivially copyable T): producers serialise on a put lock and
// consumers on a get lock, each a word in the ring's header holding its holder's pid, on a
// line the other side never touches; each side's index (tail, head) has a line of its
// own, and each side keeps a copy of the other's index that it reads again only when the
// copy says full (put) or empty (get). A put: CAS the put lock, copy the item into slot
// tail, store tail + 1 (the publication), release the lock with a plain store, one fence,
// then look whether anybody sleeps; a get mirrors it with head. A sleeper's sequence word
// is bumped, and FUTEX_WAKE called, only while the other side counts sleepers, so a put
// or get between two running processes makes no syscall.
//
//      slot p:   free ──put: copy item in, then tail = p+1──▶ full
//                 ▲                                            │
//                 └─────get: copy item out, then head = p+1────┘
//      (p is the slot's position; both stores under the side's lock, the index last)
//
// Consistency when a participant is SIGKILLed: the item is copied under the side's lock
// and the index is published last, so a process killed inside put/get either completed
// its operation or left the ring as it was (a consumer killed before its head store
// leaves its item queued: it never returned it). A waiter that finds the side's lock held
// by a dead pid takes it over and carries on (the flat ring needs no repair: the cached
// indices are only ever stale copies, never ahead of the real ones), except that a
// JoinableQueue's unfinished count, raised before an item is published, is lowered again
// when the dead producer had marked (`counting`) an item it never published — exact but
// for the one instruction between that mark and the count (where a kill leaves the count
// one low: join() may return an item early, never hang). The serialised-item ring uses one
// mp::Lock and, after a take-over, recounts its records and repairs the unfinished count
// the same way. No duplicate, at most the killed process's own item lost, no hang.
// Items: trivially copyable T as raw slots (the fast path); any other serializable T as a
// frame of the wire format. maxsize <= 0 is unbounded as in Python, up to
// kUnboundedRingBytes (1 GiB) outstanding at once, after which put() waits. There is no
// feeder thread, so join_thread()/cancel_join_thread() have nothing to wait for.
#pragma once

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "../errors.hpp"
#include "../timeout.hpp"
#include "../detail/wait/spin.hpp"
#include "detail/shared_futex.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"
#include "synchronize.hpp"

// Fault-injection points for the kill tests (tests/test_mp_queue_kill.cpp defines it
// before including this header, in its own program): called with "put:copied",
// "put:published", "get:copied" and "get:published" and the item's position, while the
// side's lock is held. Nothing in the library defines it.
#ifndef GILFREE_MP_QUEUE_TEST_POINT
#define GILFREE_MP_QUEUE_TEST_POINT(where, pos) static_cast<void>(0)
#endif

namespace gilfree::multiprocessing {

namespace detail {
// The fixed-slot ring's shared header. Each side (producers, consumers) has a line of its
// own for its lock, and one for its index, which the other side reads only when its
// cached copy of it says full or empty; a put and a get running at once meet on no line
// but the slot's and (now and then) an index's.
struct QueueHeader {
  // The producers' private line.
  alignas(64) std::atomic<std::uint32_t> put_lock{0};  // 0 free, else the holder's pid
  std::atomic<std::uint32_t> put_lock_sleepers{0};     // 1: somebody may sleep on put_lock
  std::atomic<std::uint64_t> head_seen{0};  // a head read earlier (<= the real head)
  // tail + 1 from just before a put counts its item (JoinableQueue's unfinished) until it
  // publishes it; more than tail after a dead producer: its count is to be undone.
  std::atomic<std::uint64_t> counting{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next position to put; published last
  // The consumers' private line.
  alignas(64) std::atomic<std::uint32_t> get_lock{0};
  std::atomic<std::uint32_t> get_lock_sleepers{0};
  std::atomic<std::uint64_t> tail_seen{0};  // a tail read earlier (<= the real tail)
  alignas(64) std::atomic<std::uint64_t> head{0};  // next position to get; published last
  // Getters sleep on put_seq, which a put bumps only while getters > 0 (read-mostly).
  alignas(64) std::atomic<std::uint32_t> put_seq{0};
  std::atomic<std::uint32_t> getters{0};  // sleeping (or killed while sleeping) getters
  // Putters sleep on get_seq, which a get bumps only while putters > 0.
  alignas(64) std::atomic<std::uint32_t> get_seq{0};
  std::atomic<std::uint32_t> putters{0};
  alignas(64) std::atomic<std::uint32_t> unfinished{0};  // JoinableQueue's unfinished tasks
  std::uint32_t capacity = 0;
};

// A side's lock: a word holding its holder's pid (0: free), taken with one CAS. A waiter
// pauses briefly, then sleeps on the word a recheck slice at a time, having raised the
// `sleepers` flag first, and takes the lock over when its holder is dead (as mp::Lock
// does; the same pid-reuse limit). A flag, not a count, so that a waiter killed in its
// sleep costs one spare wake, not one on every release from then on. Took::none at
// `deadline` (a non-blocking caller passes one already expired: it still waits out a live
// holder's few instructions, and takes over from a dead one).
// What lock_side() did: timed out, took the lock, or took it over from a dead holder.
enum class Took { none, lock, from_dead };
Took lock_side_slow(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                    std::uint32_t me, const Deadline& deadline);
inline Took lock_side(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                      std::uint32_t me, const Deadline& deadline) {
  std::uint32_t free = 0;
  if (word.compare_exchange_strong(free, me, std::memory_order_acquire,
                                   std::memory_order_relaxed))
    return Took::lock;
  return lock_side_slow(word, sleepers, me, deadline);
}

// Releases a side's lock and wakes what needs waking: the lock's sleepers if its flag is
// up, and one sleeper on `seq` (a getter for a put, a putter for a get) if `sleepers`
// counts any. The fence orders the caller's index store and this release before the flag
// and the count are read; a sleeper raises the flag or counts itself (seq_cst) before its
// last look at the lock word or index, so either it sees the new value or we see it. One
// fence per put or get, no syscall when nobody sleeps.
inline void unlock_side_and_wake(std::atomic<std::uint32_t>& word,
                                 std::atomic<std::uint32_t>& lock_sleepers,
                                 std::atomic<std::uint32_t>& seq,
                                 const std::atomic<std::uint32_t>& sleepers) {
  word.store(0, std::memory_order_release);
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not model fences (and warns about them): a seq_cst
  // read-modify-write stands in there (the same locked instruction on x86).
  lock_sleepers.fetch_add(0);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  if (lock_sleepers.load(std::memory_order_relaxed) != 0 && lock_sleepers.exchange(0) != 0)
    shared_futex_wake(word, INT_MAX);
  if (sleepers.load(std::memory_order_relaxed) > 0) {
    seq.fetch_add(1);
    shared_futex_wake(seq, 1);
  }
}

// Polls `index` for a change from `seen` for the house spin budget (never past `deadline`),
// then sleeps on `seq` (counted in `sleepers`) until the other side bumps it, a recheck
// slice passes, or the deadline (see unlock_side_and_wake()).
inline void wait_for_index(const std::atomic<std::uint64_t>& index, std::uint64_t seen,
                           std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleepers,
                           const Deadline& deadline);

// The serialised-item ring's wait: polls `seq` for a change from `seen` for up to the
// house spin budget (never past `deadline`) before the caller sleeps on it: the process on
// the other side, when running, answers within a microsecond, while a futex sleep and
// wake-up costs tens of microseconds on each item when a consumer keeps up with its
// producer. True if it changed.
inline bool spin_for_change(const std::atomic<std::uint32_t>& seq, std::uint32_t seen,
                            const Deadline& deadline) {
  return gilfree::detail::spin(gilfree::detail::SpinPolicy::pause_then_yield(),
                               [&] { return seq.load(std::memory_order_acquire) != seen; },
                               deadline);
}

inline Deadline queue_slice(const Deadline& d) {
  auto r = Deadline(Deadline::clock::now() + kRecheck);
  if (d.is_forever() || r.time_point() < d.time_point()) return r;
  return d;
}

inline void wait_for_index(const std::atomic<std::uint64_t>& index, std::uint64_t seen,
                           std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& sleepers,
                           const Deadline& deadline) {
  if (gilfree::detail::spin(gilfree::detail::SpinPolicy::pause_then_yield(),
                            [&] { return index.load(std::memory_order_acquire) != seen; },
                            deadline))
    return;
  if (deadline.expired()) return;
  const std::uint32_t s = seq.load();
  sleepers.fetch_add(1);
  if (index.load() == seen) shared_futex_wait(seq, s, queue_slice(deadline));
  sleepers.fetch_sub(1);
}

// The virtual size of an unbounded queue's ring: memory is used only for what is queued
// (consumed chunks go back to the kernel), so this bounds the bytes outstanding at once.
inline constexpr std::uint64_t kUnboundedRingBytes = std::uint64_t{1} << 30;
// The granule in which a consumer gives consumed ring memory back.
inline constexpr std::uint64_t kChunk = std::uint64_t{2} << 20;

// Lowers JoinableQueue's count of unfinished tasks by one, waking join() when it reaches
// zero; false (and nothing changed) when it was zero already.
inline bool lower_unfinished(std::atomic<std::uint32_t>& unfinished) noexcept {
  std::uint32_t c = unfinished.load();
  do {
    if (c == 0) return false;
  } while (!unfinished.compare_exchange_weak(c, c - 1));
  if (c == 1) shared_futex_wake(unfinished, INT_MAX);
  return true;
}

struct ByteRingHeader {
  std::atomic<std::uint64_t> head{0};  // byte position of the next record; under the lock
  std::atomic<std::uint64_t> tail{0};  // byte position after the last record
  std::atomic<std::uint32_t> put_seq{0};
  std::atomic<std::uint32_t> get_seq{0};
  std::atomic<std::uint32_t> getters{0};
  std::atomic<std::uint32_t> putters{0};
  std::atomic<std::uint32_t> unfinished{0};
  std::atomic<std::uint32_t> count{0};  // items queued (repaired after a dead holder)
  // The tail a put will publish, set before it counts its item (JoinableQueue's
  // unfinished); more than tail after a dead holder: that count is undone (repair()).
  std::atomic<std::uint64_t> counting{0};
  std::uint64_t capacity = 0;           // bytes, a multiple of kChunk
  std::uint32_t maxsize = 0;            // 0: unbounded
};

// The shared ring of serialised items behind Queue<T> for a T that is not trivially
// copyable: variable-size records, the same commit-last and dead-holder rules as the
// fixed-slot ring. A handle; copies share the ring.
class ByteRing {
 public:
  ByteRing() = default;
  // A ring of `capacity` bytes (virtual: sparse) holding at most `maxsize` items (0: any).
  ByteRing(std::uint64_t capacity, std::uint32_t maxsize);
  // Appends one record, waiting while there is no room (false after the deadline, or at
  // once when !block); ValueError when the record can never fit. on_put(ctx) runs under
  // the lock before the record is published.
  bool put(std::string_view rec, bool block, const Deadline& deadline, void (*on_put)(void*),
           void* ctx);
  // Removes the oldest record into `out`, waiting while empty (false as put).
  bool get(std::string& out, bool block, const Deadline& deadline);
  std::size_t qsize() const noexcept;
  bool full() const noexcept;
  // The largest record that fits.
  std::uint64_t max_item() const noexcept;
  ByteRingHeader& header() const noexcept { return *h_; }
  // The wire form's parts: the ring's reference and its lock.
  SharedRef ref() const;
  void attach(const SharedRef& ref);
  Lock& lock_handle() noexcept { return lock_; }
  const Lock& lock_handle() const noexcept { return lock_; }

 private:
  bool lock(const Deadline& deadline);
  void repair();
  void point_at(std::shared_ptr<void> mem);
  std::shared_ptr<void> mem_;
  ByteRingHeader* h_ = nullptr;
  char* data_ = nullptr;
  Lock lock_;
};

// The serialised-item ring's fault-injection hook for the kill tests: when set (in a test's
// child process), called with "bput:counted" under the lock after a put counted its item
// and before it publishes it. Null in normal use (one predictable branch per put).
inline void (*byte_ring_test_hook)(const char* where) = nullptr;

// Encodes `item` into `out` (cleared first) as a value frame, reusing its capacity.
template <class T>
void encode_into(std::string& out, const T& item) {
  out.clear();
  write_header(out, FrameKind::value, 0, type_hash<T>());
  StringSink sink(out);
  std::ostream os(&sink);
  cereal::BinaryOutputArchive ar(os);
  ar(item);
}
}  // namespace detail

// multiprocessing.Queue. A trivially copyable T travels as its bytes in a ring of fixed
// slots; any other serializable T (std::string, std::vector, a struct with a cereal
// serialize()) as a frame of the wire format (reduction.hpp) in a ring of variable-size
// records, so an item may be large (tens of MiB). maxsize <= 0 means unbounded, as in
// Python: put() then never waits while the ring has room (it is virtually
// kUnboundedRingBytes and uses memory only for what is queued). Copies are handles to the
// same queue; passing to a Process works under every start method.
template <class T>
class Queue {
  static constexpr bool kFlat = std::is_trivially_copyable_v<T>;
  static_assert(kFlat || serializable<T>,
                "mp::Queue items must be trivially copyable or serializable with cereal");
  static constexpr std::uint64_t kChunkSlots =
      sizeof(T) >= detail::kChunk ? 1 : detail::kChunk / sizeof(T);

 public:
  // Kept for source compatibility: the ring size that maxsize <= 0 meant before such a
  // queue became unbounded.
  static constexpr std::uint32_t kDefaultCapacity = 1u << 16;

  // A queue holding at most `maxsize` items (<= 0: unbounded).
  explicit Queue(int maxsize = 0) : maxsize_(maxsize) {
    if constexpr (kFlat) {
      std::uint64_t cap = static_cast<std::uint64_t>(maxsize);
      if (maxsize <= 0) {
        cap = std::max<std::uint64_t>(1, detail::kUnboundedRingBytes / sizeof(T));
        cap = std::max<std::uint64_t>(1, cap / kChunkSlots) * kChunkSlots;
        cap = std::min<std::uint64_t>(cap, 1u << 31);
      }
      auto mem = detail::map_shared(bytes_for(static_cast<std::uint32_t>(cap)));
      auto* h = new (mem.get()) detail::QueueHeader();
      h->capacity = static_cast<std::uint32_t>(cap);
      point_at(std::move(mem));
    } else {
      ring_ = detail::ByteRing(detail::kUnboundedRingBytes,
                               maxsize > 0 ? static_cast<std::uint32_t>(maxsize) : 0);
    }
  }
  virtual ~Queue() = default;
  Queue(const Queue&) = default;
  Queue& operator=(const Queue&) = default;

  // The wire form (a Process argument under forkserver/spawn): a reference to the shared
  // ring and its lock; close() does not cross (it is per process, as CPython's).
  template <class A>
  void save(A& ar) const {
    if constexpr (kFlat) {
      ar(static_cast<std::int32_t>(maxsize_));
      detail::save_block(ar, mem_, bytes_for(h_->capacity));
    } else {
      ar(static_cast<std::int32_t>(maxsize_), ring_.lock_handle(), ring_.ref());
    }
  }
  template <class A>
  void load(A& ar) {
    std::int32_t maxsize = 0;
    detail::SharedRef ref;
    if constexpr (kFlat) {
      ar(maxsize, ref);
      if (ref.size < sizeof(detail::QueueHeader)) throw UnpicklingError("a Queue's ring is too small");
      auto mem = detail::attach_shared(ref);
      const std::uint32_t cap = static_cast<detail::QueueHeader*>(mem.get())->capacity;
      if (cap == 0 || ref.size < bytes_for(cap)) throw UnpicklingError("a Queue's ring is too small");
      maxsize_ = maxsize;
      point_at(std::move(mem));
    } else {
      ar(maxsize, ring_.lock_handle(), ref);
      ring_.attach(ref);
    }
    maxsize_ = maxsize;
    closed_ = false;
  }

  // Puts `item`, waiting up to `timeout` while full (Full then; at once if !block);
  // ValueError after close() in this process, or for an item larger than the ring.
  void put(const T& item, bool block = true, Timeout timeout = {}) {
    if (closed_) throw ValueError("Queue is closed");
    const Deadline deadline = block ? timeout.deadline() : Deadline(Deadline::clock::now());
    if constexpr (!kFlat) {
      thread_local std::string buf;
      detail::encode_into(buf, item);
      const bool ok = ring_.put(buf, block, deadline, [](void* q) { static_cast<Queue*>(q)->on_put(); }, this);
      if (buf.capacity() > (std::size_t{1} << 20)) std::string().swap(buf);  // do not pin a large item's buffer
      if (!ok) throw Full();
      return;
    } else {
      const auto me = static_cast<std::uint32_t>(detail::self_pid());
      for (;;) {
        const auto took = detail::lock_side(h_->put_lock, h_->put_lock_sleepers, me, deadline);
        if (took == detail::Took::none) throw Full();
        const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
        if (took == detail::Took::from_dead &&
            h_->counting.load(std::memory_order_relaxed) > tail) {
          undo_put();  // the dead producer counted an item it never published
          h_->counting.store(tail, std::memory_order_relaxed);
        }
        std::uint64_t head = h_->head_seen.load(std::memory_order_relaxed);
        if (tail - head >= room_) {  // full as far as we knew: look at the real head
          head = h_->head.load(std::memory_order_acquire);
          h_->head_seen.store(head, std::memory_order_relaxed);
        }
        const bool room = tail - head < room_;
        if (room) {
          slots_[tail % cap_] = item;
          h_->counting.store(tail + 1, std::memory_order_relaxed);
          on_put();
          GILFREE_MP_QUEUE_TEST_POINT("put:copied", tail);
          h_->tail.store(tail + 1, std::memory_order_release);  // published last
          GILFREE_MP_QUEUE_TEST_POINT("put:published", tail);
        }
        detail::unlock_side_and_wake(h_->put_lock, h_->put_lock_sleepers, h_->put_seq,
                                     room ? h_->getters : kNobody);
        if (room) return;
        if (deadline.expired()) throw Full();
        detail::wait_for_index(h_->head, head, h_->get_seq, h_->putters, deadline);
      }
    }
  }

  // Removes and returns an item, waiting up to `timeout` while empty (Empty then; at once
  // if !block). UnpicklingError if the item cannot be decoded as a T (it is consumed).
  T get(bool block = true, Timeout timeout = {}) {
    const Deadline deadline = block ? timeout.deadline() : Deadline(Deadline::clock::now());
    if constexpr (!kFlat) {
      thread_local std::string buf;
      if (!ring_.get(buf, block, deadline)) throw Empty();
      T item = loads<T>(buf);
      if (buf.capacity() > (std::size_t{1} << 20)) std::string().swap(buf);
      return item;
    } else {
      const auto me = static_cast<std::uint32_t>(detail::self_pid());
      for (;;) {
        const auto took = detail::lock_side(h_->get_lock, h_->get_lock_sleepers, me, deadline);
        if (took == detail::Took::none) throw Empty();
        const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
        std::uint64_t tail = h_->tail_seen.load(std::memory_order_relaxed);
        if (tail == head) {  // empty as far as we knew: look at the real tail
          tail = h_->tail.load(std::memory_order_acquire);
          h_->tail_seen.store(tail, std::memory_order_relaxed);
        }
        if (tail != head) {
          T item = slots_[head % cap_];
          // An unbounded ring wraps over a large sparse region: the first get in a chunk
          // gives the chunk before it back (all of it consumed; no put can reach it
          // before this head is published, as room_ leaves one chunk free).
          if (discard_ && head % kChunkSlots == 0 && head != 0) give_back(head - kChunkSlots);
          GILFREE_MP_QUEUE_TEST_POINT("get:copied", head);
          h_->head.store(head + 1, std::memory_order_release);  // published last
          GILFREE_MP_QUEUE_TEST_POINT("get:published", head);
          detail::unlock_side_and_wake(h_->get_lock, h_->get_lock_sleepers, h_->get_seq,
                                       h_->putters);
          return item;
        }
        detail::unlock_side_and_wake(h_->get_lock, h_->get_lock_sleepers, h_->get_seq, kNobody);
        if (deadline.expired()) throw Empty();
        detail::wait_for_index(h_->tail, tail, h_->put_seq, h_->getters, deadline);
      }
    }
  }

  // put(item, false).
  void put_nowait(const T& item) { put(item, false); }
  // get(false).
  T get_nowait() { return get(false); }
  // The number of items, exact when no put or get is in flight (unlike CPython's
  // approximation). While some are, it is the count when the call began plus the puts
  // published during it (head is read before tail), never above the ring's capacity.
  std::size_t qsize() const noexcept {
    if constexpr (!kFlat) {
      return ring_.qsize();
    } else {
      const std::uint64_t head = h_->head.load(std::memory_order_acquire);
      const std::uint64_t tail = h_->tail.load(std::memory_order_acquire);
      return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, room_));
    }
  }
  // qsize() == 0.
  bool empty() const noexcept { return qsize() == 0; }
  // True when a put would have to wait for the item count (an unbounded queue is never
  // full).
  bool full() const noexcept {
    if (maxsize_ <= 0) return false;
    if constexpr (!kFlat) return ring_.full();
    return qsize() >= room_;
  }
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
  // Runs under the put lock before an item is published (JoinableQueue counts it).
  virtual void on_put() {}
  // Undoes on_put() for an item a producer killed before publishing it (fixed-slot ring).
  virtual void undo_put() {}
  // JoinableQueue's shared count of unfinished tasks.
  std::atomic<std::uint32_t>& unfinished() const noexcept {
    if constexpr (!kFlat) return ring_.header().unfinished;
    return h_->unfinished;
  }
  detail::QueueHeader* h_ = nullptr;

 private:
  static std::size_t bytes_for(std::uint32_t cap) {
    return sizeof(detail::QueueHeader) + alignof(T) + std::size_t{cap} * sizeof(T);
  }
  // Points this handle at the ring in `mem`; maxsize_ must be set.
  void point_at(std::shared_ptr<void> mem) {
    h_ = static_cast<detail::QueueHeader*>(mem.get());
    auto base = reinterpret_cast<std::uintptr_t>(h_ + 1);
    base = (base + alignof(T) - 1) / alignof(T) * alignof(T);
    slots_ = reinterpret_cast<T*>(base);
    mem_ = std::move(mem);
    cap_ = h_->capacity;
    // An unbounded ring keeps one chunk free between the newest item and the oldest, so
    // the chunk a get gives back is never one a put is filling (see get()).
    discard_ = maxsize_ <= 0 && cap_ > kChunkSlots;
    room_ = discard_ ? cap_ - kChunkSlots : cap_;
  }
  // Discards the kChunkSlots slots from position `first` on.
  void give_back(std::uint64_t first) noexcept {
    const std::size_t off = static_cast<std::size_t>(reinterpret_cast<char*>(slots_) -
                                                     static_cast<char*>(mem_.get())) +
                            static_cast<std::size_t>(first % h_->capacity) * sizeof(T);
    detail::discard_shared(mem_, off, static_cast<std::size_t>(kChunkSlots * sizeof(T)));
  }
  std::shared_ptr<void> mem_;
  T* slots_ = nullptr;
  std::uint64_t cap_ = 0;   // h_->capacity, read once
  std::uint64_t room_ = 0;  // the most items the ring holds at once
  bool discard_ = false;    // consumed chunks go back to the kernel (unbounded)
  // A sleeper count that is always zero: nobody to wake after a put or get that found no
  // room or nothing.
  static inline const std::atomic<std::uint32_t> kNobody{0};
  detail::ByteRing ring_;
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
    if (!detail::lower_unfinished(this->unfinished()))
      throw ValueError("task_done() called too many times");
  }
  // Waits until every item put has been marked done, or `timeout` (then false).
  bool join(Timeout timeout = {}) {
    auto& u = this->unfinished();
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
  void on_put() override { this->unfinished().fetch_add(1); }
  void undo_put() override { detail::lower_unfinished(this->unfinished()); }
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
