// Seed 000, "Locks": the basic race condition, and the fix. Two producers enqueue 100000 jobs
// each into a JobQueue, then a consumer drains it; len(j.q) and j.nq should agree.
//
// Python's list.append is atomic under the GIL, so this port's list appends atomically too;
// the race is in `self.nq += 1`, a load, an add and a store that another thread can
// interleave with. Without the GIL, gilfree threads really run at the same time, so updates
// are lost far more often than in CPython. With a Lock around both lines, none are.
// expect: without a lock: len\(j.q\) = 0, j.nq = -?[0-9]+
// expect: with a lock: len\(j.q\) = 0, j.nq = 0
#include <iostream>

#include <gilfree/threading.hpp>

#include "job_queue_race.hpp"
#include "seedkit.hpp"

using namespace job_queue_race;  // PrintJob, List, JobQueue, LockedJobQueue, run_producers

constexpr long kJobs = 100000;

// Runs the seed's program on `j`; returns the number of `nq` updates lost.
template <class Q>
long run(Q& j, const char* label) {
  auto consumer = [&] {
    while (j.q) j.dequeue()->work();
  };
  run_producers(j, kJobs);  // two producer threads, started and joined
  long enqueued = static_cast<long>(j.q.size()), counted = j.nq.load();

  gilfree::Thread t3(consumer);
  t3.start();
  t3.join();

  std::cout << label << ": len(j.q) = " << j.q.size() << ", j.nq = " << j.nq.load() << "   ("
            << enqueued << " jobs enqueued, nq counted " << counted << ": "
            << enqueued - counted << " updates lost)\n";
  seedkit::check(enqueued == 2 * kJobs, "every append landed");
  return enqueued - counted;
}

int main() {
  // The threads race only while both run at once; on a busy machine a round can pass without
  // overlap, so the unlocked program is rerun (up to 20 times) until it loses something.
  for (int round = 1; round <= 20; ++round) {
    JobQueue j(2 * kJobs);
    if (run(j, "without a lock") > 0) break;
  }
  LockedJobQueue locked(2 * kJobs);
  run(locked, "with a lock");
  seedkit::check(locked.nq.load() == 0 && locked.q.size() == 0, "the locked queue is exact");
}
