// Seed 000, "Queues": the Counter that one worker thread owns, fed through a message Queue by
// two producers. Shared by counter_message_queue.cpp (the seed's program) and the tour's
// "queue" experiment.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

namespace counter_message_queue {

// This is the same as before
class Counter {
 public:
  void increment() { count += 1; }
  long count = 0;  // touched by the message_queue_worker thread only
};

// The seed's program: message_queue_worker owns a Counter and applies the "increment"s that
// two producers put on the Queue, `n` each; no lock anywhere. While they run, the calling
// thread runs `meanwhile(shown)`, where `shown` follows the worker's count (the seed's main
// loop prints it). Returns the final count, once the producers are joined and the worker
// has applied every message and stopped.
inline long run(long n, const std::function<void(const std::atomic<long>& shown)>& meanwhile) {
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
    for (long i = 0; i < n; ++i) message_queue.put("increment");
  };

  gilfree::Thread mqw({.name = "message_queue_worker", .daemon = true}, message_queue_worker);
  mqw.start();
  gilfree::Thread t1(producer);
  t1.start();
  gilfree::Thread t2(producer);
  t2.start();

  meanwhile(shown);
  t1.join();
  t2.join();
  message_queue.put("stop");  // after every increment: the worker has applied them all
  mqw.join();
  return c.count;
}

}  // namespace counter_message_queue
