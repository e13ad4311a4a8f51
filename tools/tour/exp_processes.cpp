// The process side of the tour (issues 10 and 11): the shared counter on processes, beside
// the thread race; and gilfree's process-pool variants of the CPU-bound experiments (bad_fib,
// the integration, the word count), which exp_compute.cpp and exp_io.cpp add beside their
// thread variants. Every variant calls the seed programs' own code (examples/.../*.hpp).
// The CPython sides are tools/tour/python/counter_processes.py and the experiments' scripts.
#include <memory>
#include <string>
#include <vector>

#include <gilfree/multiprocessing/sharedctypes.hpp>

#include "000_concurrency_in_python/bad_fib.hpp"
#include "000_concurrency_in_python/shared_counter_processes.hpp"
#include "000_concurrency_in_python/word_count.hpp"
#include "002_threading_multiprocessing/integrate_pool.hpp"
#include "tour.hpp"

// mp::Pool came with issue 11's futures/process.hpp; without it the process rows say so.
#if __has_include(<gilfree/futures/process.hpp>)
#include <cereal/types/unordered_map.hpp>  // a word Counter crosses back from a worker
#include <gilfree/multiprocessing/pool.hpp>
#define TOUR_HAVE_PROCESS_POOL 1
#endif

namespace tour {

// ---- process-pool variants of the CPU-bound experiments ----------------------------------

#ifdef TOUR_HAVE_PROCESS_POOL
namespace {

// A Pool started now (its start-up timed: creation until the first result comes back) and
// kept for the experiment's repetitions, so each timed run is the map alone, as CPython's
// side times `p.map` on a started pool.
std::shared_ptr<gilfree::mp::Pool> started_pool(int processes, double& startup_seconds) {
  const double t0 = now();
  auto pool = std::make_shared<gilfree::mp::Pool>(processes);
  (void)pool->map(fib::recurse, std::vector<int>(processes, 1));  // every worker answered once
  startup_seconds = now() - t0;
  return pool;
}

}  // namespace

ProcessVariant fib_on_processes(int processes, int n, int jobs, std::vector<long>& results) {
  ProcessVariant v;
  auto pool = started_pool(processes, v.startup_seconds);
  v.run = [pool, n, jobs, &results] { results = pool->map(fib::recurse, std::vector<int>(jobs, n)); };
  return v;
}

ProcessVariant integrate_on_processes(int processes, double a, double b, long N, double& value) {
  ProcessVariant v;
  auto pool = started_pool(processes, v.startup_seconds);
  v.run = [pool, processes, a, b, N, &value] {
    value = integrate_pool::pool_integrate(*pool, a, b, N, processes);
  };
  return v;
}

ProcessVariant wordcount_on_processes(int processes, const std::vector<std::string>& urls,
                                      std::unordered_map<std::string, long>& words) {
  ProcessVariant v;
  auto pool = started_pool(processes, v.startup_seconds);
  v.run = [pool, processes, urls, &words] {
    word_count::Counter merged;
    for (const auto& c : pool->map(word_count::scrape_files, word_count::split_chunk(urls, processes)))
      word_count::update(merged, c);
    words = std::move(merged);
  };
  return v;
}
#else
ProcessVariant fib_on_processes(int, int, int, std::vector<long>&) { return {}; }
ProcessVariant integrate_on_processes(int, double, double, long, double&) { return {}; }
ProcessVariant wordcount_on_processes(int, const std::vector<std::string>&,
                                      std::unordered_map<std::string, long>&) {
  return {};
}
#endif

std::string processes_worth(double threads_seconds, double processes_seconds,
                            double startup_seconds) {
  std::string s = fmt("gilfree processes cost %.0f ms to start", startup_seconds * 1e3) +
                  fmt(" and run %.2f× the threads' time", processes_seconds / threads_seconds);
  s += processes_seconds > 1.1 * threads_seconds
           ? ": threads now suffice; processes pay off for isolation (a crash or a leak stays in "
             "its worker), not for speed"
           : ": for work this coarse processes cost little — worth it where a task may crash or "
             "must be killed";
  return s;
}

// ---- the shared counter on processes: seed 000, multiprocessing.Value --------------------

Experiment run_race_processes(const Options& opt) {
  namespace scp = shared_counter_processes;
  Experiment e{.key = "race_procs",
               .title = "a Value counter on 4 processes: lost updates without and with its lock",
               .seed = "seed 000"};
  const int procs = 4;
  const long n = opt.quick ? 20'000 : 50'000;  // per process, the same on both sides
  const long total = procs * n;
  e.gilfree_size = e.cpython_size = std::to_string(procs) + " processes × " +
                                    std::to_string(n) + " increments";

  // As the thread race: the processes only race when they run at the same moment, so the
  // unlocked run is repeated (up to 20 rounds) until something was lost.
  gilfree::mp::Value<long> counter(0);
  bool ok = true, round_ok = true;
  long racy = total;
  double t_racy = 0;
  int rounds = 0;
  while (rounds < 20 && racy == total) {
    ++rounds;
    double t0 = now();
    racy = scp::run(counter, scp::add_racy, procs, n, round_ok);
    t_racy = now() - t0;
    ok = ok && round_ok;
  }
  double t0 = now();
  const long locked = scp::run(counter, scp::add_locked, procs, n, round_ok);
  const double t_locked = now() - t0;
  ok = ok && round_ok;

  auto describe = [&](long value, double seconds) {
    return "lost " + std::to_string(total - value) + " of " + std::to_string(total) +
           fmt(" · %.1f ms", seconds * 1e3);
  };
  e.rows.push_back({"no lock: value += 1", note(describe(racy, t_racy)), {}});
  e.rows.push_back({"with get_lock()", note(describe(locked, t_locked)), {}});
  e.notes.push_back("gilfree without the lock: " + std::to_string(racy) + " of " +
                    std::to_string(total) + " (round " + std::to_string(rounds) +
                    "); with it: " + std::to_string(locked));

  PyRun py = run_python(opt, "counter_processes.py", {std::to_string(procs), std::to_string(n)});
  long p_lost = 0;
  if (py.ran) {
    const long p_racy = long(py.number("unlocked").value_or(-1));
    const long p_locked = long(py.number("locked").value_or(-1));
    p_lost = total - p_racy;
    e.rows[0].cpython.text = describe(p_racy, py.number("unlocked_seconds").value_or(0));
    e.rows[1].cpython.text = describe(p_locked, py.number("locked_seconds").value_or(0));
    ok = ok && p_locked == total;
    e.notes.push_back("CPython without the lock: " + py.text("unlocked") + " of " +
                      std::to_string(total) + "; with it: " + py.text("locked"));
  } else {
    e.rows[0].cpython.text = e.rows[1].cpython.text = py.why;
  }
  e.ok = ok && locked == total && racy <= total;

  std::string lesson = "processes race on shared memory as threads do: without the lock gilfree lost " +
                       std::to_string(total - racy);
  if (racy == total) lesson += " (the processes never overlapped in 20 rounds)";
  if (py.ran) lesson += ", CPython " + std::to_string(p_lost) + " (the GIL is per process: no help)";
  lesson += "; with get_lock() both are exact";
  if (py.ran && py.number("locked_seconds"))
    lesson += fmt(", gilfree's locked run %.0f× faster", *py.number("locked_seconds") / t_locked);
  e.lesson = lesson;
  e.figures = {{"gilfree_lost", double(total - racy)},
               {"gilfree_lost_with_lock", double(total - locked)},
               {"cpython_lost", py.ran ? double(p_lost) : -1}};
  return e;
}

}  // namespace tour
