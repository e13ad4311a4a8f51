// Seed 002, simple_timer.py: Timer(interval, called_once) runs a function once, later;
// cancel() before it fires means it never runs.
// expect: I just got called! It's now
// expect: the cancelled timer never called
#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

std::atomic<int> calls{0};

void called_once() {
  // this function is designed to be called once in the future
  std::time_t now = std::time(nullptr);
  std::cout << "I just got called! It's now: " << std::asctime(std::localtime(&now));
  ++calls;
}

int main() {
  auto t0 = std::chrono::steady_clock::now();
  gilfree::Timer t(0.05, called_once);  // Timer(interval=3, function=called_once), scaled
  t.start();
  t.join();
  seedkit::check(calls == 1, "called once");
  seedkit::check(std::chrono::steady_clock::now() - t0 >= 50ms, "not before the interval");

  // you can cancel it if you want:
  gilfree::Timer t2(0.05, called_once);
  t2.start();
  t2.cancel();
  t2.join();
  seedkit::check(calls == 1, "the cancelled timer did not call");
  std::cout << "the cancelled timer never called\n";
}
