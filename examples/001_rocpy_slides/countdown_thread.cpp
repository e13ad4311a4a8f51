// Seed 001, "threading module": a CountdownThread written by subclassing Thread and
// overriding run(), the same countdown as a plain function given to Thread, join(), and a
// daemon thread that the program does not wait for. The seed sleeps 5 s per step; 5 ms here.
// expect: Counting down 1
// expect: CountdownThread\(10\) and CountdownThread\(20\) and countdown\(10\) reached 0
// expect: exiting without waiting for the daemon
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::Lock print_lock;  // keeps each "Counting down" line whole

class CountdownThread : public gilfree::Thread {
 public:
  explicit CountdownThread(int count) : count(count) {}
  ~CountdownThread() override { join(); }  // run() uses our members: join before they go
  int count;

 protected:
  void run() override {
    while (count > 0) {
      {
        std::scoped_lock with(print_lock);
        std::cout << "Counting down " << count << '\n';
      }
      count -= 1;
      std::this_thread::sleep_for(5ms);
    }
  }
};

int remaining_functional = -1;

void countdown(int count) {
  while (count > 0) {
    {
      std::scoped_lock with(print_lock);
      std::cout << "Counting down " << count << '\n';
    }
    count -= 1;
    std::this_thread::sleep_for(5ms);
  }
  remaining_functional = count;
}

int main() {
  CountdownThread t1(10);  // Create the thread object
  t1.start();              // Launch the thread
  CountdownThread t2(20);  // Create another thread
  t2.start();              // Launch

  gilfree::Thread t3(countdown, 10);  // Thread(target=countdown, args=(10,))
  t3.start();

  t1.join();  // Waits for thread t1 to exit
  t2.join();
  t3.join();
  seedkit::check(!t1.is_alive() && !t2.is_alive() && !t3.is_alive(), "joined threads are done");
  seedkit::check(t1.count == 0 && t2.count == 0 && remaining_functional == 0, "all reached 0");
  std::cout << "CountdownThread(10) and CountdownThread(20) and countdown(10) reached 0\n";

  // A daemon thread: "set it and forget it". It counts forever; exit does not wait for it.
  static std::atomic<long> ticks{0};
  static gilfree::Thread* forever = new gilfree::Thread([] {
    for (;;) {
      ++ticks;
      std::this_thread::sleep_for(1ms);
    }
  });
  forever->set_daemon(true);  // t.daemon = True
  forever->start();
  while (ticks < 3) std::this_thread::sleep_for(1ms);
  seedkit::check(forever->daemon() && forever->is_alive(), "the daemon runs on");
  std::cout << "exiting without waiting for the daemon (" << ticks << " ticks so far)\n";
}
