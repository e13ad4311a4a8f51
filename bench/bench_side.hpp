// bench_side.hpp — the side-by-side harness of the process benchmarks (bench_mp_objects,
// bench_mp_pools): repetitions of every variant interleaved round by round (a noisy spell
// on the 2 shared cores then hits every variant alike), best and median kept, and
// CPython's variants run as `python3 bench/py_mp_peers.py CASE ARGS...`, one timed run per
// call, inside the same rounds.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#ifndef GILFREE_BENCH_DIR
#define GILFREE_BENCH_DIR "bench"
#endif

namespace bench_side {

// Seconds on the steady clock.
inline double now() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The timed runs of one variant; a failed run is recorded as a negative time.
struct Series {
  std::string name;
  double per_run = 1;  // operations per run: figures are reported per operation
  std::vector<double> seconds;
  bool failed = false;
  // The fastest run (seconds), or 0 when none succeeded.
  double best() const {
    double b = 0;
    for (double s : seconds)
      if (s > 0 && (b == 0 || s < b)) b = s;
    return b;
  }
  // The median of the successful runs.
  double median() const {
    std::vector<double> ok;
    for (double s : seconds)
      if (s > 0) ok.push_back(s);
    if (ok.empty()) return 0;
    std::sort(ok.begin(), ok.end());
    return ok[ok.size() / 2];
  }
};

// One variant: a name, operations per run, and the timed run (returns seconds, or a
// negative number when the run failed its check).
struct Variant {
  std::string name;
  double ops;
  std::function<double()> run;
};

// Runs `rounds` rounds of every variant in turn; returns their series in order.
inline std::vector<Series> interleave(int rounds, const std::vector<Variant>& variants) {
  std::vector<Series> out(variants.size());
  for (std::size_t v = 0; v < variants.size(); ++v) {
    out[v].name = variants[v].name;
    out[v].per_run = variants[v].ops;
  }
  for (int r = 0; r < rounds; ++r)
    for (std::size_t v = 0; v < variants.size(); ++v) {
      const double s = variants[v].run();
      out[v].seconds.push_back(s);
      if (s <= 0) out[v].failed = true;
    }
  return out;
}

// The python3 to run (GILFREE_BENCH_PYTHON overrides) and the peers script.
inline std::string python() {
  const char* p = std::getenv("GILFREE_BENCH_PYTHON");
  return p ? p : "python3";
}
inline std::string peers_script() {
  const char* d = std::getenv("GILFREE_BENCH_DIR");
  return std::string(d ? d : GILFREE_BENCH_DIR) + "/py_mp_peers.py";
}

// Runs `python3 py_mp_peers.py args` once; its RESULT seconds, or -1 when it failed.
inline double cpython(const std::string& args) {
  const std::string cmd = python() + " " + peers_script() + " " + args + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return -1;
  double s = -1;
  char line[512];
  std::string all;
  while (std::fgets(line, sizeof line, f)) {
    all += line;
    double v;
    if (std::sscanf(line, "RESULT seconds %lf", &v) == 1) s = v;
  }
  if (::pclose(f) != 0 || s <= 0) {
    std::fprintf(stderr, "!! %s failed:\n%s\n", cmd.c_str(), all.c_str());
    return -1;
  }
  return s;
}

// The variant of a CPython case.
inline Variant cpython_variant(std::string name, double ops, std::string args) {
  return {std::move(name), ops, [args] { return cpython(args); }};
}

// "12.3 ns" / "4.56 µs" / "7.89 ms" per operation.
inline std::string per_op(double seconds) {
  char b[32];
  if (seconds < 1e-6) std::snprintf(b, sizeof b, "%.1f ns", seconds * 1e9);
  else if (seconds < 1e-3) std::snprintf(b, sizeof b, "%.2f µs", seconds * 1e6);
  else std::snprintf(b, sizeof b, "%.2f ms", seconds * 1e3);
  return b;
}
// "1.23 M/s" operations per second.
inline std::string rate(double ops_per_s) {
  char b[32];
  if (ops_per_s >= 1e6) std::snprintf(b, sizeof b, "%.2f M/s", ops_per_s / 1e6);
  else if (ops_per_s >= 1e3) std::snprintf(b, sizeof b, "%.1f k/s", ops_per_s / 1e3);
  else std::snprintf(b, sizeof b, "%.1f /s", ops_per_s);
  return b;
}

// Prints one line per series: best and median per operation and as a rate, and the ratio
// of each series' best to the first series' (above 1: the first, gilfree, is faster).
inline void report(const std::string& title, const std::vector<Series>& s) {
  std::printf("\n%s\n", title.c_str());
  std::printf("  %-44s %12s %12s %12s  %s\n", "variant", "best/op", "median/op", "best rate",
              "first's speed-up over it");
  const double base = s.empty() ? 0 : s[0].best() / s[0].per_run;
  for (const auto& x : s) {
    const double b = x.best() / x.per_run, m = x.median() / x.per_run;
    if (x.best() <= 0) {
      std::printf("  %-44s %12s\n", x.name.c_str(), "FAILED");
      continue;
    }
    char speedup[32] = "-";
    if (&x != &s[0] && base > 0) std::snprintf(speedup, sizeof speedup, "%.2fx", b / base);
    std::printf("  %-44s %12s %12s %12s  %s\n", x.name.c_str(), per_op(b).c_str(),
                per_op(m).c_str(), rate(1 / b).c_str(), speedup);
  }
  std::fflush(stdout);
}

// Reads "--name=value" from argv (Google Benchmark's flags, which run_all.sh passes to
// every bench program, are ignored); `fallback` when absent.
inline long flag(int argc, char** argv, const char* name, long fallback) {
  const std::size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--", 2) == 0 && std::strncmp(argv[i] + 2, name, len) == 0 &&
        argv[i][2 + len] == '=')
      return std::atol(argv[i] + 3 + len);
  return fallback;
}

// The header line of a run: CPUs and load, so figures can be judged.
inline void banner(const char* program) {
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("%s: %ld CPUs, load average %.2f %.2f %.2f; CPython = %s\n", program,
              ::sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2], python().c_str());
}

}  // namespace bench_side
