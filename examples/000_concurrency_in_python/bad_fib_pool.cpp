// Seed 000, "Multiprocessing": bad_fib2 mapped over [35, 35, 35] on multiprocessing.Pool(1),
// then on Pool(3), each map timed with my_timeit ("Check htop..."): one worker process runs
// the three calls one after another, three run them at once. The workers are processes
// (gilfree::mp::Pool, default start method forkserver): recurse is bad_fib.hpp's, the same
// that bad_fib.cpp runs on threads, and bad_fib2 is a plain function, so it crosses.
//   bad_fib_pool [n=35]
// args: 27
// expect: func:'foo' args:\[Pool\(1\)\] took: [0-9.]+ sec
// expect: func:'foo' args:\[Pool\(3\)\] took: [0-9.]+ sec
// expect: Pool\(3\) is [0-9.]+x Pool\(1\)
// expect: every worker computed 196418
// requires: multiprocessing/pool: class Pool 
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <gilfree/multiprocessing/pool.hpp>

#include "bad_fib.hpp"  // recurse(n)
#include "seedkit.hpp"

// def bad_fib2(n): print(recurse(n)) — and returns it, so the parent can check.
long bad_fib2(int n) {
  long r = fib::recurse(n);
  std::cout << r << std::endl;  // a worker's stdout: flushed line by line
  return r;
}

// What my_timeit shows for the pool: "[Pool(3)]".
struct Shown {
  int processes;
  friend std::ostream& operator<<(std::ostream& o, const Shown& s) {
    return o << "Pool(" << s.processes << ')';
  }
};

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 35;
  const std::vector<int> inputs(3, n);
  double seconds[2];
  std::vector<long> results;
  int k = 0;
  for (int processes : {1, 3}) {
    gilfree::mp::Pool p(processes);  // p = multiprocessing.Pool(processes)
    double t0 = seedkit::now();
    seedkit::my_timeit("foo", [&](const Shown&) { results = p.map(bad_fib2, inputs); })(
        Shown{processes});  // @my_timeit def foo(): p.map(bad_fib2, [35, 35, 35])
    seconds[k++] = seedkit::now() - t0;
    seedkit::check(results.size() == 3 && results[0] == fib::recurse(n) &&
                       results[1] == results[0] && results[2] == results[0],
                   "every worker computed recurse(n)");
  }
  std::cout << "Pool(3) is " << seconds[0] / seconds[1] << "x Pool(1) on "
            << gilfree::mp::cpu_count() << " CPUs\n";
  std::cout << "every worker computed " << results[0] << '\n';
}
