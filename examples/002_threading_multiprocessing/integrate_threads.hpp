// Seed 002, integrate_threads.py: integrate f from a to b, the work split into thread_count
// chunks, each thread putting its integral on a Queue. Shared by integrate_threads.cpp (the
// seed's program) and the tour's "integrate" and "scale_integrate" experiments.
#pragma once

#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

namespace integrate_threads {

// def f(x): return x**2 — a function object rather than a function pointer, so that the
// call inlines in the threads too (through a pointer that a Thread stores, every step
// would be an indirect call, 4x slower than the sequential loop).
inline constexpr auto f = [](double x) { return x * x; };

// A left Riemann sum with N steps, in the same order of additions as CPython's.
template <class F>
double integrate(F f, double a, double b, long N) {
  double s = 0;
  double dx = (b - a) / N;
  for (long i = 0; i < N; ++i) s += f(a + i * dx);
  return s * dx;
}

// The seed's threading_integrate: thread i integrates [dx*i, dx*(i+1)] with N/thread_count
// steps and puts its result on a Queue; `started(thread)` is called as each one starts (the
// seed prints its name). The results are summed in chunk order, not arrival order, so every
// run (and the tour's CPython side) adds the same numbers in the same order.
template <class F>
double threading_integrate(F f, double a, double b, long N, int thread_count = 2,
                           const std::function<void(const gilfree::Thread&)>& started = {}) {
  // break work into N chunks
  long N_chunk = static_cast<long>(double(N) / thread_count);
  double dx = (b - a) / thread_count;

  gilfree::Queue<std::pair<int, double>> results;
  auto worker = [&results, f](int i, double x0, double x1, long n) {
    results.put({i, integrate(f, x0, x1, n)});
  };
  std::deque<gilfree::Thread> threads;
  for (int i = 0; i < thread_count; ++i) {
    double x0 = dx * i;
    double x1 = x0 + dx;
    threads.emplace_back(worker, i, x0, x1, N_chunk);
    threads.back().start();
    if (started) started(threads.back());
  }
  std::vector<double> parts(thread_count);
  for (int i = 0; i < thread_count; ++i) {
    auto [k, v] = results.get();
    parts[k] = v;
  }
  double sum = 0;
  for (double p : parts) sum += p;
  return sum;
}

}  // namespace integrate_threads
