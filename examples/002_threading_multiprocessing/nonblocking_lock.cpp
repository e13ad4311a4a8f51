// Seed 002: three threads take turns in f() under a Lock (each holds it a moment), then the
// non-blocking acquire: acquire(false) returns false at once when the lock is taken.
// expect: Thread-[0-9]+ got lock
// expect: couldn't get lock
// expect: got lock \(non-blocking\)
#include <chrono>
#include <deque>
#include <iostream>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::Lock lock;
int holders = 0;

void f() {
  lock.acquire();
  seedkit::check(++holders == 1, "one holder at a time");
  std::cout << gilfree::current_thread().name() << " got lock" << std::endl;
  std::this_thread::sleep_for(10ms);  // time.sleep(1), scaled down
  --holders;
  lock.release();
}

int main() {
  {
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < 3; ++i) threads.emplace_back(f);
    for (auto& t : threads) t.start();
  }  // each Thread is joined as it goes out of scope

  gilfree::Lock lock;
  lock.acquire();
  if (!lock.acquire(false)) std::cout << "couldn't get lock\n";
  lock.release();
  if (lock.acquire(false)) std::cout << "got lock (non-blocking)\n";
  seedkit::check(lock.locked(), "the second non-blocking acquire took it");
  // acquire(True, timeout) gives up after the timeout:
  auto t0 = std::chrono::steady_clock::now();
  seedkit::check(!lock.acquire(true, 0.05), "a held Lock times out");
  seedkit::check(std::chrono::steady_clock::now() - t0 >= 50ms, "after waiting the timeout");
  lock.release();
}
