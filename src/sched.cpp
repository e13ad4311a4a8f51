#include "gilfree/sched.hpp"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

namespace gilfree {

namespace detail {

void SchedSync::default_delay(std::unique_lock<std::mutex>& lk, double delay) {
  const std::uint64_t gen = head_gen;
  auto changed = [&] { return head_gen != gen; };
  ++sleepers;
  if (!(delay < TIMEOUT_MAX)) {  // +inf included: only a change of head ends this wait
    cv.wait(lk, changed);
  } else {
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(delay));
    cv.wait_until(lk, until, changed);
  }
  --sleepers;
}

double sched_monotonic() noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace detail

// gilfree::scheduler is compiled once, here.
template class basic_scheduler<int>;

}  // namespace gilfree
