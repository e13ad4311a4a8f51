// The thread experiments of the tour: Beazley's count(n), the JobQueue race, and the counter
// behind a message queue. Each gilfree side mirrors its seed program's names; the CPython
// side is tools/tour/python/<name>.py.
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#if __has_include(<gilfree/queue.hpp>)
#include "000_concurrency_in_python/counter_message_queue.hpp"
#define TOUR_HAVE_QUEUE 1
#endif
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/threading.hpp>

#include "000_concurrency_in_python/job_queue_race.hpp"
#include "tour.hpp"

namespace tour {

// ---- count(n): seed 001, "Unraveled Threads" -----------------------------------------

namespace beazley {

// while n > 0: n -= 1. The empty asm tells the optimizer n is used, so the loop is kept
// (a C++ compiler would otherwise delete a loop with no effect and time nothing).
void count(long n) {
  while (n > 0) {
    n -= 1;
    asm volatile("" : "+r"(n));
  }
}

void sequential(long n) {
  count(n);
  count(n);
}

void threaded(long n) {
  gilfree::Thread t1(count, n);
  t1.start();
  gilfree::Thread t2(count, n);
  t2.start();
  t1.join();
  t2.join();
}

// The same two counts in two processes (multiprocessing.Process with the default
// forkserver start method): what CPython needs to use both cores.
void processes(long n) {
  gilfree::mp::Process p1(count, n);
  p1.start();
  gilfree::mp::Process p2(count, n);
  p2.start();
  p1.join();
  p2.join();
}

}  // namespace beazley

Experiment run_count(const Options& opt) {
  Experiment e{.key = "count", .title = "count(n) twice: sequential vs 2 threads vs 2 processes", .seed = "seed 001"};
  const long n = opt.quick ? 20'000'000 : 300'000'000;  // Beazley used 10^9
  const long py_n = opt.quick ? 200'000 : 10'000'000;     // CPython at 10^9 would take ~45 s
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = "n = " + std::to_string(n) + " (best of " + std::to_string(repeats) + ")";
  e.cpython_size = "n = " + std::to_string(py_n) + " (one run)";

  auto best = best_interleaved(repeats, {[&] { beazley::sequential(n); },
                                         [&] { beazley::threaded(n); },
                                         [&] { beazley::processes(n); }});
  double seq = best[0], thr = best[1], prc = best[2];
  PyRun py = run_python(opt, "count.py", {std::to_string(py_n)});

  auto py_cell = [&](const char* key) {
    Cell c;
    if (py.ran) c.seconds = py.number(key);
    else c.text = py.why;
    return c;
  };
  e.rows.push_back({"sequential", secs(seq), py_cell("sequential")});
  e.rows.push_back({"2 threads", secs(thr), py_cell("threads")});
  e.rows.push_back({"2 processes", secs(prc), py_cell("processes")});
  e.notes.push_back(fmt("gilfree: %.2f ns per iteration", seq / (2.0 * n) * 1e9) +
                    (py.ran ? fmt(" · CPython: %.1f ns per iteration",
                                  *py.number("sequential") / (2.0 * py_n) * 1e9)
                            : std::string()));
  std::string lesson;
  if (py.ran) {
    double st = *py.number("sequential") / *py.number("threads");
    lesson = "CPython threads: " + ratio(st) + gil_note(st) +
             (st < 1.3 ? " (Beazley: \"1.8X slower!\")" : "") + "; CPython processes: " +
             ratio(*py.number("sequential") / *py.number("processes")) + "; ";
  }
  lesson += "gilfree threads: " + ratio(seq / thr) + ", gilfree processes: " + ratio(seq / prc);
  e.lesson = lesson;
  e.figures = {{"gilfree_n", double(n)}, {"cpython_n", double(py_n)}};
  return e;
}

// ---- the JobQueue race: seed 000, "Locks" ----------------------------------------------

// job_queue_race:: is the seed program's own code (examples/000_concurrency_in_python/
// job_queue_race.hpp): the JobQueue, its locked fix and the two racing producers.

Experiment run_race(const Options& opt) {
  Experiment e{.key = "race", .title = "the JobQueue race: lost updates without and with a Lock",
               .seed = "seed 000"};
  const long n = 100'000;  // the seed's, per producer; milliseconds even in --quick
  e.gilfree_size = e.cpython_size = "2 producers × " + std::to_string(n) + " jobs";

  // Two threads only race when they run at the same moment; on a busy machine one may finish
  // before the other is scheduled. So the unlocked run is repeated (up to 20 rounds) until
  // the threads overlapped and lost something; the round count is reported.
  std::unique_ptr<job_queue_race::JobQueue> unlocked;
  double t_unlocked = 0;
  int rounds = 0;
  long g_lost = 0;
  while (rounds < 20 && g_lost == 0) {
    ++rounds;
    unlocked = std::make_unique<job_queue_race::JobQueue>(2 * n);
    double t0 = now();
    job_queue_race::run_producers(*unlocked, n);
    t_unlocked = now() - t0;
    g_lost = long(unlocked->q.size()) - unlocked->nq.load();
  }
  job_queue_race::LockedJobQueue locked(2 * n);
  double t0 = now();
  job_queue_race::run_producers(locked, n);
  double t_locked = now() - t0;
  long g_lost_locked = long(locked.q.size()) - locked.nq.load();

  auto describe = [&](long len, long nq, double seconds) {
    return "lost " + std::to_string(len - nq) + " of " + std::to_string(2 * n) +
           fmt(" · %.1f ms", seconds * 1e3);
  };
  e.rows.push_back({"no lock", note(describe(long(unlocked->q.size()),
                                                       unlocked->nq.load(), t_unlocked)), {}});
  e.rows.push_back({"with Lock",
                    note(describe(long(locked.q.size()), locked.nq.load(), t_locked)),
                    {}});
  e.notes.push_back("gilfree without a lock: len(j.q) = " + std::to_string(unlocked->q.size()) +
                    ", j.nq = " + std::to_string(unlocked->nq.load()) + " (round " +
                    std::to_string(rounds) + "); with a Lock: len(j.q) = " +
                    std::to_string(locked.q.size()) + ", j.nq = " + std::to_string(locked.nq.load()));

  PyRun py = run_python(opt, "race.py", {std::to_string(n)});
  long p_lost = 0;
  if (py.ran) {
    auto num = [&](const char* k) { return long(py.number(k).value_or(-1)); };
    p_lost = num("unlocked_len") - num("unlocked_nq");
    e.rows[0].cpython.text = describe(num("unlocked_len"), num("unlocked_nq"),
                                      py.number("unlocked_seconds").value_or(0));
    e.rows[1].cpython.text = describe(num("locked_len"), num("locked_nq"),
                                      py.number("locked_seconds").value_or(0));
    e.ok = num("locked_len") == 2 * n && num("locked_nq") == 2 * n;
    e.notes.push_back("CPython without a lock: len(j.q) = " + py.text("unlocked_len") +
                      ", j.nq = " + py.text("unlocked_nq") + "; with a Lock: len(j.q) = " +
                      py.text("locked_len") + ", j.nq = " + py.text("locked_nq"));
  } else {
    e.rows[0].cpython.text = e.rows[1].cpython.text = py.why;
  }
  e.ok = e.ok && g_lost_locked == 0 && long(locked.q.size()) == 2 * n &&
         long(unlocked->q.size()) == 2 * n;

  std::string lesson = "without a lock gilfree lost " + std::to_string(g_lost) + " of " +
                       std::to_string(2 * n) + " updates";
  if (g_lost == 0) lesson += " (the threads never overlapped in 20 rounds)";
  if (py.ran) {
    lesson += ", CPython " + std::to_string(p_lost);
    if (p_lost == 0) lesson += " (the GIL made `self.nq += 1` atomic here: luck, not a promise)";
  }
  lesson += "; with a Lock both are exact";
  e.lesson = lesson;
  e.figures = {{"gilfree_lost", double(g_lost)}, {"gilfree_lost_with_lock", double(g_lost_locked)},
               {"cpython_lost", py.ran ? double(p_lost) : -1}};
  return e;
}

#ifdef TOUR_HAVE_QUEUE
// ---- the counter behind a message queue: seed 000, "Queues" ---------------------------
// The Counter, its worker and producers are the seed program's own
// (examples/000_concurrency_in_python/counter_message_queue.hpp).

Experiment run_message_queue(const Options& opt) {
  Experiment e{.key = "queue", .title = "the counter behind a message queue (no lock)",
               .seed = "seed 000"};
  const long n = opt.quick ? 5'000 : 50'000;
  e.gilfree_size = e.cpython_size = "2 producers × " + std::to_string(n) + " messages";
  double t0 = now();
  long count = counter_message_queue::run(n, [](const std::atomic<long>&) {});
  double t = now() - t0;
  PyRun py = run_python(opt, "counter_queue.py", {std::to_string(n)});
  Row r{"1 worker, 2 producers", secs(t, "count " + std::to_string(count)), {}};
  if (py.ran) {
    r.cpython.seconds = py.number("seconds");
    r.cpython.text = "count " + py.text("count");
  } else {
    r.cpython.text = py.why;
  }
  e.rows.push_back(r);
  e.ok = count == 2 * n && (!py.ran || long(py.number("count").value_or(0)) == 2 * n);
  std::string lesson = "exact with no lock: the worker alone touches the Counter; gilfree " +
                       fmt("%.2f M messages/s", 2.0 * n / t / 1e6);
  if (py.ran && r.cpython.seconds)
    lesson += ", CPython " + fmt("%.2f M/s", 2.0 * n / *r.cpython.seconds / 1e6) + " (" +
              ratio(*r.cpython.seconds / t) + " slower)";
  e.lesson = lesson;
  return e;
}

#else
Experiment run_message_queue(const Options&) {
  Experiment e{.key = "queue", .title = "the counter behind a message queue", .seed = "seed 000"};
  e.lesson = "not run: this build has no gilfree/queue.hpp";
  return e;
}
#endif

}  // namespace tour
