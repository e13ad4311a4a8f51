// src/fork_held.hpp — the library's process-wide objects whose lock is held across fork().
#pragma once

#include <pthread.h>

#include <atomic>

#include "gilfree/detail/fork.hpp"

namespace gilfree::detail {

// The handlers reach each T through this pointer (see fork_held() below).
template <class T>
constinit std::atomic<T*> fork_held_ptr{nullptr};

template <class T>
void fork_held_lock() noexcept {
  fork_held_ptr<T>.load(std::memory_order_acquire)->mu.lock();
}
template <class T>
GILFREE_FORK_PATH void fork_held_unlock() noexcept {  // parent and child
  fork_held_ptr<T>.load(std::memory_order_acquire)->mu.unlock();
}

// The one T of the process, made on first use and never destroyed (threads may use it
// during exit). Its member `mu` is held across fork() by pthread_atfork handlers, so a
// child gets T consistent and `mu` free (see gilfree/detail/fork.hpp). Each T is its own
// object: give every use its own type.
//
// Call it once during static initialisation (see fork_held_early below and detail/fork.hpp).
//
// The handlers reach T through an atomic pointer, never through the function-local
// static: a thread inside the static's initialisation holds its guard, and a fork()
// running the handlers meanwhile must not wait for it. (Atomic because ThreadSanitizer
// cannot see glibc's atfork lock, which orders the store before the handlers run.)
template <class T>
T& fork_held() {
  static T* const made = [] {
    auto* p = new T;
    fork_held_ptr<T>.store(p, std::memory_order_release);
    pthread_atfork(fork_held_lock<T>, fork_held_unlock<T>, fork_held_unlock<T>);
    return p;
  }();
  return *made;
}

// For a namespace-scope initialiser in the file that owns T: `const bool made_early =
// fork_held_early<T>();` makes T while the program is still single-threaded.
template <class T>
bool fork_held_early() {
  (void)fork_held<T>();
  return true;
}

}  // namespace gilfree::detail
