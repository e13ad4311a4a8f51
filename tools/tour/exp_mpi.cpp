// The integration of x² (seed 002) across MPI ranks, beside threads: the tour's MPI row.
// The MPI side is the example program examples/mpi/integrate_mpi (gilfree::mpi's
// MPIPoolExecutor over the seed's own integrate()), run live under `mpirun -n 4`
// (oversubscribed, loopback only); its my_timeit line is the time shown. Built without
// Open MPI (or without the examples), the row says so and the experiment still passes.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "002_threading_multiprocessing/integrate_threads.hpp"
#include "tour.hpp"

namespace tour {
namespace {

#ifdef TOUR_MPI_INTEGRATE
// Runs a shell command, returning (exit status, stdout+stderr).
std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  return {::pclose(p), out};
}
#endif

}  // namespace

Experiment run_integrate_mpi(const Options& opt) {
  Experiment e{.key = "integrate_mpi",
               .title = "integrate x² on [0, 10]: threads vs MPI ranks (mpirun -n 4)",
               .seed = "seed 002"};
  const double a = 0.0, b = 10.0;
  const long N = opt.quick ? 100'000 : 100'000'000;
  const int ranks = 4, chunks = ranks - 1;  // one chunk per worker rank, one per thread
  e.gilfree_size = "N = " + std::to_string(N) + " in " + std::to_string(chunks) + " chunks";
  e.cpython_size = "mpi4py.futures: see BENCHMARKS.md (MPI)";

  double seq_value = 0, thr_value = 0;
  auto best = best_interleaved(opt.quick ? 1 : 3, {
      [&] { seq_value = integrate_threads::integrate(integrate_threads::f, a, b, N); },
      [&] {
        thr_value = integrate_threads::threading_integrate(integrate_threads::f, a, b, N, chunks);
      }});
  e.rows.push_back({"sequential", secs(best[0]), note("")});
  e.rows.push_back({std::to_string(chunks) + " threads", secs(best[1]), note("")});
  const std::string mpi_row = std::to_string(chunks) + " MPI worker ranks";
#ifdef TOUR_MPI_INTEGRATE
  std::string cmd = std::string(TOUR_MPIRUN) + " -n " + std::to_string(ranks) + " '" +
                    TOUR_MPI_INTEGRATE + "' " + std::to_string(N) + " " + std::to_string(chunks);
  double t0 = now();
  auto [status, out] = run_command("timeout -k 5 120 " + cmd);
  double wall = now() - t0;
  if (opt.verbose) std::printf("%s", out.c_str());
  std::smatch m;
  std::optional<double> took, value;
  if (std::regex_search(out, m, std::regex(R"(func:'mpi_integrate' args:\[\d+\] took: ([0-9.]+) sec)")))
    took = std::atof(m[1].str().c_str());
  if (std::regex_search(out, m, std::regex(R"(on \d+ worker ranks: ([-0-9.e+]+))")))
    value = std::atof(m[1].str().c_str());
  // The example checks itself that its sum equals the threads' bit for bit.
  bool same = out.find("same as the threads' integral") != std::string::npos;
  if (status != 0 || !took || !value || !same) {
    e.ok = false;
    e.rows.push_back({mpi_row, note("FAILED (status " + std::to_string(status) + ")"), note("")});
    e.notes.push_back("CHECK FAILED: " + cmd + " printed:\n" + out);
  } else {
    e.ok = std::fabs(*value - thr_value) <= 1e-6 * std::fabs(thr_value);
    e.rows.push_back({mpi_row, secs(*took, fmt("(%.2f s with mpirun)", wall)), note("")});
    e.notes.push_back(fmt("threads %.6f", thr_value) + fmt(", MPI ranks %.6f", *value) +
                      " — the same sums in the same order: " + (e.ok ? "yes" : "NO"));
    e.lesson = "the same task code on threads and on MPI ranks: the ranks took " +
               ratio(*took / best[1]) + " the threads' time here, plus " +
               fmt("%.2f s", wall - *took) + " to start the job; ranks are what goes past one machine";
    e.figures = {{"N", double(N)}, {"mpi_seconds", *took}, {"mpi_wall_seconds", wall}};
  }
#else
  e.rows.push_back({mpi_row, note("not built: Open MPI not found (or examples off)"), note("")});
  e.notes.push_back("gilfree::mpi is optional: install openmpi-bin and libopenmpi-dev, reconfigure");
  e.lesson = "threads only here; the MPI row needs Open MPI";
#endif
  const double tolerance = 1000.0 / N + 1e-9;  // the left Riemann sum's error, about 500/N
  if (std::fabs(seq_value - 1000.0 / 3) > tolerance || std::fabs(thr_value - 1000.0 / 3) > tolerance)
    e.ok = false;
  return e;
}

}  // namespace tour
