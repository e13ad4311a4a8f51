// Seed 003, "Thread Pool": ThreadPoolExecutor(max_workers=2), six submit(my_pow, i), then the
// results in completion order through as_completed; pool.shutdown().
// expect: ThreadPoolExecutor-[0-9]+_[0-9] compute pow\(2, 5\)
// expect: all 6 results: 1 2 4 8 16 32
// requires: futures
#include <algorithm>
#include <iostream>
#include <mutex>
#include <vector>

#include <gilfree/futures.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

gilfree::Lock print_lock;

long my_pow(int num) {
  std::string name = gilfree::current_thread().name();
  {
    std::scoped_lock with(print_lock);
    std::cout << name << " compute pow(2, " << num << ")\n";
  }
  return 1L << num;
}

int main() {
  gilfree::ThreadPoolExecutor pool({.max_workers = 2});
  std::vector<gilfree::Future<long>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(pool.submit(my_pow, i));
  std::vector<long> results;
  for (auto f : gilfree::as_completed(futures)) {  // f is a Future<long>
    long r = f.result();
    {
      std::scoped_lock with(print_lock);
      std::cout << r << '\n';
    }
    results.push_back(r);
  }
  pool.shutdown();
  std::sort(results.begin(), results.end());
  seedkit::check(results == std::vector<long>{1, 2, 4, 8, 16, 32}, "every result, once");
  std::cout << "all 6 results: 1 2 4 8 16 32\n";
}
