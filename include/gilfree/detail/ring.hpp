// gilfree/detail/ring.hpp — the lock-free core of a bounded gilfree::Queue.
//
// BoundedRing: Dmitry Vyukov's bounded multi-producer/multi-consumer ring (each slot
//    carries a sequence number saying which lap it is ready for), as atomic_queue and
//    many others use, extended with a "closed" bit in the tail so that Python 3.13's
//    shutdown() is one atomic step: a producer either claimed its slot before the close
//    (its put happened before shutdown) or sees the bit and raises ShutDown.
//
// The ring never blocks; gilfree::BasicQueue (queue.hpp) builds the blocking calls from
// it and detail::Parking (wait/parking.hpp).
//
// RingCore is the ring itself, placed in storage the caller provides: its header is
// followed by its cells, found by a constant offset from `this`, and nothing in it is an
// absolute address. So the same bytes work wherever they are mapped, e.g. in a segment
// that several processes map at different addresses (with a trivially copyable T).
// BoundedRing is the owning handle the thread-side Queue uses: it allocates the storage
// and places a RingCore in it.
#pragma once

#include <atomic>
#include <algorithm>
#include <bit>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "wait/parking.hpp"
#include "wait/spin.hpp"

namespace gilfree::detail {

// What a push found.
enum class PushResult { ok, full, shut_down };
// What a pop found: an item, nothing yet, or nothing ever again (closed and empty).
enum class PopResult { ok, empty, drained };

// A fixed-capacity FIFO ring, safe for any number of producers and consumers, that
// never blocks except for the few instructions between another thread's claim of a slot
// and its publication (covered by a short spin, then yields). T's moves must not throw.
// Position-independent: lives in bytes_for(capacity) bytes at an address aligned to
// kAlignment (create_at()); it may be moved between mappings of the same memory.
template <class T>
class RingCore {
  static_assert(std::is_nothrow_move_constructible_v<T>, "ring slots are filled by moves");
  struct Cell {
    std::atomic<std::uint64_t> seq{0};
    alignas(T) unsigned char storage[sizeof(T)];
    T* item() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  static constexpr std::size_t kLine = 64;

 public:
  // The alignment the storage given to create_at() must have.
  static constexpr std::size_t kAlignment = std::max(kLine, alignof(Cell));

  // The bytes a ring of `capacity` items occupies (header and cells).
  static std::size_t bytes_for(std::size_t capacity) noexcept {
    return cells_offset() + sizeof(Cell) * capacity;
  }
  // Places an empty ring of `capacity` (>= 2) items in `storage`, which must be
  // bytes_for(capacity) bytes aligned to kAlignment; destroy it with std::destroy_at.
  static RingCore* create_at(void* storage, std::size_t capacity) {
    return ::new (storage) RingCore(capacity);
  }
  RingCore(const RingCore&) = delete;
  RingCore& operator=(const RingCore&) = delete;
  // Destroys the items still in the ring and the cells (not the storage).
  ~RingCore() {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed) & ~kClosed;
    for (std::uint64_t pos = head_.load(std::memory_order_relaxed); pos < tail; ++pos)
      cells()[slot(pos)].item()->~T();
    for (std::size_t i = 0; i < capacity_; ++i) cells()[i].~Cell();
  }

  // Moves `item` into the ring (only on ok). Fails with shut_down once close() ran,
  // with full while `capacity` items are in it.
  PushResult try_push(T& item) noexcept {
    std::uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (int tries = 0;; ++tries) {
      if (pos & kClosed) return PushResult::shut_down;
      Cell& cell = cells()[slot(pos)];
      const std::uint64_t seq = cell.seq.load(std::memory_order_acquire);
      const auto lag = static_cast<std::int64_t>(seq - pos);
      if (lag == 0) {  // the slot is free for this lap: claim it
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
          new (cell.item()) T(std::move(item));
          cell.seq.store(pos + 1, std::memory_order_release);
          return PushResult::ok;
        }
        continue;  // another producer took it; `pos` was reloaded
      }
      if (lag < 0) {  // the slot still holds the item from the previous lap
        if (pos - head_.load(std::memory_order_seq_cst) >= capacity_) {
          // Nobody has claimed that item: the ring is full. Recheck that `pos` is
          // still the tail, or a close may be hiding behind a stale value.
          const std::uint64_t now = tail_.load(std::memory_order_seq_cst);
          if (now == pos) return PushResult::full;
          pos = now;
          continue;
        }
        backoff(tries);  // a consumer is moving it out right now
      }
      pos = tail_.load(std::memory_order_relaxed);
    }
  }

