// The kernels (kernels.hpp). Built with -O3 -ffast-math -fopenmp-simd: `#pragma omp simd`
// makes each loop a SIMD loop, and under fast math glibc's <math.h> declares sin and cos
// with vector variants (libmvec's _ZGV..._sin/_cos) that the vectoriser calls.
// target_clones compiles each kernel for AVX-512, AVX2 and the x86-64 baseline, and the
// loader picks the widest the CPU has, so the binary runs everywhere and uses what it can.
#include "kernels.hpp"

#include <math.h>

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECMATH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECMATH_CLONES
#endif

namespace vecmath {

// The reductions keep kLanes independent partial sums (several SIMD registers): one
// accumulator would make every add wait for the previous one (4 cycles), and the loop
// would be bound by that latency instead of by memory.
constexpr std::size_t kLanes = 32;

template <class Term>  // always inlined: it takes the target (AVX-512, ...) of each clone
[[gnu::always_inline]] inline double reduce(std::size_t n, Term term) {
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
    for (std::size_t j = 0; j < kLanes; ++j) acc[j] += term(i + j);
  }
  double s = 0;
  for (; i < n; ++i) s += term(i);
#pragma omp simd reduction(+ : s)
  for (std::size_t j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

VECMATH_CLONES double dot(const double* __restrict x, const double* __restrict y,
                          std::size_t n) noexcept {
  return reduce(n, [=](std::size_t i) { return x[i] * y[i]; });
}

VECMATH_CLONES double sum_squares(const double* __restrict x, std::size_t n) noexcept {
  return reduce(n, [=](std::size_t i) { return x[i] * x[i]; });
}

VECMATH_CLONES double sum(const double* __restrict x, std::size_t n) noexcept {
  return reduce(n, [=](std::size_t i) { return x[i]; });
}

// No __restrict: out may alias y (the in-place form), which an element-wise loop allows.
VECMATH_CLONES void axpy(double a, const double* x, const double* y, double* out,
                         std::size_t n) noexcept {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = a * x[i] + y[i];
}

// Two passes over L1-sized blocks: GCC fuses sin(v) and cos(v) of one value into a scalar
// sincos() call that it cannot vectorise, so the sines go first into `out` and the second
// loop (which loads x again) multiplies by the cosines. Both loops then call libmvec.
VECMATH_CLONES void sincos_sqrt(const double* x, double* out, std::size_t n) noexcept {
  constexpr std::size_t kBlock = 512;  // 4 KiB of x and of out: stays in L1
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t m = std::min(kBlock, n - b);
    const double* xb = x + b;
    double* ob = out + b;
    if (xb == ob) {  // in place: keep x's block aside first
      double tmp[kBlock];
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) tmp[i] = xb[i];
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) ob[i] = sin(tmp[i]);
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) ob[i] = ob[i] * cos(tmp[i]) + sqrt(tmp[i]);
    } else {
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) ob[i] = sin(xb[i]);
#pragma omp simd
      for (std::size_t i = 0; i < m; ++i) ob[i] = ob[i] * cos(xb[i]) + sqrt(xb[i]);
    }
  }
}

}  // namespace vecmath
