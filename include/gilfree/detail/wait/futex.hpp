// gilfree/detail/wait/futex.hpp — the kernel's wait/wake on a 32-bit word, with absolute
// steady-clock deadlines, in one of two scopes. Every gilfree primitive sleeps through
// here; happens-before between threads always comes from the atomics around these calls,
// never from the syscall itself (which keeps ThreadSanitizer's view exact).
//
// Scope: a process-private futex (FUTEX_PRIVATE_FLAG) is keyed by the word's virtual
// address and is cheaper in the kernel; a process-shared one is keyed by the backing
// page, so processes that map the same shared memory (memfd, /dev/shm, MAP_SHARED
// before fork) wait and wake on the same word at different addresses. A word in shared
// memory must use process_shared; a private word may use either.
#pragma once

#include <atomic>
#include <cstdint>

#include "../../timeout.hpp"

namespace gilfree::detail {

// Who may wait on a futex word: threads of this process, or any process mapping it.
enum class FutexScope : std::uint8_t { process_private, process_shared };

static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain 32-bit word, also in shared memory");

// Sleeps while `word == expected`, until woken, the deadline passes, or spuriously.
// Returns false only when the deadline has passed; callers recheck their condition.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline,
                FutexScope scope = FutexScope::process_private) noexcept;

// Wakes up to `count` waiters sleeping on `word` (INT32_MAX: all of them).
void futex_wake(std::atomic<std::uint32_t>& word, int count,
                FutexScope scope = FutexScope::process_private) noexcept;

// The futex calls of one scope, as a policy for primitives that are templates on where
// they live (BasicEventCount<FutexScope::process_shared> in shared memory).
template <FutexScope S>
struct Futex {
  static constexpr FutexScope scope = S;
  // futex_wait() in scope S.
  static bool wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                   const Deadline& deadline) noexcept {
    return futex_wait(word, expected, deadline, S);
  }
  // futex_wake() in scope S.
  static void wake(std::atomic<std::uint32_t>& word, int count) noexcept {
    futex_wake(word, count, S);
  }
};

}  // namespace gilfree::detail
