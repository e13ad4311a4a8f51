// The byte ring behind mp::Queue<T> for serialised items (see queues.hpp): records of
// [u64 length][frame, padded to 8 bytes] that never wrap (a pad record fills the end of
// the ring instead), in a sparse memfd whose consumed chunks are given back to the kernel.
#include <algorithm>
#include <climits>
#include <cstring>

#include "gilfree/multiprocessing/queues.hpp"

namespace gilfree::multiprocessing::detail {
namespace {

constexpr std::uint64_t kPad = ~std::uint64_t{0};
constexpr std::size_t kDataOffset = 128;  // the header, rounded to cache lines

std::uint64_t record_bytes(std::uint64_t len) { return 8 + (len + 7) / 8 * 8; }

Timeout remaining(const Deadline& d) {
  if (d.is_forever()) return Timeout();
  return Timeout(d.remaining());
}

}  // namespace

ByteRing::ByteRing(std::uint64_t capacity, std::uint32_t maxsize) {
  static_assert(sizeof(ByteRingHeader) <= kDataOffset);
  capacity = std::max<std::uint64_t>(kChunk, capacity / kChunk * kChunk);
  auto mem = map_shared(kDataOffset + capacity);
  auto* h = new (mem.get()) ByteRingHeader();
  h->capacity = capacity;
  h->maxsize = maxsize;
  point_at(std::move(mem));
}

void ByteRing::point_at(std::shared_ptr<void> mem) {
  h_ = static_cast<ByteRingHeader*>(mem.get());
  data_ = static_cast<char*>(mem.get()) + kDataOffset;
  mem_ = std::move(mem);
}

SharedRef ByteRing::ref() const { return shared_ref(mem_, kDataOffset + h_->capacity); }

void ByteRing::attach(const SharedRef& ref) {
  if (ref.size < kDataOffset) throw UnpicklingError("a Queue's ring is too small");
  auto mem = attach_shared(ref);
  const auto* h = static_cast<const ByteRingHeader*>(mem.get());
  if (h->capacity == 0 || h->capacity % kChunk != 0 || ref.size < kDataOffset + h->capacity)
    throw UnpicklingError("a Queue's ring is too small");
  point_at(std::move(mem));
}

std::uint64_t ByteRing::max_item() const noexcept { return h_->capacity - 8; }

// After a take-over from a process that died holding the lock, the item count may be off
// by the one operation it was doing (head/tail are published last, so the records are
// consistent): count them again; and undo a JoinableQueue count for an unpublished item.
void ByteRing::repair() {
  std::uint64_t pos = h_->head.load(std::memory_order_relaxed);
  const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
  std::uint32_t n = 0;
  while (pos < tail) {
    const std::uint64_t off = pos % h_->capacity;
    std::uint64_t len;
    std::memcpy(&len, data_ + off, 8);
    if (len == kPad) {
      pos += h_->capacity - off;
      continue;
    }
    pos += record_bytes(len);
    ++n;
  }
  h_->count.store(n, std::memory_order_relaxed);
  // A JoinableQueue's count for an item the dead holder never published: undo it.
  if (h_->counting.load(std::memory_order_relaxed) > tail) {
    lower_unfinished(h_->unfinished);
    h_->counting.store(tail, std::memory_order_relaxed);
  }
}

bool ByteRing::lock(const Deadline& deadline) {
  if (!lock_.acquire(true, remaining(deadline))) return false;
  if (lock_.owner_died()) repair();
  return true;
}

bool ByteRing::put(std::string_view rec, bool block, const Deadline& deadline,
                   void (*on_put)(void*), void* ctx) {
  const std::uint64_t cap = h_->capacity;
  const std::uint64_t need = record_bytes(rec.size());
  if (need > cap)
    throw ValueError("item of " + std::to_string(rec.size()) + " bytes is larger than the queue's " +
                     std::to_string(cap) + "-byte ring");
  for (;;) {
    const std::uint32_t seen = h_->get_seq.load();
    if (!lock(block ? deadline : Deadline(Deadline::clock::now()))) return false;
    const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
    const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
    const std::uint64_t off = tail % cap;
    const std::uint64_t pad = cap - off < need ? cap - off : 0;
    const bool room = tail + pad + need - head <= cap &&
                      (h_->maxsize == 0 || h_->count.load(std::memory_order_relaxed) < h_->maxsize);
    if (room) {
      std::uint64_t at = off;
      if (pad) {
        std::memcpy(data_ + off, &kPad, 8);
        at = 0;
      }
      const std::uint64_t len = rec.size();
      std::memcpy(data_ + at, &len, 8);
      std::memcpy(data_ + at + 8, rec.data(), rec.size());
      h_->counting.store(tail + pad + need, std::memory_order_relaxed);
      if (on_put) on_put(ctx);
      if (byte_ring_test_hook) [[unlikely]]
        byte_ring_test_hook("bput:counted");
      h_->count.fetch_add(1, std::memory_order_relaxed);
      h_->tail.store(tail + pad + need, std::memory_order_release);  // published last
      lock_.release();
      h_->put_seq.fetch_add(1);
      if (h_->getters.load() > 0) shared_futex_wake(h_->put_seq, 1);
      return true;
    }
    lock_.release();
    if (!block || deadline.expired()) return false;
    if (spin_for_change(h_->get_seq, seen, deadline)) continue;
    h_->putters.fetch_add(1);
    if (h_->get_seq.load() == seen) shared_futex_wait(h_->get_seq, seen, queue_slice(deadline));
    h_->putters.fetch_sub(1);
  }
}

bool ByteRing::get(std::string& out, bool block, const Deadline& deadline) {
  const std::uint64_t cap = h_->capacity;
  for (;;) {
    const std::uint32_t seen = h_->put_seq.load();
    if (!lock(block ? deadline : Deadline(Deadline::clock::now()))) return false;
    std::uint64_t head = h_->head.load(std::memory_order_relaxed);
    const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
    if (head != tail) {
      const std::uint64_t old = head;
      std::uint64_t off = head % cap;
      std::uint64_t len;
      std::memcpy(&len, data_ + off, 8);
      if (len == kPad) {
        head += cap - off;
        off = 0;
        std::memcpy(&len, data_ + off, 8);
      }
      out.assign(data_ + off + 8, static_cast<std::size_t>(len));
      head += record_bytes(len);
      h_->head.store(head, std::memory_order_release);  // published last
      h_->count.fetch_sub(1, std::memory_order_relaxed);
      // Whole chunks now behind the head go back to the kernel (under the lock, so no
      // producer is writing the next lap there).
      for (std::uint64_t c = old / kChunk * kChunk; c + kChunk <= head; c += kChunk)
        discard_shared(mem_, kDataOffset + c % cap, kChunk);
      lock_.release();
      h_->get_seq.fetch_add(1);
      if (h_->putters.load() > 0) shared_futex_wake(h_->get_seq, 1);
      return true;
    }
    lock_.release();
    if (!block || deadline.expired()) return false;
    if (spin_for_change(h_->put_seq, seen, deadline)) continue;
    h_->getters.fetch_add(1);
    if (h_->put_seq.load() == seen) shared_futex_wait(h_->put_seq, seen, queue_slice(deadline));
    h_->getters.fetch_sub(1);
  }
}

Took lock_side_slow(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers,
                    std::uint32_t me, const Deadline& deadline) {
  // A live holder releases within a few instructions unless it is preempted.
  gilfree::detail::spin_until([&] { return word.load(std::memory_order_relaxed) == 0; });
  bool check_owner = false;
  for (;;) {
    std::uint32_t v = word.load(std::memory_order_relaxed);
    if (v == 0) {
      if (word.compare_exchange_weak(v, me, std::memory_order_acquire, std::memory_order_relaxed))
        return Took::lock;
      continue;
    }
    const bool out_of_time = deadline.expired();
    if (out_of_time || check_owner) {
      check_owner = false;
      // A holder killed inside put/get left its index unpublished (or published): either
      // way the ring is consistent, so the lock changes hands (a put then undoes a count
      // the dead producer made for an item it never published).
      if (!id_alive(static_cast<pid_t>(v))) {
        if (word.compare_exchange_strong(v, me, std::memory_order_acquire,
                                         std::memory_order_relaxed))
          return Took::from_dead;
        continue;
      }
      if (out_of_time) return Took::none;
    }
    // seq_cst, pairs with unlock_side_and_wake(): it sees the flag or we see its 0. The
    // releaser lowers the flag and wakes every sleeper; each raises it again to sleep.
    sleepers.store(1);
    if (word.load() == v && !shared_futex_wait(word, v, queue_slice(deadline))) check_owner = true;
  }
}

std::size_t ByteRing::qsize() const noexcept { return h_->count.load(std::memory_order_acquire); }

bool ByteRing::full() const noexcept {
  return h_->maxsize != 0 && h_->count.load(std::memory_order_acquire) >= h_->maxsize;
}

}  // namespace gilfree::multiprocessing::detail
