// Seed 004, "Using add_done_callback()": attach the post-processing to the Future itself;
// when_done(future) runs once the work completes, with the Future as its only argument.
// The seed uses a ProcessPoolExecutor; this is the thread side, a ThreadPoolExecutor.
// expect: Got: 1024
// expect: Got: 9 \(callback added after the work was done: called at once\)
// requires: futures
#include <atomic>
#include <iostream>

#include <gilfree/futures.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

std::atomic<int> callbacks{0};

long work(long arg) { return arg * arg; }

void when_done(const gilfree::Future<long>& r) {
  std::cout << "Got: " << r.result() << std::endl;
  ++callbacks;
}

int main() {
  gilfree::Event called;
  {
    gilfree::ThreadPoolExecutor pool;
    auto future_result = pool.submit(work, 32L);
    future_result.add_done_callback([&](gilfree::Future<long> f) {
      when_done(f);
      called.set();
    });
    seedkit::check(called.wait(10.0), "the callback ran");

    auto done = pool.submit(work, 3L);
    done.result();
    std::cout << "Got: " << done.result() << " (callback added after the work was done: called at once)\n";
    done.add_done_callback([&](gilfree::Future<long> f) {
      seedkit::check(f.result() == 9, "the callback sees the result");
      ++callbacks;
    });
  }
  seedkit::check(callbacks == 2, "each callback ran once");
}
