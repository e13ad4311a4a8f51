// The futures' log hook: where errors that cannot be raised (a failing done-callback, an
// executor's failing initializer) are reported, as CPython logs them through the
// "concurrent.futures" logger.
#include <cstdio>
#include <mutex>
#include <utility>

#include "describe.hpp"
#include "fork_held.hpp"
#include "gilfree/futures.hpp"

namespace gilfree {

namespace {

// The installed hook, behind a lock that fork() cannot leave held in a child.
struct HookSlot {
  std::mutex mu;
  LogHook hook;
};
HookSlot& slot() { return detail::fork_held<HookSlot>(); }
[[maybe_unused]] const bool slot_made_early = detail::fork_held_early<HookSlot>();

void default_log(std::string_view message, std::exception_ptr error) {
  std::string line(message);
  if (error) line += "\n" + detail::format_exception(error);
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

LogHook set_log_hook(LogHook hook) {
  std::lock_guard g(slot().mu);
  return std::exchange(slot().hook, std::move(hook));
}

namespace detail {

void log_error(std::string_view message, std::exception_ptr error) noexcept {
  try {
    LogHook h;
    {
      std::lock_guard g(slot().mu);
      h = slot().hook;
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
