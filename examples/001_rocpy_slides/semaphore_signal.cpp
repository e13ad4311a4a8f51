// Seed 001, "Thread Signaling Example": done = Semaphore(0). Thread 2 acquires and so waits
// until thread 1, having done its statements, releases. Acquire and release happen in two
// different threads, in either order: the signal is not lost if release comes first.
// expect: thread 1: statements done, done.release\(\)
// expect: thread 2: went on after thread 1, in both orders
#include <atomic>
#include <iostream>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

int main() {
  for (bool thread2_first : {true, false}) {
    gilfree::Semaphore done(0);
    std::atomic<bool> statements_done{false};
    bool saw_statements = false;

    gilfree::Thread thread1([&] {
      statements_done = true;  // statements, statements, statements
      std::cout << "thread 1: statements done, done.release()\n";
      done.release();
    });
    gilfree::Thread thread2([&] {
      done.acquire();
      saw_statements = statements_done;  // statements that need thread 1's work
    });
    if (thread2_first) {
      thread2.start();
      thread1.start();
    } else {
      thread1.start();
      thread1.join();  // release first: the count keeps the signal
      thread2.start();
    }
    thread1.join();
    thread2.join();
    seedkit::check(saw_statements, "thread 2 ran after thread 1's statements");
  }
  std::cout << "thread 2: went on after thread 1, in both orders\n";
}
