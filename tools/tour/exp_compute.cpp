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
  Experiment e{.key = "bad_fib", .title = "bad_fib(n), several times: sequential vs threads vs a pool",
               .seed = "seed 000"};
  const int workers = static_cast<int>(opt.cores);
  const int jobs = 2 * workers;
  const int n = opt.quick ? 27 : 35;     // the seed's bad_fib(35)
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
  e.rows.push_back({"pool of " + std::to_string(workers), secs(pool, "ThreadPoolExecutor"),
                    py_cell(py, "processes")});
  e.rows.back().cpython.text = "processes";
#else
  e.rows.push_back({"pool of " + std::to_string(workers), note("(no futures.hpp)"),
                    py_cell(py, "processes")});
#endif
  e.notes.push_back("bad_fib(" + std::to_string(n) + ") = " + std::to_string(result) +
                    (py.ran ? "; CPython bad_fib(" + std::to_string(py_n) + ") = " + py.text("fib")
                            : std::string()));
  std::string lesson;
  if (py.ran) {
    double st = *speed(e.rows[0].cpython, e.rows[1].cpython);
    lesson = "CPython threads: " + ratio(st) + gil_note(st) + "; CPython processes: " +
             ratio(*speed(e.rows[0].cpython, e.rows[2].cpython)) + "; ";
  }
  lesson += "gilfree threads: " + ratio(seq / thr);
  if (auto s = speed(e.rows[0].gilfree, e.rows[2].gilfree)) lesson += ", pool: " + ratio(*s);
  e.lesson = lesson;
  return e;
}

// ---- integrate x² on [0, 10]: seed 002 ---------------------------------------------------

// integrate_threads:: is the seed program's own code (examples/002_threading_multiprocessing/
// integrate_threads.hpp); its threading_integrate sums the chunks in order, so every run (and
// CPython's) adds the same numbers in the same order.
Experiment run_integrate(const Options& opt) {
  Experiment e{.key = "integrate", .title = "integrate x² on [0, 10]: sequential vs threads",
               .seed = "seed 002"};
  const double a = 0.0, b = 10.0;
  // The seed's N = 10**8, the same on both sides: large enough that starting the threads
  // (tens of microseconds) does not hide gilfree's speed-up, while CPython's three runs
  // still fit the tour's two minutes.
  const long N = opt.quick ? 100'000 : 100'000'000;
  const int repeats = opt.quick ? 1 : 3;
  const int procs = static_cast<int>(opt.cores);
  e.gilfree_size = "N = " + std::to_string(N) + ", best of " + std::to_string(repeats);
  e.cpython_size = "N = " + std::to_string(N) + ", one run";

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
  auto best = best_interleaved(repeats, variants);
  double seq = best[0];
  PyRun py = run_python(opt, "integrate.py", {std::to_string(N), py_list, std::to_string(procs)});
  e.rows.push_back({"sequential", secs(seq), py_cell(py, "sequential")});

  auto same = [](double x, std::optional<double> y) {
    return y && std::fabs(x - *y) <= 1e-12 * std::fabs(x);
  };
  if (py.ran) e.ok = same(value, py.number("value"));
  std::string shown = fmt("sequential %.6f", value);
  for (std::size_t k = 0; k < counts.size(); ++k) {
    int c = counts[k];
    double v = values[k], t = best[k + 1];
    std::string key = "threads_" + std::to_string(c);
    Row r{std::to_string(c) + (c == 1 ? " thread" : " threads"), secs(t), py_cell(py, key)};
    if (py.ran && py.number(key)) e.ok = e.ok && same(v, py.number(key + "_value"));
    e.rows.push_back(r);
    shown += fmt(c == counts.front() ? ", threads %.6f" : " / %.6f", v);
  }
  e.rows.push_back({"Pool(" + std::to_string(procs) + ") processes", note("(threads suffice)"),
                    py_cell(py, "processes_" + std::to_string(procs))});
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
  if (py.ran && e.rows[0].cpython.seconds)
    lesson += "; gilfree sequential is " + ratio(*e.rows[0].cpython.seconds / seq) +
              " faster than CPython's on the same N";
  e.lesson = lesson;
  e.figures = {{"N", double(N)}, {"value", value}};
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

// Rows "sequential", then per k "k threads" (both sides) and "k processes" (CPython).
void fill_scaling(Experiment& e, const std::vector<int>& counts, const std::vector<double>& g,
                  const PyRun& py) {
  e.rows.push_back({"sequential", secs(g[0]), py_cell(py, "sequential")});
  for (std::size_t i = 0; i < counts.size(); ++i) {
    std::string k = std::to_string(counts[i]);
    e.rows.push_back({k + (counts[i] == 1 ? " thread" : " threads"), secs(g[i + 1]),
                      py_cell(py, "threads_" + k)});
    e.rows.push_back({k + (counts[i] == 1 ? " process" : " processes"), note("—"),
                      py_cell(py, "processes_" + k)});
  }
  const Row& last = e.rows[e.rows.size() - 2];
  std::string lesson = "at " + std::to_string(counts.back()) + " threads gilfree: " +
                       ratio(*e.rows[0].gilfree.seconds / *last.gilfree.seconds);
  if (auto s = speed(e.rows[0].cpython, last.cpython)) lesson += ", CPython threads: " + ratio(*s);
  if (auto s = speed(e.rows[0].cpython, e.rows.back().cpython)) lesson += ", CPython processes: " + ratio(*s);
  e.lesson = lesson;
}

}  // namespace

Experiment run_scale_integrate(const Options& opt) {
  Experiment e{.key = "scale_integrate", .title = "scaling: integrate x² on 1…k threads",
               .seed = "seed 002"};
  auto counts = scaling_counts(opt);
  const long N = opt.quick ? 1'000'000 : 100'000'000;  // the seed's N = 10**8
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
  auto g = best_interleaved(repeats, variants);
  g.resize(counts.size() + 1);
  e.ok = sink > 0;
  PyRun py = run_python(opt, "scaling.py", {"integrate", std::to_string(py_N), join(counts)});
  fill_scaling(e, counts, g, py);
  return e;
}

Experiment run_scale_fib(const Options& opt) {
  Experiment e{.key = "scale_fib", .title = "scaling: bad_fib jobs on a pool of 1…k workers",
               .seed = "seed 000"};
  auto counts = scaling_counts(opt);
  const int jobs = 2 * counts.back();
  const int n = opt.quick ? 22 : 32, py_n = opt.quick ? 18 : 25;
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(n) + "), best of " +
                   std::to_string(repeats);
  e.cpython_size = std::to_string(jobs) + " × bad_fib(" + std::to_string(py_n) + "), one run";
  long sink = 0;  // results are kept, so the optimizer keeps the work
  std::vector<std::function<void()>> variants = {[&] {
    for (int j = 0; j < jobs; ++j) sink += recurse(n);
  }};
#ifdef TOUR_HAVE_FUTURES
  for (int k : counts)
    variants.push_back([&, k] {
      gilfree::ThreadPoolExecutor executor({.max_workers = k});
      long sum = 0;
      for (long r : executor.map(recurse, std::vector<int>(jobs, n))) sum += r;
      e.ok = e.ok && sum == jobs * recurse(n);
    });
#endif
  auto g = best_interleaved(repeats, variants);
  g.resize(counts.size() + 1);
  PyRun py = run_python(opt, "scaling.py", {"bad_fib", std::to_string(py_n), std::to_string(jobs), join(counts)});
  fill_scaling(e, counts, g, py);
  return e;
}

}  // namespace tour
