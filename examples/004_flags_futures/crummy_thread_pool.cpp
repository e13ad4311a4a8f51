// Seed 004, "Threads, Queues, and Locks": the crummy little thread pool. Four Threads each
// sleep a random while (1–10 s in the seed, 1–10 × 5 ms here) and are joined; then workers
// hand results back through a Queue; then N threads add to a count under a Lock.
// expect: Doing some work\.\.\.
// expect: Done after [0-9]+ sec!
// expect: results: 0 1 4 9
// expect: count = 100
#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::Lock print_lock;

void worker() {
  {
    std::scoped_lock with(print_lock);
    std::cout << "Doing some work..." << std::endl;
  }
  thread_local std::mt19937 rng(std::random_device{}());
  int sleepy_time = std::uniform_int_distribution<int>(1, 10)(rng);
  std::this_thread::sleep_for(sleepy_time * 5ms);
  std::scoped_lock with(print_lock);
  std::cout << "Done after " << sleepy_time << " sec! (" << sleepy_time * 5 << " ms here)" << std::endl;
}

int do_work(int item) { return item * item; }

void queue_worker(int item, gilfree::Queue<int>& queue) {
  int result = do_work(item);
  queue.put(result);
}

int count = 0;

void add_to_count(gilfree::Lock& lock) {
  std::scoped_lock with(lock);
  count += 1;
}

int main() {
  {
    // Start 4 threads
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back(worker);
      threads.back().start();
    }
    // Finish up
    for (auto& t : threads) t.join();
  }
  {
    gilfree::Queue<int> results;
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back(queue_worker, i, std::ref(results));
      threads.back().start();
    }
    std::vector<int> got;
    for (int i = 0; i < 4; ++i) got.push_back(results.get());
    for (auto& t : threads) t.join();
    std::sort(got.begin(), got.end());
    std::cout << "results:";
    for (int r : got) std::cout << ' ' << r;
    std::cout << '\n';
    seedkit::check(got == std::vector<int>{0, 1, 4, 9}, "every worker's result arrived");
  }
  {
    const int N = 100;
    gilfree::Lock lock;
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < N; ++i) {
      threads.emplace_back(add_to_count, std::ref(lock));
      threads.back().start();
    }
    for (auto& t : threads) t.join();
    std::cout << "count = " << count << '\n';
    seedkit::check(count == N, "the Lock-protected count is exact");
  }
}
