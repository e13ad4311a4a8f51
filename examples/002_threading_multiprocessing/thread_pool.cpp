// Seed 002, "Pooling example" and "ThreadPool": Pool's API — apply_async().get(timeout),
// map(), imap() taken one result at a time, and a get() that times out — on
// multiprocessing.pool.ThreadPool, which is the thread-side pool (gilfree::ThreadPool).
// The program is pooling_example.hpp's, which pool_processes.cpp runs on worker processes.
// The seed's apply_async(time.sleep, (10,)) is scaled to 0.3 s against a 0.05 s timeout.
// expect: 100
// expect: \[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\]
// expect: imap: 0 1 4
// expect: TimeoutError, as the seed's result.get\(timeout=1\)
// requires: multiprocessing/pool
#include <gilfree/multiprocessing/pool.hpp>

#include "pooling_example.hpp"

int main() {
  gilfree::ThreadPool pool(4);  // pool = ThreadPool(processes=4)
  pooling_example::run(pool);
}
