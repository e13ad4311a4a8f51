// Seed 002, "Pooling example": the Pool API walked through once — apply_async().get(timeout),
// map(), imap() taken one result at a time, and a get() that times out on a slow task.
// Shared by thread_pool.cpp (on multiprocessing.pool.ThreadPool) and pool_processes.cpp (on
// multiprocessing.Pool, worker processes): the same program, whichever pool runs it.
#pragma once

#include <chrono>
#include <iostream>
#include <ranges>
#include <thread>
#include <tuple>

#include <gilfree/errors.hpp>

#include "seedkit.hpp"

namespace pooling_example {

// def f(x): return x*x — a plain function, so it can also cross to a worker process.
inline int f(int x) { return x * x; }

// The seed's time.sleep(10), scaled to 0.3 s (its get(timeout=1) becomes 0.05 s).
inline void slow_sleep() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

// The seed's program on `pool` (a ThreadPool or a Pool); checks every result.
template <class Pool>
void run(Pool& pool) {
  auto result = pool.apply_async(f, std::tuple{10});  // evaluate "f(10)" asynchronously
  int r = result.get(1.0);                            // result.get(timeout=1)
  std::cout << r << '\n';
  seedkit::check(r == 100, "f(10)");

  auto squares = pool.map(f, std::views::iota(0, 10));  // pool.map(f, range(10))
  std::cout << '[';
  for (std::size_t i = 0; i < squares.size(); ++i) std::cout << (i ? ", " : "") << squares[i];
  std::cout << "]\n";
  seedkit::check(squares.size() == 10 && squares[9] == 81, "map in input order");

  auto it = pool.imap(f, std::views::iota(0, 10));  // it = pool.imap(f, range(10))
  auto next = it.begin();
  std::cout << "imap: " << *next;  // it.next()
  ++next;
  std::cout << ' ' << *next;
  ++next;
  std::cout << ' ' << *next << '\n';

  auto slow = pool.apply_async(slow_sleep, std::tuple<>{});  // apply_async(time.sleep, (10,))
  try {
    slow.get(0.05);  // print(result.get(timeout=1))
    seedkit::check(false, "get(timeout) on a slow task raises TimeoutError");
  } catch (const gilfree::TimeoutError&) {
    std::cout << "TimeoutError, as the seed's result.get(timeout=1)\n";
  }
  slow.get();
  pool.close();
  pool.join();
}

}  // namespace pooling_example
