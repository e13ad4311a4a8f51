// tests/stress_scale.hpp — the one meaning of the stress-scale knob for the tests that
// include it: kStressScale MULTIPLIES a stress test's base amount of work. It is 1 under
// ThreadSanitizer and AddressSanitizer (5-20x slower on the 2-core machine) and larger in
// plain builds; a test writes `base * kStressScale` with `base` sized for sanitizers.
#pragma once

namespace gilfree_test {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr int kStressScale = 1;
#else
inline constexpr int kStressScale = 2;
#endif

}  // namespace gilfree_test
