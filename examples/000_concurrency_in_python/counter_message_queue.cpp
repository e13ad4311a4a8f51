// Seed 000, "Queues": "Do not communicate by sharing memory; instead, share memory by
// communicating." Two producers send 'increment' to a Queue; one worker thread owns the
// Counter and applies them. No lock, and no lost update. The seed prints the counter every
// second forever; this port prints it every 10 ms until all 200000 arrived.
// expect: Counter: 200000
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

// This is the same as before
class Counter {
 public:
  void increment() { count += 1; }
  long count = 0;
};

int main() {
  Counter c;
  // Message Queue is now the interface to the Counter
  gilfree::Queue<std::string> message_queue;
  std::atomic<long> shown{0};  // what the main thread may read while the worker counts

  auto message_queue_worker = [&] {
    for (;;) {
      std::string command = message_queue.get();
      if (command == "increment") c.increment();
      shown.store(c.count, std::memory_order_relaxed);
      if (command == "stop") return;
    }
  };
  auto producer = [&] {
    for (int i = 0; i < 100000; ++i) message_queue.put("increment");
  };

  gilfree::Thread mqw({.name = "message_queue_worker", .daemon = true}, message_queue_worker);
  mqw.start();
  gilfree::Thread t1(producer);
  t1.start();
  gilfree::Thread t2(producer);
  t2.start();

  for (;;) {
    long now = shown.load(std::memory_order_relaxed);
    std::cout << "Counter: " << now << '\n';
    if (now == 200000) break;
    std::this_thread::sleep_for(10ms);
  }
  t1.join();
  t2.join();
  message_queue.put("stop");
  mqw.join();
  seedkit::check(c.count == 200000, "every increment arrived, none lost");
}
