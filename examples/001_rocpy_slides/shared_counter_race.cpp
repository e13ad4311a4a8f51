// Seed 001, "Shared Data Between Threads": x += 1 in one thread and x -= 1 in another, COUNT
// times each; expect 0. Without synchronization the result is garbage (a race condition);
// with a Lock around each update (the seed's "critical section") it is exactly 0.
//
// `x += 1` here is the unsynchronized read-modify-write an interpreter without a GIL performs:
// a load, an add, a store. Each step is atomic, so the race is well defined, not undefined
// behaviour; the sequence is not, which is the point.
//   shared_counter_race [COUNT=10000000]
// args: 1000000
// expect: without a lock: x = -?[0-9]+
// expect: with x_lock: x = 0
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include <thread>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

std::atomic<long> x{0};  // A shared value
gilfree::Lock x_lock;

void add(long d) { x.store(x.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }

int main(int argc, char** argv) {
  const long COUNT = argc > 1 ? std::atol(argv[1]) : 10000000;

  // Both threads spin at a gate until both are on a CPU, so that they do overlap.
  std::atomic<int> gate{0};
  auto wait_gate = [&] {
    gate.fetch_add(1);
    while (gate.load() % 2) std::this_thread::yield();
  };

  auto foo = [&] { wait_gate(); for (long i = 0; i < COUNT; ++i) add(+1); };
  auto bar = [&] { wait_gate(); for (long i = 0; i < COUNT; ++i) add(-1); };
  {
    gilfree::Thread t1(foo), t2(bar);
    t1.start(); t2.start();
    t1.join();  t2.join();
  }
  std::cout << "without a lock: x = " << x << "   (expected 0)\n";

  x = 0;
  auto foo_locked = [&] {
    wait_gate();
    for (long i = 0; i < COUNT; ++i) {
      std::scoped_lock with(x_lock);  // with x_lock: x = x + 1
      add(+1);
    }
  };
  auto bar_locked = [&] {
    wait_gate();
    for (long i = 0; i < COUNT; ++i) {
      x_lock.acquire();  // the explicit form: acquire ... release
      add(-1);
      x_lock.release();
    }
  };
  {
    gilfree::Thread t1(foo_locked), t2(bar_locked);
    t1.start(); t2.start();
    t1.join();  t2.join();
  }
  std::cout << "with x_lock: x = " << x << '\n';
  seedkit::check(x == 0, "the locked updates balance exactly");
}
