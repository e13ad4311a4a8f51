// Seed 002, "Differences with Threading": "Multiprocessing has its own multiprocessing.Queue
// ... It also has its own versions of Lock ... `from multiprocessing import Queue, Lock`", and
// a Queue "means you can pretty easily port threaded programs using queues to
// multiprocessing". So the chapter's threaded producer/consumer (`data_q = Queue()`, a
// producer putting `produce_items()`, consumers looping on `get()` and `consume_item`),
// ported to processes: one producer process, three consumer processes, an mp::Queue between
// them, and an mp::Lock that keeps each consumer's report a whole line on the shared stdout
// (the stdout-writer exercise's lock, now across processes). Each consumer sends its tally
// back through a second queue; the parent checks that every item was consumed exactly once.
//
// The fork start method (`.start_method = "fork"`): the children inherit the queues and the
// lock. gilfree's default, forkserver, would need them passed to the child, which
// mp::Queue and mp::Lock do not do yet (a later step of issue 10).
// expect: consumer [1-3] consumed [0-9]+ items, sum [0-9]+
// expect: 3 consumers consumed 10000 items, sum 49995000 = 0 \+ 1 \+ … \+ 9999
#include <deque>
#include <iostream>
#include <mutex>

#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;

constexpr int kItems = 10'000;
constexpr int kConsumers = 3;
constexpr int kDone = -1;  // the sentinel: one per consumer, after the items

// What a consumer sends back (trivially copyable: it crosses through an mp::Queue).
struct Tally {
  int consumer;
  long items;
  long long sum;
};

// for item in produce_items(): data_q.put(item)
void producer(mp::Queue<int> data_q) {
  for (int item = 0; item < kItems; ++item) data_q.put(item);
  for (int i = 0; i < kConsumers; ++i) data_q.put(kDone);
}

// while True: item = data_q.get(); consume_item(item)
void consumer(int id, mp::Queue<int> data_q, mp::Queue<Tally> results, mp::Lock print_lock) {
  Tally t{id, 0, 0};
  for (;;) {
    const int item = data_q.get();
    if (item == kDone) break;
    ++t.items;  // consume_item(item)
    t.sum += item;
  }
  {
    std::lock_guard<mp::Lock> with(print_lock);  // with print_lock: one whole line at a time
    std::cout << "consumer " << id << " consumed " << t.items << " items, sum " << t.sum
              << std::endl;
  }
  results.put(t);
}

int main() {
  mp::Queue<int> data_q(100);  // bounded: the producer waits when the consumers fall behind
  mp::Queue<Tally> results;
  mp::Lock print_lock;
  const mp::ProcessOptions fork{.start_method = "fork"};

  std::deque<mp::Process> procs;  // a Process does not move: a deque builds them in place
  procs.emplace_back(mp::ProcessOptions{.name = "producer", .start_method = "fork"}, producer,
                     data_q);
  for (int id = 1; id <= kConsumers; ++id)
    procs.emplace_back(fork, consumer, id, data_q, results, print_lock);
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  for (auto& p : procs) seedkit::check(p.exitcode() == 0, p.name() + " ended normally");

  long items = 0;
  long long sum = 0;
  for (int i = 0; i < kConsumers; ++i) {
    const Tally t = results.get(true, 5.0);  // every consumer has ended: all are there
    items += t.items;
    sum += t.sum;
  }
  const long long expected = static_cast<long long>(kItems) * (kItems - 1) / 2;
  std::cout << kConsumers << " consumers consumed " << items << " items, sum " << sum
            << " = 0 + 1 + … + " << kItems - 1 << '\n';
  seedkit::check(items == kItems && sum == expected, "every item consumed: the count and the sum match");
  seedkit::check(data_q.empty() && results.empty(), "both queues drained");
}
