// Seed 002's integration of x² on [0, 10], its chunks on a Pool instead of Threads: the same
// split as integrate_threads.hpp's threading_integrate (chunk i is [dx*i, dx*(i+1)] with
// N/count steps), run with pool.starmap, the parts summed in chunk order — so the result is
// bit for bit the threads' and CPython's. Shared by integrate_processes.cpp and the tour.
#pragma once

#include <tuple>
#include <vector>

#include "integrate_threads.hpp"

namespace integrate_pool {

// integrate(f, a, b, N) for f(x) = x², as a plain function: it crosses to a worker process.
inline double integrate_f(double a, double b, long N) {
  return integrate_threads::integrate(integrate_threads::f, a, b, N);
}

// The integral of x² on [a, b] with N steps, split into `count` chunks on `pool` (a
// ThreadPool or a multiprocessing Pool): pool.starmap(integrate_f, chunks).
template <class Pool>
double pool_integrate(Pool& pool, double a, double b, long N, int count) {
  const long N_chunk = static_cast<long>(double(N) / count);
  const double dx = (b - a) / count;
  std::vector<std::tuple<double, double, long>> chunks;
  for (int i = 0; i < count; ++i) chunks.emplace_back(dx * i, dx * i + dx, N_chunk);
  double sum = 0;
  for (double part : pool.starmap(integrate_f, chunks)) sum += part;
  return sum;
}

}  // namespace integrate_pool
