// Seed 002, the integration of x² on [0, 10] with N = 10**8, on multiprocessing.Pool(2): the
// processes' answer to the GIL that the chapter's threads could not give in CPython. The
// chunks are integrate_threads.cpp's (integrate_pool.hpp splits as threading_integrate does),
// so the result equals the threads' bit for bit; each chunk runs in a worker process
// (gilfree::mp::Pool, default start method forkserver).
//   integrate_processes [N=100000000] [processes=2]
// args: 1000000 2
// expect: func:'pool_integrate' args:\[Pool\(2\)\] took: [0-9.]+ sec
// expect: Numerical solution with N=1000000 : 333\.33
// expect: the same as 2 threads: yes
// requires: multiprocessing/pool: class Pool 
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <gilfree/multiprocessing/pool.hpp>

#include "integrate_pool.hpp"
#include "seedkit.hpp"

// What my_timeit shows: "[Pool(2)]".
struct Shown {
  int processes;
  friend std::ostream& operator<<(std::ostream& o, const Shown& s) {
    return o << "Pool(" << s.processes << ')';
  }
};

int main(int argc, char** argv) {
  const double a = 0.0, b = 10.0;
  const long N = argc > 1 ? std::atol(argv[1]) : 100000000;
  const int processes = argc > 2 ? std::atoi(argv[2]) : 2;

  gilfree::mp::Pool pool(processes);  // Pool(2)
  double x = seedkit::my_timeit("pool_integrate", [&](const Shown&) {
    return integrate_pool::pool_integrate(pool, a, b, N, processes);
  })(Shown{processes});
  pool.close();
  pool.join();
  std::printf("Numerical solution with N=%ld : %f\n", N, x);
  seedkit::check(std::fabs(x - 1000.0 / 3) < 1000.0 / N + 1e-9, "the integral is right");
  const double threads = integrate_threads::threading_integrate(integrate_threads::f, a, b, N, processes);
  std::cout << "the same as " << processes << " threads: " << (x == threads ? "yes" : "no") << '\n';
  seedkit::check(x == threads, "processes and threads add the same parts in the same order");
}
