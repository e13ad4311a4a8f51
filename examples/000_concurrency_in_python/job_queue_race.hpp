// Seed 000, "Locks": the JobQueue and its locked fix, and the two producers that race on it.
// Shared by job_queue_race.cpp (the seed's program) and the tour's "race" experiment.
//
// Python's list.append is atomic under the GIL, so this port's List appends atomically too;
// the race is in `self.nq += 1`, a load, an add and a store that another thread can
// interleave with.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <thread>
#include <gilfree/threading.hpp>

namespace job_queue_race {

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
inline void plus_equals(std::atomic<long>& x, long d) {
  x.store(x.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

// The seed's JobQueue; `capacity` bounds how many jobs its list can ever hold.
class JobQueue {
 public:
  explicit JobQueue(std::size_t capacity) : q(capacity) {}
  alignas(64) std::atomic<long> nq{0};  // its own cache line, as in a Python object apart from its list
  List q;

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
  explicit LockedJobQueue(std::size_t capacity) : q(capacity) {}
  alignas(64) std::atomic<long> nq{0};  // its own cache line, as in a Python object apart from its list
  List q;
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

// The seed's two producer threads: each enqueues `jobs` PrintJobs into `j`; returns when both
// are done. Both spin at a gate until both are on a CPU, so that they overlap even on a busy
// machine (a few milliseconds of work could otherwise finish before the other starts; a
// sleeping gate such as a Barrier would let the first go while the other is still waking).
template <class Q>
void run_producers(Q& j, long jobs) {
  std::atomic<int> at_gate{0};
  auto producer = [&] {
    std::vector<PrintJob> print_jobs;
    for (int i = 0; i < 10; ++i) print_jobs.emplace_back(std::to_string(i));
    at_gate.fetch_add(1);
    while (at_gate.load() < 2) std::this_thread::yield();
    for (long i = 0; i < jobs; ++i) j.enqueue(&print_jobs[i % 10]);
  };
  gilfree::Thread t1(producer);
  t1.start();
  gilfree::Thread t2(producer);
  t2.start();
  t1.join();
  t2.join();
}

}  // namespace job_queue_race
