// Seed 002, "Pooling example" and "ThreadPool": Pool's API — apply_async().get(timeout),
// map(), imap() taken one result at a time, and a get() that times out — on
// multiprocessing.pool.ThreadPool, which is the thread-side pool (gilfree::ThreadPool).
// The seed's apply_async(time.sleep, (10,)) is scaled to 0.3 s against a 0.05 s timeout.
// expect: 100
// expect: \[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\]
// expect: imap: 0 1 4
// expect: TimeoutError, as the seed's result.get\(timeout=1\)
// requires: multiprocessing/pool
#include <chrono>
#include <iostream>
#include <ranges>
#include <thread>
#include <tuple>

#include <gilfree/multiprocessing/pool.hpp>

#include "seedkit.hpp"

int f(int x) { return x * x; }

int main() {
  gilfree::ThreadPool pool(4);  // pool = ThreadPool(processes=4)

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

  auto slow = pool.apply_async([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); },
                               std::tuple<>{});
  try {
    slow.get(0.05);
    seedkit::check(false, "get(timeout) on a slow task raises TimeoutError");
  } catch (const gilfree::TimeoutError&) {
    std::cout << "TimeoutError, as the seed's result.get(timeout=1)\n";
  }
  slow.get();
  pool.close();
  pool.join();
}
