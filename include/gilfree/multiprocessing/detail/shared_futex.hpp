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
#include <new>

#include "../../timeout.hpp"

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

// A T constructed in its own anonymous shared mapping (T must be trivially destructible:
// no process runs its destructor, the kernel just drops the pages).
template <class T, class... A>
std::shared_ptr<T> make_shared_block(A&&... a) {
  static_assert(std::is_trivially_destructible_v<T>);
  auto mem = map_shared_anonymous(sizeof(T));
  T* p = new (mem.get()) T(std::forward<A>(a)...);
  return std::shared_ptr<T>(std::move(mem), p);
}

// This process's pid and this thread's tid, cached and reset in a fork child.
pid_t self_pid() noexcept;
pid_t self_tid() noexcept;

// True unless process or thread `id` is gone or a zombie (read from /proc/<id>/stat).
// A pid reused by an unrelated process reads as alive: ownership then stays with it
// until the new process exits (the known limit of pid-based robustness).
bool id_alive(pid_t id) noexcept;

}  // namespace gilfree::multiprocessing::detail
