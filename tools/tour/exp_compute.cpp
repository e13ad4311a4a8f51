// The CPU-bound experiments: bad_fib (seed 000) and the integration of x² (seed 002).
// gilfree's threads run them in parallel; CPython's threads cannot, its processes can.
#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <gilfree/threading.hpp>
#if __has_include(<gilfree/futures.hpp>)
#include <gilfree/futures.hpp>
#define TOUR_HAVE_FUTURES 1
#endif

#include "000_concurrency_in_python/bad_fib.hpp"
#include "002_threading_multiprocessing/integrate_threads.hpp"
#include "tour.hpp"

namespace tour {
namespace {

std::optional<double> speed(const Cell& base, const Cell& c) {
  if (!base.seconds || !c.seconds) return std::nullopt;
  return *base.seconds / *c.seconds;
}

}  // namespace

// ---- bad_fib: seed 000 -------------------------------------------------------------------

// The seed's recurse(n), which bad_fib times (examples/000_concurrency_in_python/bad_fib.hpp).
using fib::recurse;

Experiment run_bad_fib(const Options& opt) {
  Experiment e{.key = "bad_fib",
               .title = "bad_fib(n), several times: sequential vs threads vs processes",
               .seed = "seed 000"};
  const int workers = static_cast<int>(opt.cores);
  const int jobs = 2 * workers;
  // The seed's bad_fib(35) is ~25 ms here: n = 40 makes each parallel variant >= 0.5 s, long
  // enough to measure on a noisy machine.
  const int n = opt.quick ? 27 : 40;
  const int py_n = opt.quick ? 22 : 30;  // CPython: bad_fib(35) takes ~2.5 s, once
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(n) + "), best of " +
                   std::to_string(repeats);
  e.cpython_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(py_n) + "), one run";

  long result = 0;
  std::vector<long> per_thread(jobs), pooled;
  std::vector<std::function<void()>> variants = {
      [&] {
        for (int j = 0; j < jobs; ++j) result = recurse(n);
      },
      // One gilfree Thread per call, as the seed's `for i in range(5): Thread(target=bad_fib)`.
      [&] {
        std::deque<gilfree::Thread> threads;
        for (int j = 0; j < jobs; ++j) threads.emplace_back([&, j] { per_thread[j] = recurse(n); });
        for (auto& t : threads) t.start();
        for (auto& t : threads) t.join();
      }};
#ifdef TOUR_HAVE_FUTURES
  // Python's map over a pool: gilfree's ThreadPoolExecutor, CPython's multiprocessing.Pool.
  variants.push_back([&] {
    gilfree::ThreadPoolExecutor executor({.max_workers = workers});
    pooled.clear();
    for (long r : executor.map(recurse, std::vector<int>(jobs, n))) pooled.push_back(r);
  });
#endif
  // The same jobs on a process Pool (exp_processes.cpp), its repetitions interleaved too.
  std::vector<long> on_processes;
  ProcessVariant procs = fib_on_processes(workers, n, jobs, on_processes);
  if (procs.run) variants.push_back(procs.run);
  auto best = best_interleaved(repeats, variants);
  double seq = best[0], thr = best[1];
  e.ok = std::all_of(per_thread.begin(), per_thread.end(), [&](long r) { return r == result; });

  PyRun py = run_python(opt, "bad_fib.py",
                        {std::to_string(py_n), std::to_string(jobs), std::to_string(workers)});
  e.rows.push_back({"sequential", secs(seq), py_cell(py, "sequential")});
  e.rows.push_back({std::to_string(jobs) + " threads", secs(thr), py_cell(py, "threads")});
#ifdef TOUR_HAVE_FUTURES
  double pool = best[2];
  e.ok = e.ok && pooled.size() == std::size_t(jobs) &&
         std::all_of(pooled.begin(), pooled.end(), [&](long r) { return r == result; });
  e.rows.push_back({"pool of " + std::to_string(workers) + " threads",
                    secs(pool, "ThreadPoolExecutor"), note("—")});
#else
  e.rows.push_back({"pool of " + std::to_string(workers) + " threads", note("(no futures.hpp)"),
                    note("—")});
#endif
  e.rows.push_back({"Pool(" + std::to_string(workers) + ") processes",
                    procs.run ? secs(best.back(), "mp::Pool") : note("(no mp::Pool)"),
                    py_cell(py, "processes")});
  if (procs.run)
    e.ok = e.ok && on_processes.size() == std::size_t(jobs) &&
           std::all_of(on_processes.begin(), on_processes.end(), [&](long r) { return r == result; });
  e.notes.push_back("bad_fib(" + std::to_string(n) + ") = " + std::to_string(result) +
                    (py.ran ? "; CPython bad_fib(" + std::to_string(py_n) + ") = " + py.text("fib")
                            : std::string()));
  std::string lesson;
  if (py.ran) {
    double st = *speed(e.rows[0].cpython, e.rows[1].cpython);
    lesson = "CPython threads: " + ratio(st) + gil_note(st) + "; CPython processes: " +
             ratio(*speed(e.rows[0].cpython, e.rows.back().cpython)) + "; ";
  }
  lesson += "gilfree threads: " + ratio(seq / thr);
  if (auto s = speed(e.rows[0].gilfree, e.rows[2].gilfree)) lesson += ", pool: " + ratio(*s);
  if (procs.run) {
    lesson += ", processes: " + ratio(seq / best.back()) + ". " +
              processes_worth(std::min(thr, e.rows[2].gilfree.seconds.value_or(thr)),
                              best.back(), procs.startup_seconds);
    e.figures["gilfree_processes_startup"] = procs.startup_seconds;
  }
  e.lesson = lesson;
  return e;
}

// ---- integrate x² on [0, 10]: seed 002 ---------------------------------------------------

// integrate_threads:: is the seed program's own code (examples/002_threading_multiprocessing/
// integrate_threads.hpp); its threading_integrate sums the chunks in order, so every run (and
// CPython's) adds the same numbers in the same order.
Experiment run_integrate(const Options& opt) {
  Experiment e{.key = "integrate",
               .title = "integrate x² on [0, 10]: sequential vs threads vs processes",
               .seed = "seed 002"};
  const double a = 0.0, b = 10.0;
  // CPython runs the seed's N = 10**8 (its runs still fit the tour's two minutes); gilfree
  // runs 3.5·10**8 per core, so that each parallel variant takes >= 0.5 s, long enough to
  // measure on a noisy machine. gilfree's sums at CPython's N are checked bit for bit.
  const long py_N = opt.quick ? 100'000 : 100'000'000;
  const long N = opt.quick ? 100'000 : 350'000'000L * std::max(2u, opt.cores);
  const int repeats = opt.quick ? 1 : 3;
  const int procs = static_cast<int>(opt.cores);
  e.gilfree_size = "N = " + std::to_string(N) + ", best of " + std::to_string(repeats);
  e.cpython_size = "N = " + std::to_string(py_N) + ", one run";

  std::vector<int> counts;
  for (int c = 1; c <= static_cast<int>(2 * opt.cores); c *= 2) counts.push_back(c);
  std::vector<int> py_counts = {1, std::min(2, procs)};
  if (py_counts[1] == 1) py_counts.pop_back();
  std::string py_list;
  for (int c : py_counts) {
    if (!py_list.empty()) py_list += ',';
    py_list += std::to_string(c);
  }

  double value = 0;
  std::vector<double> values(counts.size());
  std::vector<std::function<void()>> variants = {
      [&] { value = integrate_threads::integrate(integrate_threads::f, a, b, N); }};
  for (std::size_t k = 0; k < counts.size(); ++k)
    variants.push_back([&, k] {
      values[k] =
          integrate_threads::threading_integrate(integrate_threads::f, a, b, N, counts[k]);
    });
  // The same chunks on a process Pool (exp_processes.cpp), its repetitions interleaved too.
  double on_processes = 0;
  ProcessVariant pool = integrate_on_processes(procs, a, b, N, on_processes);
  if (pool.run) variants.push_back(pool.run);
  auto best = best_interleaved(repeats, variants);
  double seq = best[0];
  PyRun py = run_python(opt, "integrate.py", {std::to_string(py_N), py_list, std::to_string(procs)});
  e.rows.push_back({"sequential", secs(seq), py_cell(py, "sequential")});

  auto same = [](double x, std::optional<double> y) {
    return y && std::fabs(x - *y) <= 1e-12 * std::fabs(x);
  };
  using integrate_threads::f;
  if (py.ran) e.ok = same(integrate_threads::integrate(f, a, b, py_N), py.number("value"));
  std::string shown = fmt("sequential %.6f", value);
  for (std::size_t k = 0; k < counts.size(); ++k) {
    int c = counts[k];
    double v = values[k], t = best[k + 1];
    std::string key = "threads_" + std::to_string(c);
    Row r{std::to_string(c) + (c == 1 ? " thread" : " threads"), secs(t), py_cell(py, key)};
    if (py.ran && py.number(key))
      e.ok = e.ok && same(integrate_threads::threading_integrate(f, a, b, py_N, c),
                          py.number(key + "_value"));
    if (c == procs && pool.run) e.ok = e.ok && on_processes == v;  // the same chunks, summed alike
    e.rows.push_back(r);
    shown += fmt(c == counts.front() ? ", threads %.6f" : " / %.6f", v);
  }
  e.rows.push_back({"Pool(" + std::to_string(procs) + ") processes",
                    pool.run ? secs(best.back(), "mp::Pool") : note("(no mp::Pool)"),
                    py_cell(py, "processes_" + std::to_string(procs))});
  if (pool.run) shown += fmt(", Pool %.6f", on_processes);
  e.notes.push_back("gilfree: " + shown + (e.ok ? "" : "  MISMATCH"));
  if (py.ran)
    e.notes.push_back("CPython: " + fmt("sequential %.6f", py.number("value").value_or(NAN)) +
                      " — the same sums bit for bit: " + (e.ok ? "yes" : "NO"));

  std::string lesson;
  auto find = [&](const std::string& v) -> const Row* {
    for (const auto& r : e.rows)
      if (r.variant == v) return &r;
    return nullptr;
  };
  const Row* two = find(std::to_string(std::min(2, procs)) + (procs >= 2 ? " threads" : " thread"));
  if (py.ran && two) {
    if (auto s = speed(e.rows[0].cpython, two->cpython)) lesson += "CPython 2 threads: " + ratio(*s) + gil_note(*s) + "; ";
    if (auto s = speed(e.rows[0].cpython, e.rows.back().cpython)) lesson += "processes: " + ratio(*s) + "; ";
  }
  if (two)
    if (auto s = speed(e.rows[0].gilfree, two->gilfree)) lesson += "gilfree 2 threads: " + ratio(*s);
  if (pool.run) {
    lesson += ", Pool(" + std::to_string(procs) + "): " + ratio(seq / best.back());
    double thr = 1e300;  // the best thread row
    for (std::size_t k = 0; k < counts.size(); ++k) thr = std::min(thr, best[k + 1]);
    lesson += ". " + processes_worth(thr, best.back(), pool.startup_seconds);
    e.figures["gilfree_processes_startup"] = pool.startup_seconds;
  }
  if (py.ran && e.rows[0].cpython.seconds)
    lesson += "; gilfree sequential is " +
              ratio(*e.rows[0].cpython.seconds / py_N / (seq / N)) + " faster than CPython's per step";
  e.lesson = lesson;
  e.figures["N"] = double(N);
  e.figures["value"] = value;
  return e;
}

}  // namespace tour