  // Moves the oldest item into `out` (only on ok). Says drained once the ring is
  // closed and every item pushed before the close has been taken.
  PopResult try_pop(std::optional<T>& out) noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    for (int tries = 0;; ++tries) {
      Cell& cell = cells()[slot(pos)];
      const std::uint64_t seq = cell.seq.load(std::memory_order_acquire);
      const auto lag = static_cast<std::int64_t>(seq - (pos + 1));
      if (lag == 0) {  // published for this lap: claim it
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
          T* item = cell.item();
          out.emplace(std::move(*item));
          item->~T();
          cell.seq.store(pos + capacity_, std::memory_order_release);
          return PopResult::ok;
        }
        continue;
      }
      if (lag < 0) {  // not published yet
        const std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
        if ((tail & ~kClosed) <= pos) {
          if (head_.load(std::memory_order_relaxed) != pos) {  // stale: retry
            pos = head_.load(std::memory_order_relaxed);
            continue;
          }
          return (tail & kClosed) ? PopResult::drained : PopResult::empty;
        }
        backoff(tries);  // a producer claimed it and is writing it right now
      }
      pos = head_.load(std::memory_order_relaxed);
    }
  }

  // Makes every later try_push() fail with shut_down; idempotent. A seq_cst
  // read-modify-write, so Parking's contract holds for predicates reading closed().
  void close() noexcept { tail_.fetch_or(kClosed, std::memory_order_seq_cst); }
  // True once close() ran.
  bool closed() const noexcept { return tail_.load(std::memory_order_seq_cst) & kClosed; }
  // Items ever claimed by producers (what `unfinished_tasks` counts up from).
  std::uint64_t pushed() const noexcept {
    return tail_.load(std::memory_order_seq_cst) & ~kClosed;
  }
  // Items ever claimed by consumers.
  std::uint64_t popped() const noexcept { return head_.load(std::memory_order_seq_cst); }
  // Items in the ring right now (approximate while others push and pop).
  std::size_t size() const noexcept {
    const std::uint64_t head = popped();  // first, so that tail >= head below
    const std::uint64_t n = pushed() - head;
    return n > capacity_ ? capacity_ : static_cast<std::size_t>(n);
  }
  // The fixed capacity.
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;

  explicit RingCore(std::size_t capacity)
      : capacity_(capacity),
        mask_(std::has_single_bit(capacity) ? capacity - 1 : 0),
        shuffle_bits_(shuffle_bits_for(capacity)) {
    for (std::size_t i = 0; i < capacity; ++i) new (&cells()[i]) Cell;
    for (std::size_t i = 0; i < capacity; ++i)
      cells()[slot(i)].seq.store(i, std::memory_order_relaxed);
  }

  // The cells start at this constant offset from the header: an offset, not a pointer,
  // is what keeps the ring position-independent.
  static constexpr std::size_t cells_offset() noexcept {
    return (sizeof(RingCore) + kAlignment - 1) / kAlignment * kAlignment;
  }
  Cell* cells() noexcept {
    return std::launder(
        reinterpret_cast<Cell*>(reinterpret_cast<unsigned char*>(this) + cells_offset()));
  }

  // Consecutive positions go to different cache lines when the capacity allows it
  // (atomic_queue's trick), so a consumer reading slot k does not steal the line a
  // producer is writing slot k+1 into.
  static int shuffle_bits_for(std::size_t capacity) noexcept {
    constexpr std::size_t per_line = kLine / sizeof(Cell);
    if (per_line < 2 || !std::has_single_bit(per_line) || !std::has_single_bit(capacity))
      return 0;
    const int bits = std::countr_zero(per_line);
    return capacity >= (std::size_t{1} << (2 * bits)) ? bits : 0;
  }
  std::size_t slot(std::uint64_t pos) const noexcept {
    std::size_t index = mask_ ? static_cast<std::size_t>(pos & mask_)
                              : static_cast<std::size_t>(pos % capacity_);
    if (shuffle_bits_) {  // swap the in-line bits with the line-number bits above them
      const std::size_t low = (std::size_t{1} << shuffle_bits_) - 1;
      const std::size_t mix = (index ^ (index >> shuffle_bits_)) & low;
      index ^= mix ^ (mix << shuffle_bits_);
    }
    return index;
  }
  // Waits for another thread to finish the few instructions after its claim.
  static void backoff(int tries) noexcept {
    if (tries < 64) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // it may have been preempted: let it run
    }
  }

  const std::size_t capacity_;
  const std::size_t mask_;
  const int shuffle_bits_;
  alignas(kLine) std::atomic<std::uint64_t> tail_{0};  // next position to push; bit 63: closed
  alignas(kLine) std::atomic<std::uint64_t> head_{0};  // next position to pop
};

// A RingCore in storage of its own, for threads of one process (gilfree::Queue's ring).
template <class T>
class BoundedRing {
 public:
  // A ring holding at most `capacity` (>= 2) items.
  explicit BoundedRing(std::size_t capacity)
      : core_(RingCore<T>::create_at(
            ::operator new(RingCore<T>::bytes_for(capacity),
                           std::align_val_t{RingCore<T>::kAlignment}),
            capacity)) {}
  BoundedRing(const BoundedRing&) = delete;
  BoundedRing& operator=(const BoundedRing&) = delete;
  ~BoundedRing() {
    std::destroy_at(core_);
    ::operator delete(static_cast<void*>(core_), std::align_val_t{RingCore<T>::kAlignment});
  }

  // RingCore::try_push.
  PushResult try_push(T& item) noexcept { return core_->try_push(item); }
  // RingCore::try_pop.
  PopResult try_pop(std::optional<T>& out) noexcept { return core_->try_pop(out); }
  // RingCore::close.
  void close() noexcept { core_->close(); }
  // RingCore::closed.
  bool closed() const noexcept { return core_->closed(); }
  // RingCore::pushed.
  std::uint64_t pushed() const noexcept { return core_->pushed(); }
  // RingCore::popped.
  std::uint64_t popped() const noexcept { return core_->popped(); }
  // RingCore::size.
  std::size_t size() const noexcept { return core_->size(); }
  // RingCore::capacity.
  std::size_t capacity() const noexcept { return core_->capacity(); }

 private:
  RingCore<T>* const core_;
};

}  // namespace gilfree::detail
