// Seed 000: bad_fib timed with my_timeit, on one thread, then on five at once. Unlike
// CPython's, gilfree's five threads run on as many cores as there are.
//   bad_fib [n=35]
// args: 30
// expect: func:'bad_fib' args:\[30\] took: [0-9.]+ sec
// expect: 5 threads computed 832040
#include <cstdlib>
#include <deque>
#include <iostream>

#include <gilfree/threading.hpp>

#include "bad_fib.hpp"  // recurse(n)
#include "seedkit.hpp"

using fib::recurse;

// @my_timeit def bad_fib(n): print(recurse(n))
auto bad_fib = seedkit::my_timeit("bad_fib", [](int n) {
  long r = recurse(n);
  std::cout << r << '\n';
  return r;
});

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 35;

  long alone = 0;
  gilfree::Thread one([&] { alone = bad_fib(n); });
  one.start();
  one.join();

  std::deque<gilfree::Thread> threads;
  long results[5] = {};
  double t0 = seedkit::now();
  for (int i = 0; i < 5; ++i) {
    std::cout << "Started thread " << i << '\n';
    threads.emplace_back([&results, i, n] { results[i] = bad_fib(n); });
    threads.back().start();
  }
  for (auto& t : threads) t.join();
  std::cout << "5 threads took " << seedkit::now() - t0 << " sec in all\n";
  for (long r : results) seedkit::check(r == alone, "every thread got the same fib");
  std::cout << "5 threads computed " << alone << '\n';
}
