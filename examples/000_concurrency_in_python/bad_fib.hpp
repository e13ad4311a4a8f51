// Seed 000: the deliberately slow Fibonacci that bad_fib times. Shared by bad_fib.cpp (the
// seed's program) and the tour's "bad_fib" and "scale_fib" experiments.
#pragma once

namespace fib {

// def recurse(n): the naive doubly recursive Fibonacci, CPU-bound on purpose.
inline long recurse(int n) {
  if (n == 0 || n == 1) return n;
  return recurse(n - 1) + recurse(n - 2);
}

}  // namespace fib
