// Seed 000: "multiprocessing contains Locks and shared memory objects like Value and
// Array". A counter in a multiprocessing.Value, incremented by 4 processes (fork start
// method: the children inherit the shared Value). Without holding get_lock() across the
// read and the write (`counter.value += 1` in Python takes the lock twice, once per access)
// updates are lost, as in the thread race; inside `with counter.get_lock():` the result is
// exact.
// expect: without the lock: [0-9]+ of 200000 \(lost [0-9]+\)
// expect: with the lock: 200000 of 200000
#include <iostream>
#include <memory>
#include <mutex>
#include <vector>

#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;

constexpr int kProcesses = 4;
constexpr int kIncrements = 50000;

// Created before the fork, so every child maps the same shared memory.
mp::Value<long> counter(0);

void add_racy() {
  for (int i = 0; i < kIncrements; ++i) counter.set_value(counter.value() + 1);  // value += 1
}

void add_locked() {
  for (int i = 0; i < kIncrements; ++i) {
    std::lock_guard<mp::RLock> guard(counter.get_lock());  // with counter.get_lock():
    counter.set_value(counter.value() + 1);
  }
}

long run(void (*work)()) {
  counter.set_value(0);
  std::vector<std::unique_ptr<mp::Process>> procs;  // a Process does not move
  for (int i = 0; i < kProcesses; ++i)
    procs.push_back(std::make_unique<mp::Process>(mp::ProcessOptions{.start_method = "fork"}, work));
  for (auto& p : procs) p->start();
  for (auto& p : procs) p->join();
  for (auto& p : procs) seedkit::check(p->exitcode() == 0, "every process ended normally");
  return counter.value();
}

int main() {
  constexpr long total = long{kProcesses} * kIncrements;
  const long racy = run(add_racy);
  std::cout << "without the lock: " << racy << " of " << total << " (lost " << total - racy
            << ")\n";
  seedkit::check(racy <= total, "never more than the increments made");
  const long locked = run(add_locked);
  std::cout << "with the lock: " << locked << " of " << total << '\n';
  seedkit::check(locked == total, "the locked counter is exact");
}
