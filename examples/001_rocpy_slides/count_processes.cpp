// Seed 001, "Performance Example": Beazley's CPU-bound count(n), run twice in sequence and
// then in two processes (multiprocessing.Process, the way around the GIL in Python). In C++
// threads would do as well; this is the process half of the story, with the default
// forkserver start method.
//   count_processes [N=300000000]
// args: 20000000
// expect: Sequential : [0-9.]+s
// expect: Processes  : [0-9.]+s
// expect: both children counted to 0
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <gilfree/multiprocessing/process.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;

// while n > 0: n -= 1 (the empty asm keeps the optimizer from deleting the loop).
void count(long n) {
  while (n > 0) {
    n -= 1;
    asm volatile("" : "+r"(n));
  }
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 300'000'000;
  double t0 = seedkit::now();
  count(n);
  count(n);
  double seq = seedkit::now() - t0;
  std::printf("Sequential : %.3fs\n", seq);

  t0 = seedkit::now();
  mp::Process p1(count, n);  // Process(target=count, args=(n,))
  p1.start();
  mp::Process p2(count, n);
  p2.start();
  p1.join();
  p2.join();
  double prc = seedkit::now() - t0;
  std::printf("Processes  : %.3fs (%.2fx the sequential time)\n", prc, prc / seq);
  seedkit::check(p1.exitcode() == 0 && p2.exitcode() == 0, "both children ended normally");
  std::cout << "both children counted to 0\n";
}