// ---- --scaling: thread-count scaling of the integration and of bad_fib ---------------------

namespace tour {
namespace {

std::vector<int> scaling_counts(const Options& opt) {
  int top = opt.scaling_max > 0 ? opt.scaling_max : static_cast<int>(opt.cores);
  std::vector<int> counts;
  for (int k = 1; k < top; k *= 2) counts.push_back(k);
  counts.push_back(top);
  return counts;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int k : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(k);
  }
  return s;
}

// Rows "sequential", then per k "k threads" and "k processes" (both sides; gilfree's process
// times are g[counts.size() + 1 + i] when g has them).
void fill_scaling(Experiment& e, const std::vector<int>& counts, const std::vector<double>& g,
                  const PyRun& py) {
  const bool procs = g.size() == 2 * counts.size() + 1;
  e.rows.push_back({"sequential", secs(g[0]), py_cell(py, "sequential")});
  for (std::size_t i = 0; i < counts.size(); ++i) {
    std::string k = std::to_string(counts[i]);
    e.rows.push_back({k + (counts[i] == 1 ? " thread" : " threads"), secs(g[i + 1]),
                      py_cell(py, "threads_" + k)});
    e.rows.push_back({k + (counts[i] == 1 ? " process" : " processes"),
                      procs ? secs(g[counts.size() + 1 + i], "mp::Pool") : note("—"),
                      py_cell(py, "processes_" + k)});
  }
  const Row& last = e.rows[e.rows.size() - 2];
  std::string lesson = "at " + std::to_string(counts.back()) + " threads gilfree: " +
                       ratio(*e.rows[0].gilfree.seconds / *last.gilfree.seconds);
  if (procs) lesson += ", gilfree processes: " + ratio(*e.rows[0].gilfree.seconds / g.back());
  if (auto s = speed(e.rows[0].cpython, last.cpython)) lesson += ", CPython threads: " + ratio(*s);
  if (auto s = speed(e.rows[0].cpython, e.rows.back().cpython)) lesson += ", CPython processes: " + ratio(*s);
  e.lesson = lesson;
}

}  // namespace

