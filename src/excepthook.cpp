// threading.excepthook: what happens to an exception that escapes a Thread's run().
#include <cstdio>
#include <mutex>

#include "describe.hpp"
#include "fork_held.hpp"
#include "gilfree/threading.hpp"

namespace gilfree {

namespace {

// The installed hook, behind a lock that fork() cannot leave held in a child.
struct HookSlot {
  std::mutex mu;
  ExceptHook hook;
};
HookSlot& slot() { return detail::fork_held<HookSlot>(); }
[[maybe_unused]] const bool slot_made_early = detail::fork_held_early<HookSlot>();

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
    std::lock_guard g(slot().mu);
    hook = slot().hook;
  }
  if (hook)
    hook(args);
  else
    default_excepthook(args);
}

ExceptHook set_excepthook(ExceptHook hook) {
  std::lock_guard g(slot().mu);
  std::swap(slot().hook, hook);
  return hook;
}

}  // namespace gilfree
