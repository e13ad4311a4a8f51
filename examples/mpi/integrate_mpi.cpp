// Seed 002, integrate_threads.py on MPI ranks: the same integrate() task code as
// integrate_threads.cpp, its chunks submitted to a gilfree::mpi::MPIPoolExecutor instead of
// threads. Rank 0 runs main; the other ranks of `mpirun -n 4` run the chunks.
//   mpirun -n 4 integrate_mpi [N=100000000] [chunk_count=8]
// (without mpirun it spawns its workers: GILFREE_MPI_MAX_WORKERS, else one per core)
// args: 1000000 8
// expect: Numerical solution with N=1000000 on 3 worker ranks: 333\.33
// expect: same as the threads' integral
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <gilfree/mpi/futures.hpp>

#include "../002_threading_multiprocessing/integrate_threads.hpp"
#include "seedkit.hpp"

using namespace integrate_threads;

// One chunk's integral: a plain function, so it crosses to another rank by identity.
double integrate_chunk(double x0, double x1, long n) { return integrate(f, x0, x1, n); }

// The seed's threading_integrate with ranks for threads: chunk i integrates
// [dx*i, dx*(i+1)] with N/chunk_count steps; results summed in chunk order.
double mpi_integrate(gilfree::mpi::MPIPoolExecutor& ex, double a, double b, long N,
                     int chunk_count) {
  long N_chunk = static_cast<long>(double(N) / chunk_count);
  double dx = (b - a) / chunk_count;
  std::vector<gilfree::Future<double>> parts;
  for (int i = 0; i < chunk_count; ++i) {
    double x0 = dx * i;
    parts.push_back(ex.submit(integrate_chunk, x0, x0 + dx, N_chunk));
  }
  double sum = 0;
  for (auto& p : parts) sum += p.result();
  return sum;
}

int main(int argc, char** argv) {
  gilfree::mpi::Session session(argc, argv);  // ranks 1..N-1 serve tasks from here
  double a = 0.0, b = 10.0;
  long N = argc > 1 ? std::atol(argv[1]) : 100000000;
  int chunk_count = argc > 2 ? std::atoi(argv[2]) : 8;

  gilfree::mpi::MPIPoolExecutor ex;
  auto timed = seedkit::my_timeit("mpi_integrate", [&](int cc) {
    return mpi_integrate(ex, a, b, N, cc);
  });
  double x = timed(chunk_count);
  std::printf("Numerical solution with N=%ld on %d worker ranks: %f\n", N, ex.num_workers(), x);
  seedkit::check(std::fabs(x - 1000.0 / 3) < 1000.0 / N + 1e-9, "the integral is right");
  double threads = threading_integrate(f, a, b, N, chunk_count);
  seedkit::check(x == threads, "same as the threads' integral");
  std::printf("same as the threads' integral\n");
}