Experiment run_scale_integrate(const Options& opt) {
  Experiment e{.key = "scale_integrate", .title = "scaling: integrate x² on 1…k threads",
               .seed = "seed 002"};
  auto counts = scaling_counts(opt);
  // 3.5·10**8 steps per worker at the top count: its variant still runs >= 0.5 s.
  const long N = opt.quick ? 1'000'000 : 350'000'000L * counts.back();
  const long py_N = opt.quick ? 100'000 : 10'000'000;
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = "N = " + std::to_string(N) + ", best of " + std::to_string(repeats);
  e.cpython_size = "N = " + std::to_string(py_N) + ", one run";
  double sink = 0;  // results are kept, so the optimizer keeps the work
  std::vector<std::function<void()>> variants = {
      [&] { sink += integrate_threads::integrate(integrate_threads::f, 0.0, 10.0, N); }};
  for (int k : counts)
    variants.push_back([&, k] {
      sink += integrate_threads::threading_integrate(integrate_threads::f, 0.0, 10.0, N, k);
    });
  std::vector<double> on_processes(counts.size());  // Pool(k) per k (exp_processes.cpp)
  for (std::size_t i = 0; i < counts.size(); ++i) {
    ProcessVariant p = integrate_on_processes(counts[i], 0.0, 10.0, N, on_processes[i]);
    if (p.run) variants.push_back(p.run);
  }
  auto g = best_interleaved(repeats, variants);
  e.ok = sink > 0;
  for (double v : on_processes) e.ok = e.ok && v > 0;
  PyRun py = run_python(opt, "scaling.py", {"integrate", std::to_string(py_N), join(counts)});
  fill_scaling(e, counts, g, py);
  return e;
}

