// The futures' log hook: where errors that cannot be raised (a failing done-callback, an
// executor's failing initializer) are reported, as CPython logs them through the
// "concurrent.futures" logger.
#include <pthread.h>

#include <atomic>

#include <cstdio>
#include <mutex>
#include <utility>

#include "describe.hpp"
#include "gilfree/futures.hpp"

namespace gilfree {

namespace {

// Taken around fork() (see detail/fork.hpp), so a child never inherits it held.
// Set once the mutex exists. The fork handlers use it, not hook_mutex(): a thread that
// is registering them holds hook_mutex()'s static-initialisation guard, and a fork()
// running the handlers meanwhile must not wait for that guard.
std::atomic<std::mutex*> hook_mutex_ptr{nullptr};  // atomic: TSan cannot see glibc's atfork lock

std::mutex& hook_mutex() {
  static std::mutex* m = [] {
    auto* made = new std::mutex;
    hook_mutex_ptr.store(made, std::memory_order_release);
    auto lock = [] { hook_mutex_ptr.load(std::memory_order_acquire)->lock(); };
    auto unlock = [] { hook_mutex_ptr.load(std::memory_order_acquire)->unlock(); };
    pthread_atfork(lock, unlock, unlock);
    return made;
  }();
  return *m;
}
LogHook& hook_slot() {
  static LogHook* h = new LogHook;  // never destroyed: workers may log during exit
  return *h;
}

void default_log(std::string_view message, std::exception_ptr error) {
  std::string line(message);
  if (error) line += "\n" + detail::format_exception(error);
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

LogHook set_log_hook(LogHook hook) {
  std::lock_guard g(hook_mutex());
  return std::exchange(hook_slot(), std::move(hook));
}

namespace detail {

void log_error(std::string_view message, std::exception_ptr error) noexcept {
  try {
    LogHook h;
    {
      std::lock_guard g(hook_mutex());
      h = hook_slot();
    }
    if (h) {
      h(message, error);
    } else {
      default_log(message, error);
    }
  } catch (...) {
  }
}

}  // namespace detail
}  // namespace gilfree
