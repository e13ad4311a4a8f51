// gilfree/multiprocessing/detail/shared_futex.hpp — wait/wake on a 32-bit word in memory
// shared between processes (gilfree::detail::futex_wait/wake in the process_shared scope,
// named once here for the process-shared objects), and the anonymous shared mapping that
// holds those objects.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <new>

#include "../../timeout.hpp"
#include "../exceptions.hpp"

namespace gilfree::multiprocessing::detail {

// Sleeps while `word == expected` (any process may wake it), until woken, `deadline`, or
// spuriously; false only when the deadline passed.
bool shared_futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const Deadline& deadline) noexcept;

// Wakes up to `count` sleepers on `word`, in any process.
void shared_futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

// `bytes` of zeroed MAP_SHARED|MAP_ANONYMOUS memory: inherited by fork children, gone when
// the last process that maps it unmaps or exits (so a SIGKILLed creator leaks nothing).
// The deleter unmaps this process's view only.
std::shared_ptr<void> map_shared_anonymous(std::size_t bytes);

// `bytes` of zeroed shared memory (64-byte aligned) that can cross to any process: inherited
// by fork children, and opened by forkserver/spawn children through shared_ref() /
// attach_shared(). Small blocks share a memfd arena (one descriptor per 64 KiB, not one per
// object); large ones get their own memfd. Nothing has a name, so nothing can leak: the
// kernel frees an arena when the last process that maps it or holds its descriptor lets
// go, whoever dies how. The returned pointer keeps this process's view alive. (Whoever
// holds a descriptor keeps the arena too: a fork server made by a plain fork keeps those
// that existed when it started, until it exits with its parent.)
std::shared_ptr<void> map_shared(std::size_t bytes);

// Where a block made by map_shared lives, as another process on this machine can open it:
// the creating (or forwarding) process's pid and descriptor (pid 0: `fd` is the index of a
// descriptor passed with the receiver's start), the arena's random id (so a reused
// descriptor number is detected, never mapped by mistake), the offset and size.
struct SharedRef {
  std::int32_t pid = 0;
  std::int32_t fd = -1;
  std::uint64_t id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  template <class A>
  void serialize(A& ar) {
    ar(pid, fd, id, offset, size);
  }
};

// The ref of `block`, whose first `size` bytes are the object; PicklingError when the block
// was not made by map_shared. Written during a Process start, the ref names a descriptor
// passed with the start (pid 0; detail/fd_passing.hpp); otherwise the block must stay
// alive in this process until the receiver has attached it through /proc/<pid>/fd.
SharedRef shared_ref(const std::shared_ptr<void>& block, std::size_t size);
// This process's view of the block `ref` names (the same mapping when this process already
// has the arena); UnpicklingError when it cannot be opened (its holder exited or closed it).
std::shared_ptr<void> attach_shared(const SharedRef& ref);

// Gives the pages of [offset, offset + len) of `block` (rounded inward to whole pages) back
// to the kernel: they read as zero afterwards and cost no memory until written again. For
// rings that a long-lived queue wraps around (a consumed region must not pin memory).
void discard_shared(const std::shared_ptr<void>& block, std::size_t offset, std::size_t len) noexcept;

// A T constructed in its own shared block (T must be trivially destructible: no process
// runs its destructor, the kernel just drops the pages).
template <class T, class... A>
std::shared_ptr<T> make_shared_block(A&&... a) {
  static_assert(std::is_trivially_destructible_v<T>);
  auto mem = map_shared(sizeof(T));
  T* p = new (mem.get()) T(std::forward<A>(a)...);
  return std::shared_ptr<T>(std::move(mem), p);
}

// Writes `p`'s block to a cereal archive as its SharedRef (the handle-serialisation of every
// process-shared object).
template <class Archive, class T>
void save_block(Archive& ar, const std::shared_ptr<T>& p, std::size_t size = sizeof(T)) {
  ar(shared_ref(std::shared_ptr<void>(p, const_cast<void*>(static_cast<const void*>(p.get()))), size));
}
// Reads a SharedRef and points `p` at this process's view of it; UnpicklingError when the
// block is smaller than the type needs.
template <class Archive, class T>
void load_block(Archive& ar, std::shared_ptr<T>& p, std::size_t size = sizeof(T)) {
  SharedRef ref;
  ar(ref);
  if (ref.size < size) throw UnpicklingError("a shared object's block is smaller than its type");
  auto mem = attach_shared(ref);
  T* obj = static_cast<T*>(mem.get());
  p = std::shared_ptr<T>(std::move(mem), obj);
}

// The handle part of a process-shared object whose whole state is one Block in shared
// memory: the block, and its wire form (a Process argument under forkserver/spawn is a
// reference to the block, which the receiver maps).
template <class Block>
class BlockHandle {
 public:
  template <class Archive>
  void save(Archive& ar) const {
    save_block(ar, b_);
  }
  template <class Archive>
  void load(Archive& ar) {
    load_block(ar, b_);
  }

 protected:
  BlockHandle() = default;
  explicit BlockHandle(std::shared_ptr<Block> b) : b_(std::move(b)) {}
  std::shared_ptr<Block> b_;
};

// This process's pid and this thread's tid, cached and reset in a fork child.
pid_t self_pid() noexcept;
pid_t self_tid() noexcept;

// True unless process or thread `id` is gone or a zombie (read from /proc/<id>/stat).
// A pid reused by an unrelated process reads as alive: ownership then stays with it
// until the new process exits (the known limit of pid-based robustness).
bool id_alive(pid_t id) noexcept;

}  // namespace gilfree::multiprocessing::detail
