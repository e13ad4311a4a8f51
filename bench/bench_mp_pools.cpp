// bench_mp_pools — issue 11's process pools side by side with CPython's, in one run,
// repetitions interleaved (bench_side.hpp), best and median per task:
//
//   submit    ProcessPoolExecutor(2): submit N tiny tasks (square), then wait for all; the
//             workers started before timing (CPython's started by a warm-up map)
//   map       ProcessPoolExecutor(2).map(square, range(N), chunksize=1), consumed
//   startup   create ProcessPoolExecutor(2) + the first result of a no-op task (gilfree with
//             its default start method, forkserver, and with fork; CPython with fork, its
//             3.11 default on Linux)
//   pool_map  mp::Pool(2).map(square, range(N), chunksize=1), and with the default chunksize
//             (Python's: ceil(N / (4 * processes))), on a started pool
//
// CPython's side is bench/py_mp_peers.py (python3 on PATH, fork start method).
//
// Run: build/release/bench/bench_mp_pools [--rounds=3] [--tasks=20000] [--py-tasks=20000]
//        [--pool-items=200000] [--py-pool-items=200000] [--startups=20]
#include <cstdio>
#include <numeric>
#include <ranges>
#include <string>
#include <vector>

#include <gilfree/futures.hpp>
#include <gilfree/futures/process.hpp>
#include <gilfree/multiprocessing/pool.hpp>

#include "bench_side.hpp"

namespace mp = gilfree::mp;
using bench_side::now;

namespace {

// def square(x): return x * x — a plain function: it crosses to the workers.
long square(long x) { return x * x; }
// The start-up probe's task.
int nothing() { return 0; }

// Starts every worker of `ex` before timing (as CPython's side warms up with a map).
void warm(gilfree::ProcessPoolExecutor& ex, int workers) {
  for (long r : ex.map(square, std::views::iota(0L, 4L * workers))) (void)r;
}

double submit_wait(long n) {
  gilfree::ProcessPoolExecutor ex({.max_workers = 2});
  warm(ex, 2);
  const double t0 = now();
  std::vector<gilfree::Future<long>> fs;
  fs.reserve(n);
  for (long i = 0; i < n; ++i) fs.push_back(ex.submit(square, i));
  gilfree::wait(fs);
  const double t = now() - t0;
  return fs.back().result() == (n - 1) * (n - 1) ? t : -1;
}

double executor_map(long n) {
  gilfree::ProcessPoolExecutor ex({.max_workers = 2});
  warm(ex, 2);
  const double t0 = now();
  long total = 0;
  for (long r : ex.map(square, std::views::iota(0L, n), {.chunksize = 1})) total += r;
  const double t = now() - t0;
  long expected = 0;
  for (long i = 0; i < n; ++i) expected += i * i;
  return total == expected ? t : -1;
}

// `count` start-ups, timed one by one; the total (per start-up: divide by count). One
// untimed start-up first (it starts the fork server), as CPython's side loads its modules.
double startups(int count, const char* method) {
  double total = 0;
  for (int i = 0; i <= count; ++i) {
    const double t0 = now();
    gilfree::ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mp::get_context(method)});
    if (ex.submit(nothing).result() != 0) return -1;
    if (i) total += now() - t0;
  }  // shutdown outside the timing, as CPython's side
  return total;
}

double pool_map(long n, std::size_t chunksize) {
  mp::Pool pool(2);
  (void)pool.map(square, std::views::iota(0L, 8L), 1);  // every worker up
  const double t0 = now();
  auto r = chunksize ? pool.map(square, std::views::iota(0L, n), chunksize)
                     : pool.map(square, std::views::iota(0L, n));
  const double t = now() - t0;
  pool.close();
  pool.join();
  return r.size() == std::size_t(n) && r.back() == (n - 1) * (n - 1) ? t : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = static_cast<int>(bench_side::flag(argc, argv, "rounds", 3));
  const long tasks = bench_side::flag(argc, argv, "tasks", 20'000);
  const long py_tasks = bench_side::flag(argc, argv, "py-tasks", tasks);
  const long items = bench_side::flag(argc, argv, "pool-items", 200'000);
  const long py_items = bench_side::flag(argc, argv, "py-pool-items", items);
  const int starts = static_cast<int>(bench_side::flag(argc, argv, "startups", 20));
  bench_side::banner("bench_mp_pools");
  std::printf("%d rounds, variants interleaved in each; ratios from the best runs\n", rounds);
  bool failed = false;
  auto check = [&](const std::vector<bench_side::Series>& s) {
    for (const auto& x : s) failed = failed || x.failed;
  };
  const std::string t = std::to_string(tasks), pt = std::to_string(py_tasks);

  auto submit = bench_side::interleave(
      rounds, {{"gilfree ProcessPoolExecutor(2), " + t + " submits", double(tasks),
                [&] { return submit_wait(tasks); }},
               bench_side::cpython_variant("CPython ProcessPoolExecutor(2), " + pt, double(py_tasks),
                                           "ppe_submit 2 " + pt)});
  bench_side::report("ProcessPoolExecutor: submit N tiny tasks + wait (per task)", submit);
  check(submit);

  auto map = bench_side::interleave(
      rounds, {{"gilfree ProcessPoolExecutor(2).map, " + t, double(tasks),
                [&] { return executor_map(tasks); }},
               bench_side::cpython_variant("CPython ProcessPoolExecutor(2).map, " + pt,
                                           double(py_tasks), "ppe_map 2 " + pt)});
  bench_side::report("ProcessPoolExecutor: map(square, range(N), chunksize=1) (per item)", map);
  check(map);

  auto startup = bench_side::interleave(
      rounds, {{"gilfree ProcessPoolExecutor(2), forkserver", double(starts),
                [&] { return startups(starts, "forkserver"); }},
               {"gilfree ProcessPoolExecutor(2), fork", double(starts),
                [&] { return startups(starts, "fork"); }},
               bench_side::cpython_variant("CPython ProcessPoolExecutor(2), fork", double(starts),
                                           "ppe_startup 2 " + std::to_string(starts))});
  bench_side::report("ProcessPoolExecutor: create + first result (per start-up)", startup);
  check(startup);

  const std::string it = std::to_string(items), pit = std::to_string(py_items);
  auto pool1 = bench_side::interleave(
      rounds, {{"gilfree mp::Pool(2).map, chunksize=1, " + it, double(items),
                [&] { return pool_map(items, 1); }},
               bench_side::cpython_variant("CPython Pool(2).map, chunksize=1, " + pit,
                                           double(py_items), "pool_map 2 " + pit + " 1")});
  bench_side::report("Pool(2).map(square, range(N), chunksize=1) (per item)", pool1);
  check(pool1);

  auto pool_default = bench_side::interleave(
      rounds, {{"gilfree mp::Pool(2).map, default chunksize, " + it, double(items),
                [&] { return pool_map(items, 0); }},
               bench_side::cpython_variant("CPython Pool(2).map, default chunksize, " + pit,
                                           double(py_items), "pool_map 2 " + pit + " 0")});
  bench_side::report("Pool(2).map(square, range(N)), default chunksize (per item)", pool_default);
  check(pool_default);
  return failed ? 1 : 0;
}
