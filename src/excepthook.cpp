// threading.excepthook: what happens to an exception that escapes a Thread's run().
#include <pthread.h>

#include <atomic>

#include <cstdio>
#include <mutex>

#include "describe.hpp"
#include "gilfree/threading.hpp"

namespace gilfree {

namespace {

// The hook's lock is taken around fork() (see detail/fork.hpp), so a child never inherits
// it held.
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
ExceptHook& hook_slot() {
  static ExceptHook* h = new ExceptHook;  // never destroyed: threads may end during exit
  return *h;
}

}  // namespace

// ---- excepthook -----------------------------------------------------------------------

void default_excepthook(const ExceptHookArgs& args) {
  std::string name = args.thread ? args.thread->name() : std::string("<unknown>");
  std::string what = detail::format_exception(args.exc_value);
  std::fprintf(stderr, "Exception in thread %s:\n%s\n", name.c_str(), what.c_str());
  std::fflush(stderr);
}

void excepthook(const ExceptHookArgs& args) {
  ExceptHook hook;
  {
    std::lock_guard g(hook_mutex());
    hook = hook_slot();
  }
  if (hook)
    hook(args);
  else
    default_excepthook(args);
}

ExceptHook set_excepthook(ExceptHook hook) {
  std::lock_guard g(hook_mutex());
  std::swap(hook_slot(), hook);
  return hook;
}

}  // namespace gilfree