Experiment run_scale_fib(const Options& opt) {
  Experiment e{.key = "scale_fib", .title = "scaling: bad_fib jobs on a pool of 1…k workers",
               .seed = "seed 000"};
  auto counts = scaling_counts(opt);
  const int jobs = 2 * counts.back();
  // n = 40: each job ~0.25 s, so the top count's variant still runs >= 0.5 s.
  const int n = opt.quick ? 22 : 40, py_n = opt.quick ? 18 : 25;
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(n) + "), best of " +
                   std::to_string(repeats);
  e.cpython_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(py_n) + "), one run";
  long sink = 0;  // results are kept, so the optimizer keeps the work
  std::vector<std::function<void()>> variants = {[&] {
    for (int j = 0; j < jobs; ++j) sink += recurse(n);
  }};
  const long one = recurse(n);  // the checks' expectation, outside the timed runs
#ifdef TOUR_HAVE_FUTURES
  const long expected = jobs * one;
  for (int k : counts)
    variants.push_back([&, k] {
      gilfree::ThreadPoolExecutor executor({.max_workers = k});
      long sum = 0;
      for (long r : executor.map(recurse, std::vector<int>(jobs, n))) sum += r;
      e.ok = e.ok && sum == expected;
    });
#endif
  std::vector<std::vector<long>> on_processes(counts.size());  // Pool(k) per k
  for (std::size_t i = 0; i < counts.size(); ++i) {
    ProcessVariant p = fib_on_processes(counts[i], n, jobs, on_processes[i]);
    if (p.run) variants.push_back(p.run);
  }
  auto g = best_interleaved(repeats, variants);
  for (const auto& r : on_processes)
    e.ok = e.ok && r.size() == std::size_t(jobs) &&
           std::all_of(r.begin(), r.end(), [&](long x) { return x == one; });
  PyRun py = run_python(opt, "scaling.py", {"bad_fib", std::to_string(py_n), std::to_string(jobs), join(counts)});
  fill_scaling(e, counts, g, py);
  return e;
}

}  // namespace tour
