// Seed 001, "Conditions": a producer appends items under items_cv and notifies; the consumer
// waits while there are none (the while loop re-checks: conditions are transient) and pops.
// expect: consumer got all 1000 items, in order
#include <deque>
#include <iostream>
#include <mutex>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

std::deque<int> items;
gilfree::Condition items_cv;  // Condition() over its own RLock, as threading.Condition()

int produce_item(int i) { return i; }

int main() {
  const int kItems = 1000;
  gilfree::Thread producer([] {
    for (int i = 0; i < kItems; ++i) {
      int item = produce_item(i);
      std::scoped_lock with(items_cv);
      items.push_back(item);
      items_cv.notify();
    }
  });
  int got = 0;
  bool in_order = true;
  gilfree::Thread consumer([&] {
    for (int n = 0; n < kItems; ++n) {
      std::scoped_lock with(items_cv);
      while (items.empty()) items_cv.wait();
      int x = items.front();  // x = items.pop(0)
      items.pop_front();
      in_order = in_order && x == got;  // Do something with x
      ++got;
    }
  });
  producer.start();
  consumer.start();
  producer.join();
  consumer.join();
  seedkit::check(got == kItems && in_order && items.empty(), "every item consumed, in order");
  std::cout << "consumer got all " << got << " items, in order\n";
}
