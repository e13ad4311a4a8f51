// The futex syscalls and the house spin budget (detail/wait/).
#include "gilfree/detail/wait/futex.hpp"
#include "gilfree/detail/wait/spin.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

namespace gilfree::detail {

namespace {
int private_flag(FutexScope scope) noexcept {
  return scope == FutexScope::process_private ? FUTEX_PRIVATE_FLAG : 0;
}
}  // namespace

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const Deadline& deadline, FutexScope scope) noexcept {
  timespec ts{};
  timespec* abs = nullptr;
  if (!deadline.is_forever()) {
    // steady_clock is CLOCK_MONOTONIC on Linux, so its epoch is the kernel's.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  deadline.time_point().time_since_epoch())
                  .count();
    if (ns < 0) ns = 0;
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    abs = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wake-up that
  // turns out spurious never stretches the total wait.
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
                    FUTEX_WAIT_BITSET | private_flag(scope), expected, abs, nullptr,
                    FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;
}

void futex_wake(std::atomic<std::uint32_t>& word, int count, FutexScope scope) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE | private_flag(scope),
          count, nullptr, nullptr, 0);
}

long spin_budget_ns() noexcept {
  static const long budget = [] {
    if (const char* env = std::getenv("GILFREE_SPIN_NS")) return std::atol(env);
    // The CPUs this process may run on (taskset, a container's cpuset), not the machine's.
    cpu_set_t set;
    const int cpus = sched_getaffinity(0, sizeof set, &set) == 0
                         ? CPU_COUNT(&set)
                         : static_cast<int>(std::thread::hardware_concurrency());
    return cpus > 1 ? 20'000L : 0L;
  }();
  return budget;
}

}  // namespace gilfree::detail
