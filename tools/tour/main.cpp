// gilfree-tour — the main job (`make tour`): the seed programs' experiments rerun on gilfree,
// each side by side with the same program in CPython, run live.
//
//   gilfree-tour [--quick] [--json FILE] [--only KEY,...] [--scaling [K]]
//                [--python EXE | --no-python] [--verbose]
//
// Exits non-zero when a result fails its check (sums differ, a locked count is off, ...).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "tour.hpp"

#ifndef TOUR_PYTHON_DIR
#define TOUR_PYTHON_DIR "tools/tour/python"
#endif

namespace {

std::string find_on_path(const std::string& exe) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::filesystem::path p = std::filesystem::path(dir.empty() ? "." : dir) / exe;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

void usage() {
  std::puts(
      "usage: gilfree-tour [--quick] [--json FILE] [--only KEY,...] [--scaling [K]]\n"
      "                    [--python EXE | --no-python] [--verbose]\n"
      "Reruns the seed programs' experiments on gilfree and, side by side, in CPython.\n"
      "  --quick       small sizes (seconds, for the smoke test)\n"
      "  --json FILE   also write every figure to FILE (tools/plots/ draws them)\n"
      "  --only KEYS   run only these: race,race_procs,queue,count,bad_fib,integrate,flags,\n"
      "                wordcount,integrate_mpi,scale_integrate,scale_fib\n"
      "  --scaling [K] also run the thread-count scaling (1, 2, 4, ... K threads; default K:\n"
      "                the hardware threads) of the integration and of bad_fib\n"
      "  --python EXE  the CPython to compare with (default: python3 on PATH)\n"
      "  --no-python   gilfree side only\n"
      "  --verbose     also show what each CPython program printed");
}

}  // namespace

int main(int argc, char** argv) {
  tour::Options opt;
  bool no_python = false;
  opt.cores = std::max(1u, std::thread::hardware_concurrency());
  opt.python = find_on_path("python3");
  const char* pydir = std::getenv("GILFREE_TOUR_PYDIR");
  opt.python_dir = pydir ? pydir : TOUR_PYTHON_DIR;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gilfree-tour: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--quick") opt.quick = true;
    else if (a == "--verbose" || a == "-v") opt.verbose = true;
    else if (a == "--json") opt.json_path = value();
    else if (a == "--python") opt.python = value();
    else if (a == "--no-python") {
      opt.python.clear();
      no_python = true;
    }
    else if (a == "--scaling") {
      opt.scaling = true;
      if (i + 1 < argc && std::isdigit(static_cast<unsigned char>(argv[i + 1][0])))
        opt.scaling_max = std::atoi(argv[++i]);
    }
    else if (a == "--only") {
      std::istringstream keys(value());
      for (std::string k; std::getline(keys, k, ',');) opt.only.push_back(k);
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "gilfree-tour: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (!opt.python.empty() && !std::filesystem::exists(opt.python_dir + "/count.py")) {
    std::fprintf(stderr, "gilfree-tour: CPython programs not found in %s (set GILFREE_TOUR_PYDIR)\n",
                 opt.python_dir.c_str());
    opt.python.clear();
  }

  std::string pyver = tour::python_version(opt);
  if (pyver.empty()) opt.python.clear();
  std::string python_label = !pyver.empty() ? pyver
                             : no_python     ? "CPython (--no-python: not run)"
                                             : "CPython (no python3 found: not run)";

  std::printf("gilfree-tour — the seed programs on gilfree, side by side with %s%s\n",
              python_label.c_str(), opt.quick ? " (--quick: small sizes)" : "");
  std::printf("%u hardware threads. Times are wall clock; speed-ups are against each side's own\n"
              "sequential run. Sizes differ between the sides only where CPython would take\n"
              "minutes at gilfree's size; each block says what ran.\n",
              opt.cores);
  std::string load = tour::load_average();
  if (!load.empty())
    std::printf("Load average now: %s on %u hardware threads%s\n", load.c_str(), opt.cores,
                std::atof(load.c_str()) > 0.5 * opt.cores
                    ? " — other work competes for the cores, and caps"
                                                " every speed-up below" : "");

  using Runner = std::function<tour::Experiment(const tour::Options&)>;
  const std::vector<std::pair<std::string, Runner>> all = {
      {"race", tour::run_race},           {"race_procs", tour::run_race_processes},
      {"queue", tour::run_message_queue},
      {"count", tour::run_count},         {"bad_fib", tour::run_bad_fib},
      {"integrate", tour::run_integrate}, {"flags", tour::run_flags},
      {"wordcount", tour::run_wordcount},
      {"integrate_mpi", tour::run_integrate_mpi},
      {"scale_integrate", tour::run_scale_integrate}, {"scale_fib", tour::run_scale_fib},
  };
  std::vector<tour::Experiment> done;
  double t0 = tour::now();
  for (const auto& [key, runner] : all) {
    bool scaling_run = key.rfind("scale_", 0) == 0;
    if (!opt.only.empty() ? std::find(opt.only.begin(), opt.only.end(), key) == opt.only.end()
                          : scaling_run && !opt.scaling)
      continue;
    done.push_back(runner(opt));
    tour::print_experiment(done.back(), python_label);
  }
  double total = tour::now() - t0;
  tour::print_summary(done);

  int failed = 0;
  for (const auto& e : done) failed += !e.ok;
  std::printf("\nTour finished in %.1f s: %zu experiments, %d failed their checks.\n", total,
              done.size(), failed);
  if (!opt.json_path.empty()) {
    tour::write_json(opt.json_path, opt, python_label, done, total);
    std::printf("Figures written to %s\n", opt.json_path.c_str());
  }
  return failed ? 1 : 0;
}
