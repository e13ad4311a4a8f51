// Seed 000's bad_fib on MPI ranks: the same recurse(n) as bad_fib.cpp, timed with
// my_timeit, once on one worker rank, then five at once through an MPIPoolExecutor.
//   mpirun -n 4 bad_fib_mpi [n=35]
// args: 30
// expect: func:'bad_fib' args:\[30\] took: [0-9.]+ sec
// expect: 5 tasks on 3 worker ranks computed 832040
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <gilfree/mpi/futures.hpp>

#include "../000_concurrency_in_python/bad_fib.hpp"  // recurse(n)
#include "seedkit.hpp"

// recurse(n) as a plain function: it crosses to another rank by identity.
long recurse_task(int n) { return fib::recurse(n); }

int main(int argc, char** argv) {
  gilfree::mpi::Session session(argc, argv);  // ranks 1..N-1 serve tasks from here
  const int n = argc > 1 ? std::atoi(argv[1]) : 35;
  gilfree::mpi::MPIPoolExecutor ex;

  // @my_timeit def bad_fib(n): print(recurse(n)) — the recursion on a worker rank
  auto bad_fib = seedkit::my_timeit("bad_fib", [&](int k) {
    long r = ex.submit(recurse_task, k).result();
    std::printf("%ld\n", r);
    return r;
  });
  long alone = bad_fib(n);

  auto five = seedkit::my_timeit("bad_fib x5", [&](int k) {
    std::vector<gilfree::Future<long>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(ex.submit(recurse_task, k));
    std::vector<long> rs;
    for (auto& f : fs) rs.push_back(f.result());
    return rs;
  });
  auto rs = five(n);
  for (long r : rs) seedkit::check(r == alone, "every rank's result equal");
  seedkit::check(alone == fib::recurse(n), "the ranks' result is rank 0's");
  std::printf("5 tasks on %d worker ranks computed %ld\n", ex.num_workers(), alone);
}
