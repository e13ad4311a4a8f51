// Seed 000, "Locks": the basic race condition, and the fix. Two producers enqueue 100000 jobs
// each into a JobQueue, then a consumer drains it; len(j.q) and j.nq should agree.
//
// Python's list.append is atomic under the GIL, so this port's list appends atomically too;
// the race is in `self.nq += 1`, a load, an add and a store that another thread can
// interleave with. Without the GIL, gilfree threads really run at the same time, so updates
// are lost far more often than in CPython. With a Lock around both lines, none are.
// expect: without a lock: len\(j.q\) = 0, j.nq = -?[0-9]+
// expect: with a lock: len\(j.q\) = 0, j.nq = 0
#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <gilfree/detail/futex.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

constexpr long kJobs = 100000;

class PrintJob {
 public:
  explicit PrintJob(std::string s) : s_(std::move(s)) {}
  const std::string& work() const { return s_; }  // the seed's print is commented out too

 private:
  std::string s_;
};

// A list with Python's guarantees for append and pop under the GIL: each is atomic.
class List {
 public:
  explicit List(std::size_t capacity) : slots_(capacity) {}
  void append(const PrintJob* job) { slots_[len_.fetch_add(1)] = job; }
  const PrintJob* pop() { return slots_[--len_]; }  // the consumer runs alone
  std::size_t size() const { return len_.load(); }
  explicit operator bool() const { return size() > 0; }

 private:
  std::vector<const PrintJob*> slots_;
  std::atomic<std::size_t> len_{0};
};

// `x += d` as an interpreter without a GIL performs it: load, add, store — each step atomic
// (so this is a well-defined race, not undefined behaviour), the three together not.
void plus_equals(std::atomic<long>& x, long d) {
  x.store(x.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

class JobQueue {
 public:
  alignas(64) std::atomic<long> nq{0};  // its own cache line, as in a Python object apart from its list
  List q{2 * kJobs};

  void enqueue(const PrintJob* job) {
    plus_equals(nq, 1);
    q.append(job);
  }
  const PrintJob* dequeue() {
    if (q) {
      plus_equals(nq, -1);
      return q.pop();
    }
    return nullptr;
  }
};

// Fixed!
class LockedJobQueue {
 public:
  alignas(64) std::atomic<long> nq{0};  // its own cache line, as in a Python object apart from its list
  List q{2 * kJobs};
  gilfree::Lock lock;

  void enqueue(const PrintJob* job) {
    std::scoped_lock with(lock);
    plus_equals(nq, 1);
    q.append(job);
  }
  const PrintJob* dequeue() {
    std::scoped_lock with(lock);
    if (q) {
      plus_equals(nq, -1);
      return q.pop();
    }
    return nullptr;
  }
};

// Runs the seed's program on `j`; returns the number of `nq` updates lost.
template <class Q>
long run(Q& j, const char* label) {
  // Both producers spin at a gate until both are on a CPU, so that they overlap even on a
  // busy machine (a few milliseconds of work could otherwise finish before the other starts).
  std::atomic<int> at_gate{0};
  auto producer = [&] {
    std::vector<PrintJob> jobs;
    for (int i = 0; i < 10; ++i) jobs.emplace_back(std::to_string(i));
    at_gate.fetch_add(1);
    while (at_gate.load() < 2) gilfree::detail::cpu_relax();
    for (long i = 0; i < kJobs; ++i) j.enqueue(&jobs[i % 10]);
  };
  auto consumer = [&] {
    while (j.q) j.dequeue()->work();
  };
  gilfree::Thread t1(producer);
  t1.start();
  gilfree::Thread t2(producer);
  t2.start();
  t1.join();
  t2.join();
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
    JobQueue j;
    if (run(j, "without a lock") > 0) break;
  }
  LockedJobQueue locked;
  run(locked, "with a lock");
  seedkit::check(locked.nq.load() == 0 && locked.q.size() == 0, "the locked queue is exact");
}
