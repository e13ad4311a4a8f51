// Seed 003, "Process Pool": `with ProcessPoolExecutor(max_workers=2) as pool:` six
// submit(my_pow, i) for i in 10..15, then the results in completion order through
// as_completed. my_pow prints its worker's pid (os.getpid()): two pids, neither the parent's.
// gilfree::ProcessPoolExecutor's default start method is forkserver: my_pow is a plain
// function, so it crosses to the workers.
// expect: Process [0-9]+ compute pow\(2, 15\)
// expect: all 6 results: 1024 2048 4096 8192 16384 32768
// expect: computed by [12] worker process\(es\), none of them the parent
// requires: futures/process
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <utility>
#include <vector>

#include <gilfree/futures.hpp>
#include <gilfree/futures/process.hpp>

#include "seedkit.hpp"

// def my_pow(num): print(f'Process {os.getpid()} compute pow(2, {num})'); return pow(2, num)
// (and the pid, so the parent can check where it ran).
std::pair<long, int> my_pow(int num) {
  std::cout << "Process " << ::getpid() << " compute pow(2, " << num << ")" << std::endl;
  return {1L << num, static_cast<int>(::getpid())};
}

int main() {
  std::vector<long> results;
  std::set<int> pids;
  {
    gilfree::ProcessPoolExecutor pool({.max_workers = 2});  // with ... as pool:
    std::vector<gilfree::Future<std::pair<long, int>>> futures;
    for (int i = 10; i < 16; ++i) futures.push_back(pool.submit(my_pow, i));
    for (auto f : gilfree::as_completed(futures)) {
      auto [r, pid] = f.result();
      std::cout << r << '\n';
      results.push_back(r);
      pids.insert(pid);
    }
  }  // leaving `with`: pool.shutdown(wait=True)
  std::sort(results.begin(), results.end());
  seedkit::check(results == std::vector<long>{1024, 2048, 4096, 8192, 16384, 32768},
                 "every result, once");
  std::cout << "all 6 results: 1024 2048 4096 8192 16384 32768\n";
  seedkit::check(!pids.empty() && pids.size() <= 2 && !pids.count(::getpid()),
                 "the calls ran in at most 2 worker processes, not in the parent");
  std::cout << "computed by " << pids.size() << " worker process(es), none of them the parent\n";
}
