// Seed 002, integrate_threads.py: integrate x**2 from 0 to 10, the work split into
// thread_count chunks, each thread putting its integral on a Queue, the main thread summing.
// "What happens when you change the thread count? What thread count gives the maximum
// speed?" — unlike CPython's, gilfree's threads answer: as many as there are cores.
//   integrate_threads [N=100000000] [thread_count=8]
// args: 1000000 8
// expect: Numerical solution with N=1000000 : 333\.33
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "integrate_threads.hpp"
#include "seedkit.hpp"

// f, integrate and threading_integrate (@timer below): integrate_threads.hpp.
using namespace integrate_threads;

int main(int argc, char** argv) {
  // parameters of the integration
  double a = 0.0, b = 10.0;
  long N = argc > 1 ? std::atol(argv[1]) : 100000000;
  int thread_count = argc > 2 ? std::atoi(argv[2]) : 8;

  auto timed = seedkit::my_timeit("threading_integrate", [&](int tc) {
    return threading_integrate(f, a, b, N, tc, [](const gilfree::Thread& t) {
      std::cout << "Thread " << t.name() << " started\n";
    });
  });
  double x = timed(thread_count);
  std::printf("Numerical solution with N=%ld : %f\n", N, x);
  // A left Riemann sum of x² on [0, 10] with N steps is 1000/3 - 500/N + 500/(6N²)-ish.
  seedkit::check(std::fabs(x - 1000.0 / 3) < 1000.0 / N + 1e-9, "the integral is right");
  double one = timed(1);
  seedkit::check(std::fabs(one - x) < 1e-6, "any thread count gives the same integral");
}
