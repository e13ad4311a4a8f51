// Seed 002, integrate_threads.py: integrate x**2 from 0 to 10, the work split into
// thread_count chunks, each thread putting its integral on a Queue, the main thread summing.
// "What happens when you change the thread count? What thread count gives the maximum
// speed?" — unlike CPython's, gilfree's threads answer: as many as there are cores.
//   integrate_threads [N=100000000] [thread_count=8]
// args: 1000000 8
// expect: Numerical solution with N=1000000 : 333\.33
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <iostream>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

double f(double x) { return x * x; }

double integrate(double (*f)(double), double a, double b, long N) {
  double s = 0;
  double dx = (b - a) / N;
  for (long i = 0; i < N; ++i) s += f(a + i * dx);
  return s * dx;
}

// @timer
double threading_integrate(double (*f)(double), double a, double b, long N, int thread_count = 2) {
  // break work into N chunks
  long N_chunk = static_cast<long>(double(N) / thread_count);
  double dx = (b - a) / thread_count;

  gilfree::Queue<double> results;
  auto worker = [&results](double (*f)(double), double x0, double x1, long n) {
    results.put(integrate(f, x0, x1, n));
  };
  std::deque<gilfree::Thread> threads;
  for (int i = 0; i < thread_count; ++i) {
    double x0 = dx * i;
    double x1 = x0 + dx;
    threads.emplace_back(worker, f, x0, x1, N_chunk);
    threads.back().start();
    std::cout << "Thread " << threads.back().name() << " started\n";
  }
  double sum = 0;
  for (int i = 0; i < thread_count; ++i) sum += results.get();
  return sum;
}

int main(int argc, char** argv) {
  // parameters of the integration
  double a = 0.0, b = 10.0;
  long N = argc > 1 ? std::atol(argv[1]) : 100000000;
  int thread_count = argc > 2 ? std::atoi(argv[2]) : 8;

  auto timed = seedkit::my_timeit("threading_integrate", [&](int tc) {
    return threading_integrate(f, a, b, N, tc);
  });
  double x = timed(thread_count);
  std::printf("Numerical solution with N=%ld : %f\n", N, x);
  // A left Riemann sum of x² on [0, 10] with N steps is 1000/3 - 500/N + 500/(6N²)-ish.
  seedkit::check(std::fabs(x - 1000.0 / 3) < 1000.0 / N + 1e-9, "the integral is right");
  double one = timed(1);
  seedkit::check(std::fabs(one - x) < 1e-6, "any thread count gives the same integral");
}
