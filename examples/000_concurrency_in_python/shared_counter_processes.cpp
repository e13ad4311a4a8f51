// Seed 000: "multiprocessing contains Locks and shared memory objects like Value and
// Array". A counter in a multiprocessing.Value, incremented by 4 processes (fork start
// method: the children inherit the shared Value). Without holding get_lock() across the
// read and the write (`counter.value += 1` in Python takes the lock twice, once per access)
// updates are lost, as in the thread race; inside `with counter.get_lock():` the result is
// exact. The workers are shared_counter_processes.hpp's, which the tour runs too.
// expect: without the lock: [0-9]+ of 200000 \(lost [0-9]+\)
// expect: with the lock: 200000 of 200000
#include <iostream>

#include "seedkit.hpp"
#include "shared_counter_processes.hpp"

namespace scp = shared_counter_processes;

constexpr int kProcesses = 4;
constexpr long kIncrements = 50000;

int main() {
  // Created before the fork, so every child maps the same shared memory.
  gilfree::mp::Value<long> counter(0);
  constexpr long total = kProcesses * kIncrements;
  bool ok = false;
  const long racy = scp::run(counter, scp::add_racy, kProcesses, kIncrements, ok);
  seedkit::check(ok, "every process ended normally");
  std::cout << "without the lock: " << racy << " of " << total << " (lost " << total - racy
            << ")\n";
  seedkit::check(racy <= total, "never more than the increments made");
  const long locked = scp::run(counter, scp::add_locked, kProcesses, kIncrements, ok);
  seedkit::check(ok, "every process ended normally");
  std::cout << "with the lock: " << locked << " of " << total << '\n';
  seedkit::check(locked == total, "the locked counter is exact");
}
