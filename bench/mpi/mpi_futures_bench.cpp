// gilfree::mpi's MPIPoolExecutor against mpi4py.futures (mpi4py_futures_bench.py, the same
// measurements): run both under the same `mpirun -n 4` (see BENCHMARKS.md).
//   tiny tasks unchunked   N submits of square(i), then every result
//   map, chunksize 100     M items through map(square, xs, chunksize=100)
//   round trip             one submit -> result at a time (median)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gilfree/mpi/futures.hpp"

namespace mpi = gilfree::mpi;
using Clock = std::chrono::steady_clock;

namespace {
long square(long x) { return x * x; }
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  const long n = argc > 1 ? std::atol(argv[1]) : 20000;
  const long m = argc > 2 ? std::atol(argv[2]) : 1000000;
  mpi::MPIPoolExecutor ex;
  ex.submit(square, 1).result();  // warm up every path once

  auto t = Clock::now();
  std::vector<gilfree::Future<long>> fs;
  fs.reserve(n);
  for (long i = 0; i < n; ++i) fs.push_back(ex.submit(square, i));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  double tiny = n / seconds_since(t);

  std::vector<long> xs(m);
  for (long i = 0; i < m; ++i) xs[i] = i;
  t = Clock::now();
  long last = 0;
  for (long y : ex.map(square, xs, {.chunksize = 100})) last = y;  // as list(ex.map(...))
  double chunked = m / seconds_since(t);
  sum += last;

  std::vector<double> rt;
  for (int i = 0; i < 2000; ++i) {
    auto t0 = Clock::now();
    sum += ex.submit(square, i).result();
    rt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::nth_element(rt.begin(), rt.begin() + rt.size() / 2, rt.end());
  std::printf("gilfree.mpi workers=%d tiny_unchunked_tasks_per_s=%.0f map_chunk100_items_per_s=%.0f "
              "round_trip_median_us=%.1f (checksum %ld)\n",
              ex.num_workers(), tiny, chunked, rt[rt.size() / 2], sum);
  return 0;
}
