// The fork generation counter (see detail/fork.hpp). Each component that owns a lock or
// a registry installs its own pthread_atfork handlers when it is first used; this file
// only counts generations, for objects that cannot survive a fork.
#include "gilfree/detail/fork.hpp"

#include <pthread.h>

#include "gilfree/detail/future_state.hpp"

namespace gilfree::detail {

namespace {
GILFREE_FORK_PATH void count_generation_in_child() noexcept {
  fork_generation_counter.fetch_add(1, std::memory_order_relaxed);
  current_blocking_hook = nullptr;  // the forking thread is no executor's worker here
}
}  // namespace

void install_fork_handlers() noexcept {
  static const bool installed = [] {
    pthread_atfork(nullptr, nullptr, count_generation_in_child);
    return true;
  }();
  (void)installed;
}

namespace {
// Installed during static initialisation (see detail/fork.hpp: a lazy first use racing a
// fork).
[[maybe_unused]] const bool handlers_installed_early = (install_fork_handlers(), true);
}  // namespace

std::uint32_t fork_generation() noexcept {
  install_fork_handlers();
  return fork_generation_counter.load(std::memory_order_relaxed);
}

}  // namespace gilfree::detail
