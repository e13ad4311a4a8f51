// The vector kernels of the vecmath extension, on plain float64 ranges: no Python, no
// threads. vecmath.cpp splits a call into chunks and runs one kernel per chunk on a
// gilfree::ThreadPoolExecutor; these are what each thread runs.
//
// kernels.cpp is built with fast-math flags (CMakeLists.txt), and only it: the
// compiler may reassociate the sums (a reduction becomes several SIMD accumulators) and
// calls glibc's libmvec for sin and cos, so one thread runs about as fast as NumPy's own
// SIMD loops. Results therefore differ from a strict left-to-right loop within
// floating-point reassociation bounds; inputs should be finite (NaN/inf propagate as the
// hardware does, with no guarantee).
#pragma once

#include <cstddef>

namespace vecmath {

// Σ x[i]*y[i] over [0, n).
double dot(const double* x, const double* y, std::size_t n) noexcept;
// Σ x[i]² over [0, n) (the norm is the square root of the whole array's sum).
double sum_squares(const double* x, std::size_t n) noexcept;
// Σ x[i] over [0, n): reads the memory at the rate the machine allows, for the
// bandwidth reference the comparison script measures dot against.
double sum(const double* x, std::size_t n) noexcept;
// out[i] = a*x[i] + y[i]; out may be y (in place) but must not partly overlap x or y.
void axpy(double a, const double* x, const double* y, double* out, std::size_t n) noexcept;
// out[i] = sin(x[i])*cos(x[i]) + sqrt(x[i]); out may be x.
void sincos_sqrt(const double* x, double* out, std::size_t n) noexcept;

}  // namespace vecmath
