// Seed 003, "Process": compute_sum over 1,000,000 random floats, split into 10 blocks, one
// process per block, each reporting its partial sum through a multiprocessing.Queue; the
// parent joins the workers, drains the queue and compares with the sequential sum.
//
// Two things differ from the seed, on purpose:
// - The seed writes `mp.Process(target=compute_sum(arr, start_idx, end_idx, q))`, which CALLS
//   compute_sum in the parent and gives Process target=None: its "parallel" sum is computed
//   sequentially before any process starts. Here the block really runs in the child
//   (Python's `target=compute_sum, args=(arr, start_idx, end_idx, q)`).
// - The processes use the fork start method (`.start_method = "fork"`): the children inherit
//   `arr` and the queue's shared memory, as the seed's Linux children did under fork.
//   gilfree's default, forkserver, would need the queue passed to the child, which mp::Queue
//   does not do yet (a later step of issue 10).
// The seed drains with `while not q.empty()`, racy in CPython (its empty() is approximate);
// mp::Queue's empty() is exact, and every worker has been joined, so all 10 sums are there.
// expect: 10 blocks of 100000 floats, one process each
// expect: Hi! My name is MainProcess
// expect: Hi! My name is Process-[0-9]+
// expect: sequential sum [0-9.]+, parallel sum [0-9.]+ from 10 partial sums
// expect: \|difference\| < 0\.0001: yes
#include <cmath>
#include <cstddef>
#include <deque>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>
#include <vector>

#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;

// def compute_sum(arr, start_idx, end_idx, q): the block's sum, put on q.
void compute_sum(const std::vector<double>& arr, std::size_t start_idx, std::size_t end_idx,
                 mp::Queue<double> q) {
  // The seed's module-level print('Hi! My name is', __name__), which each child ran again.
  std::cout << "Hi! My name is " << mp::current_process().name() << std::endl;
  double sum = 0;
  for (std::size_t i = start_idx; i < end_idx; ++i) sum += arr[i];
  q.put(sum);
}

int main() {
  std::cout << "Hi! My name is " << mp::current_process().name() << std::endl;
  // arr = [random.random() for _ in range(1_000_000)] (a fixed seed: the same run each time)
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> random(0.0, 1.0);
  std::vector<double> arr(1'000'000);
  for (double& x : arr) x = random(rng);

  mp::Queue<double> q;
  const std::size_t blocks = 10;
  const std::size_t block_size = (arr.size() + blocks - 1) / blocks;  // math.ceil
  std::cout << blocks << " blocks of " << block_size << " floats, one process each\n";
  std::deque<mp::Process> workers;  // a Process does not move: a deque builds them in place
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::size_t start_idx = i * block_size;
    const std::size_t end_idx = std::min((i + 1) * block_size, arr.size());
    workers.emplace_back(mp::ProcessOptions{.start_method = "fork"}, compute_sum,
                         std::cref(arr), start_idx, end_idx, q);
  }
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  for (auto& w : workers) seedkit::check(w.exitcode() == 0, w.name() + " ended normally");

  const double seq_sum = std::accumulate(arr.begin(), arr.end(), 0.0);
  double par_sum = 0;
  int partials = 0;
  while (!q.empty()) {
    par_sum += q.get();
    ++partials;
  }
  std::cout.precision(6);
  std::cout << std::fixed << "sequential sum " << seq_sum << ", parallel sum " << par_sum
            << " from " << partials << " partial sums\n";
  const bool close = std::abs(seq_sum - par_sum) < 0.0001;  // assert abs(...) < 0.0001
  std::cout << "|difference| < 0.0001: " << (close ? "yes" : "no") << '\n';
  seedkit::check(partials == static_cast<int>(blocks), "one partial sum per block");
  seedkit::check(close, "the parallel sum equals the sequential one");
}
