// Seed 003, "Timer Objects": Timer(interval=3, function=hello) prints after the interval;
// t.cancel() stops it only while it is still waiting. (Interval scaled to 30 ms.)
// expect: hello, thanks for waiting.
// expect: cancelled in time: hello not called again
#include <atomic>
#include <chrono>
#include <iostream>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

std::atomic<int> hellos{0};

void hello() {
  std::cout << "hello, thanks for waiting." << std::endl;
  ++hellos;
}

int main() {
  gilfree::Timer t(0.03, hello);
  t.start();
  t.join();
  gilfree::Timer t2(0.03, hello);
  t2.start();
  t2.cancel();  // Stop the timer and cancel the execution of the timer's action
  t2.join();
  t.cancel();  // too late: it already ran, and cancel() does nothing
  seedkit::check(hellos == 1, "exactly one hello");
  std::cout << "cancelled in time: hello not called again\n";
}
