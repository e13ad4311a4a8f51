// Seed 002, "Pooling example": `pool = Pool(processes=4)`, apply_async().get(timeout=1),
// map(f, range(10)), imap() one result at a time, and apply_async(time.sleep, (10,)) whose
// get(timeout=1) raises TimeoutError — on multiprocessing.Pool, whose workers are processes
// (gilfree::mp::Pool, default start method forkserver: f crosses as a plain function).
// The program is pooling_example.hpp's, the same that thread_pool.cpp runs on threads; the
// sleep is scaled to 0.3 s against a 0.05 s timeout.
// expect: 100
// expect: \[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\]
// expect: imap: 0 1 4
// expect: TimeoutError, as the seed's result.get\(timeout=1\)
// requires: multiprocessing/pool: class Pool 
#include <gilfree/multiprocessing/pool.hpp>

#include "pooling_example.hpp"

int main() {
  gilfree::mp::Pool pool(4);  // pool = Pool(processes=4)
  pooling_example::run(pool);
}
