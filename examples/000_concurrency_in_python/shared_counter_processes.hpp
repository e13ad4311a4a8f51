// Seed 000: a counter in a multiprocessing.Value, incremented by several processes, without
// and with its lock. Shared by shared_counter_processes.cpp (the seed's program) and the
// tour's "race_procs" experiment (tools/tour/exp_processes.cpp).
//
// `counter.value += 1` in Python reads under the Value's lock and writes under it again, so
// two processes can read the same value and one increment is lost; `with
// counter.get_lock(): counter.value += 1` makes the read and the write one step.
#pragma once

#include <deque>
#include <mutex>

#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>

namespace shared_counter_processes {

namespace mp = gilfree::mp;

// counter.value += 1, `increments` times: each access locked, the increment not.
inline void add_racy(mp::Value<long>& counter, long increments) {
  for (long i = 0; i < increments; ++i) counter.set_value(counter.value() + 1);
}

// with counter.get_lock(): counter.value += 1, `increments` times.
inline void add_locked(mp::Value<long>& counter, long increments) {
  for (long i = 0; i < increments; ++i) {
    std::lock_guard<mp::RLock> with(counter.get_lock());
    counter.set_value(counter.value() + 1);  // the RLock is re-entered: the same owner
  }
}

// Resets `counter` to 0, runs `work(counter, increments)` in `processes` processes at once
// and returns the final value. The fork start method: the children inherit the Value's
// shared memory (passing a Value to forkserver/spawn children is a later step of issue 10).
// `all_ok` is false if a child did not end with exit code 0.
template <class Work>
long run(mp::Value<long>& counter, Work work, int processes, long increments, bool& all_ok) {
  counter.set_value(0);
  std::deque<mp::Process> procs;  // a Process does not move: a deque builds them in place
  for (int i = 0; i < processes; ++i)
    procs.emplace_back(mp::ProcessOptions{.start_method = "fork"},
                       [&counter, work, increments] { work(counter, increments); });
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  all_ok = true;
  for (auto& p : procs) all_ok = all_ok && p.exitcode() == 0;
  return counter.value();
}

}  // namespace shared_counter_processes
