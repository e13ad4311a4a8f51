// Seed 000, "Queues": "Do not communicate by sharing memory; instead, share memory by
// communicating." Two producers send 'increment' to a Queue; one worker thread owns the
// Counter and applies them. No lock, and no lost update. The seed prints the counter every
// second forever; this port prints it every 10 ms until all 200000 arrived.
// expect: Counter: 200000
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "counter_message_queue.hpp"
#include "seedkit.hpp"

using namespace std::chrono_literals;

// The Counter, its message_queue_worker and the two producers: counter_message_queue.hpp.
int main() {
  long count = counter_message_queue::run(100000, [](const std::atomic<long>& shown) {
    for (;;) {
      long now = shown.load(std::memory_order_relaxed);
      std::cout << "Counter: " << now << '\n';
      if (now == 200000) break;
      std::this_thread::sleep_for(10ms);
    }
  });
  seedkit::check(count == 200000, "every increment arrived, none lost");
}
