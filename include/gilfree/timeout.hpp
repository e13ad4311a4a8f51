// gilfree/timeout.hpp — the one way every blocking call says how long it may block.
//
// A default-constructed Timeout means "block forever". Any std::chrono::duration or a
// double in seconds converts implicitly, so `q.get(true, 250ms)` and `q.get(true, 0.25)`
// both read naturally. A negative or NaN value is a ValueError at the call site, as in
// Python. Deadlines are measured on std::chrono::steady_clock.
#pragma once

#include <chrono>
#include <cmath>
#include <limits>

#include "errors.hpp"

namespace gilfree {

// The longest finite timeout, as threading.TIMEOUT_MAX; longer values mean forever.
inline constexpr double TIMEOUT_MAX = 9223372036.0;  // ~292 years in seconds

// An absolute point on steady_clock, or "never". Cheap to copy; what waits compare against.
class Deadline {
 public:
  using clock = std::chrono::steady_clock;

  // A deadline that never passes.
  constexpr Deadline() noexcept = default;
  constexpr explicit Deadline(clock::time_point at) noexcept : at_(at), forever_(false) {}

  // True when this deadline never passes.
  constexpr bool is_forever() const noexcept { return forever_; }
  // The absolute time; meaningless when is_forever().
  constexpr clock::time_point time_point() const noexcept { return at_; }
  // True once steady_clock has reached the deadline (never for a forever deadline).
  bool expired() const noexcept { return !forever_ && clock::now() >= at_; }
  // Time left, clamped at zero; nanoseconds::max() when forever.
  std::chrono::nanoseconds remaining() const noexcept {
    if (forever_) return std::chrono::nanoseconds::max();
    auto left = at_ - clock::now();
    return left.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
                            : std::chrono::nanoseconds::zero();
  }

 private:
  clock::time_point at_{};
  bool forever_ = true;
};

// How long a call may block: forever (default), or a non-negative duration (zero means
// "do not block"). Throws ValueError for a negative or NaN value.
class Timeout {
 public:
  // Block forever, Python's timeout=None.
  constexpr Timeout() noexcept = default;

  // A duration; negative is a ValueError.
  template <class Rep, class Period>
  Timeout(std::chrono::duration<Rep, Period> d) {  // NOLINT(google-explicit-constructor)
    if (d < d.zero()) throw ValueError("timeout value must be a non-negative number");
    forever_ = false;
    if (std::chrono::duration<double>(d).count() >= TIMEOUT_MAX) {
      forever_ = true;
    } else {
      ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    }
  }

  // Seconds as a double, Python's form; negative or NaN is a ValueError, +inf is forever.
  Timeout(double seconds) {  // NOLINT(google-explicit-constructor)
    if (std::isnan(seconds) || seconds < 0)
      throw ValueError("timeout value must be a non-negative number");
    if (seconds < TIMEOUT_MAX) {
      forever_ = false;
      ns_ = std::chrono::nanoseconds(static_cast<long long>(seconds * 1e9));
    }
  }

  // A zero timeout: poll once, never block.
  static Timeout zero() noexcept { return Timeout(std::chrono::nanoseconds(0), 0); }

  // True for "block forever".
  constexpr bool is_forever() const noexcept { return forever_; }
  // The duration; nanoseconds::max() when forever.
  constexpr std::chrono::nanoseconds duration() const noexcept {
    return forever_ ? std::chrono::nanoseconds::max() : ns_;
  }
  // Seconds as a double; +inf when forever.
  double seconds() const noexcept {
    return forever_ ? std::numeric_limits<double>::infinity() : ns_.count() / 1e9;
  }
  // The deadline this timeout reaches when counted from now.
  Deadline deadline() const noexcept {
    if (forever_) return Deadline();
    return Deadline(Deadline::clock::now() + ns_);
  }

 private:
  Timeout(std::chrono::nanoseconds ns, int) noexcept : ns_(ns), forever_(false) {}
  std::chrono::nanoseconds ns_{0};
  bool forever_ = true;
};

}  // namespace gilfree
