// Seed 002, "Managing Thread Results" and "Other Queue types": Queue (first in, first out),
// LifoQueue (last in, first out), PriorityQueue (lowest first, with (priority, data)
// tuples), get(block, timeout), and the producer/consumer pattern on a Queue.
// expect: 37337
// expect: Queue: 1 2 3 4
// expect: LifoQueue: 4 3 2 1
// expect: PriorityQueue: \(1, 'eat'\) \(2, 'code'\) \(3, 'sleep'\)
// expect: consumer got 100 items
#include <chrono>
#include <iostream>
#include <string>
#include <tuple>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

int main() {
  gilfree::Queue<int> q(10);  // Queue(maxsize=10)
  q.put(37337);
  bool block = true;
  double timeout = 2;
  std::cout << q.get(block, timeout) << '\n';
  try {
    q.get(true, 0.01);
    seedkit::check(false, "an empty queue's get times out");
  } catch (const gilfree::Empty&) {
  }

  gilfree::Queue<int> fifo;
  gilfree::LifoQueue<int> lifo;
  for (int i : {1, 2, 3, 4}) {
    fifo.put(i);
    lifo.put(i);
  }
  std::cout << "Queue:";
  for (int i = 0; i < 4; ++i) std::cout << ' ' << fifo.get();
  std::cout << "\nLifoQueue:";
  for (int i = 0; i < 4; ++i) std::cout << ' ' << lifo.get();

  gilfree::PriorityQueue<std::tuple<int, std::string>> pq;  // (priority_number, data)
  pq.put({3, "sleep"});
  pq.put({1, "eat"});
  pq.put({2, "code"});
  std::cout << "\nPriorityQueue:";
  int last = 0;
  while (!pq.empty()) {
    auto [priority, data] = pq.get();
    seedkit::check(priority > last, "lowest valued entries first");
    last = priority;
    std::cout << " (" << priority << ", '" << data << "')";
  }
  std::cout << '\n';

  // Common use: producer/consumer.
  gilfree::Queue<int> data_q;
  int got = 0;
  gilfree::Thread consumer([&] {
    for (;;) {
      int item = data_q.get();
      if (item < 0) return;
      seedkit::check(item == got, "FIFO order between threads");
      ++got;  // consume_item(item)
    }
  });
  consumer.start();
  for (int item = 0; item < 100; ++item) data_q.put(item);  // for item in produce_items()
  data_q.put(-1);
  consumer.join();
  std::cout << "consumer got " << got << " items\n";
}
