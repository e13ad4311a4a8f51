// gilfree-tour: the seeds' experiments rerun on gilfree, side by side with the same programs
// in CPython (tools/tour/python/*.py, run live with the python3 on PATH).
//
// Each experiment fills one Experiment: a few rows ("sequential", "2 threads", ...) with a
// gilfree cell and a CPython cell each, the sizes each side used, a check of the results,
// and the seed's lesson restated from the measured numbers.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tour {

// Command-line settings.
struct Options {
  bool quick = false;        // --quick: small sizes, for the smoke test
  bool verbose = false;      // --verbose: echo the CPython programs' own output
  std::string json_path;     // --json FILE
  std::string python;        // --python EXE, or python3 from PATH; empty when none found
  std::string python_dir;    // where count.py & co live
  std::vector<std::string> only;  // experiment keys to run (all when empty)
  unsigned cores = 2;        // hardware threads
  int scaling_max = 0;       // --scaling [K]: also the scaling runs up to K threads (0: off)
  bool scaling = false;
};

// One side's figure for a row: a time (speed-up is computed against the experiment's first
// row) and/or a text shown instead of the time (counts, "not run", ...).
struct Cell {
  std::optional<double> seconds;
  std::string text;
};
// A cell with a time.
inline Cell secs(double s, std::string text = {}) {
  Cell c;
  c.seconds = s;
  c.text = std::move(text);
  return c;
}
// A cell with only a text.
inline Cell note(std::string text) {
  Cell c;
  c.text = std::move(text);
  return c;
}

struct Row {
  std::string variant;  // "sequential", "2 threads", "Pool(2) processes", ...
  Cell gilfree, cpython;
};

struct Experiment {
  std::string key;    // short name: count, bad_fib, integrate, flags, wordcount, race, queue
  std::string title;  // the seed program, e.g. "Beazley's count(n), twice"
  std::string seed;   // which seed it comes from
  std::string gilfree_size, cpython_size;  // the sizes each side ran
  std::vector<Row> rows;
  std::vector<std::string> notes;  // results and checks, printed under the rows
  std::string lesson;              // restated from the numbers
  bool ok = true;                  // the results checked out (equal sums, exact counts...)
  std::map<std::string, double> figures;  // extra numbers for --json
};

// The outcome of running one CPython program.
struct PyRun {
  bool ran = false;                              // false: no python3, or it failed
  std::string why;                               // why not, when !ran
  std::map<std::string, std::string> results;    // its RESULT lines
  std::string output;                            // everything it printed
  // The RESULT `key` as a number; nullopt when absent.
  std::optional<double> number(const std::string& key) const;
  std::string text(const std::string& key) const;
};

// The CPython cell for RESULT `key`: its time, or why it has none (the run failed, or the
// program did not run that variant: "not run").
Cell py_cell(const PyRun& py, const std::string& key);

// Finds python3 (or honours --python) and reports its version ("" when none).
std::string python_version(const Options& opt);
// Runs `python3 DIR/script args...` and collects its RESULT lines.
PyRun run_python(const Options& opt, const std::string& script,
                 const std::vector<std::string>& args);

// The experiments, each running its gilfree side and then its CPython side.
Experiment run_count(const Options& opt);
Experiment run_bad_fib(const Options& opt);
Experiment run_integrate(const Options& opt);
Experiment run_flags(const Options& opt);
Experiment run_wordcount(const Options& opt);
Experiment run_race(const Options& opt);
Experiment run_message_queue(const Options& opt);
// The integration on MPI ranks beside threads (exp_mpi.cpp; says so when built without MPI).
Experiment run_integrate_mpi(const Options& opt);

// Processes (exp_processes.cpp): the Value counter race on 4 processes.
Experiment run_race_processes(const Options& opt);

// A gilfree process-pool variant of a CPU-bound experiment (exp_processes.cpp): `run` maps
// the seed's work on a Pool started beforehand (empty when this build has no mp::Pool);
// startup_seconds is that Pool's creation until its first result.
struct ProcessVariant {
  std::function<void()> run;
  double startup_seconds = 0;
};
// jobs × fib::recurse(n) with Pool(processes).map; the results into `results`.
ProcessVariant fib_on_processes(int processes, int n, int jobs, std::vector<long>& results);
// The integral of x² on [a, b], N steps in `processes` chunks (integrate_pool.hpp).
ProcessVariant integrate_on_processes(int processes, double a, double b, long N, double& value);
// The word count of `urls` split among `processes` workers, merged into `words`.
ProcessVariant wordcount_on_processes(int processes, const std::vector<std::string>& urls,
                                      std::unordered_map<std::string, long>& words);
// The lesson's clause on processes: their start-up, their time against the threads', and
// when they are worth that cost.
std::string processes_worth(double threads_seconds, double processes_seconds,
                            double startup_seconds);
// --scaling only: thread counts 1, 2, 4, ... up to K, both sides.
Experiment run_scale_integrate(const Options& opt);
Experiment run_scale_fib(const Options& opt);

// Output.
void print_experiment(const Experiment& e, const std::string& python_label);
void print_summary(const std::vector<Experiment>& all);
void write_json(const std::string& path, const Options& opt, const std::string& python_label,
                const std::vector<Experiment>& all, double total_seconds);

// Small helpers shared by the experiments.
double now();                                     // steady seconds
std::string fmt(const char* format, double v);    // snprintf to a string
std::string ratio(double x);                      // "1.97×"
// " — the GIL" when CPython threads gained nothing (< 1.3×), else "": a busy machine can
// make any ratio noisy, and the lesson should not claim what the numbers do not show.
std::string gil_note(double cpython_thread_speedup);
// The 1-minute load average ("" when unknown): other work competing for the cores.
std::string load_average();
// Best (smallest) wall time of `repeats` calls of fn.
template <class F>
double best_of(int repeats, F&& fn) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    double t0 = now();
    fn();
    double t = now() - t0;
    if (t < best) best = t;
  }
  return best;
}

// Best (smallest) wall time of each of `fns`, over `repeats` rounds that run them in turn:
// on a noisy machine a slow spell then hits every variant alike, not one.
std::vector<double> best_interleaved(int repeats, const std::vector<std::function<void()>>& fns);

}  // namespace tour
