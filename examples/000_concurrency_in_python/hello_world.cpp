// Seed 000, "Threading": hello/world workers, then a worker with an argument — first called
// by mistake in the main thread (the seed's "Why is this synchronous???"), then passed to
// the thread with its argument, as Thread(target=hello_worker, args=(i,)).
// expect: Goodbye
// expect: counted 20 Hello/World lines, then 4 Hello and 4 Goodbye from 4 threads
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

std::atomic<int> lines{0};
gilfree::Lock print_lock;  // one line at a time; the seed's prints may interleave mid-line

void say(const char* word) {
  std::scoped_lock with(print_lock);
  std::cout << word << '\n';
  ++lines;
}

void hello_worker() {
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(1ms);  // the seed's time.sleep(0.01), scaled down
    say("Hello");
  }
}

void world_worker() {
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(1ms);
    say("World");
  }
}

void hello_worker_n(int n) {
  say("Hello");
  std::this_thread::sleep_for(100ms);  // time.sleep(1), scaled down
  say("Goodbye");
  (void)n;
}

int main() {
  {
    gilfree::Thread hello(hello_worker);
    hello.start();
    gilfree::Thread world(world_worker);
    world.start();
    hello.join();
    world.join();
  }
  int first = lines.exchange(0);

  // threading.Thread(target=hello_worker(i)) calls hello_worker in the main thread: the
  // result (None) becomes the target. In C++ the mistake does not compile — Thread needs
  // something callable — so there is nothing to show but the right way:
  std::deque<gilfree::Thread> threads;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(hello_worker_n, i);  // Thread(target=hello_worker, args=(i,))
    threads.back().start();
  }
  for (auto& t : threads) t.join();
  auto took = std::chrono::steady_clock::now() - t0;

  seedkit::check(first == 20, "20 Hello/World lines");
  seedkit::check(lines == 8, "4 Hello and 4 Goodbye");
  // Four 100 ms sleeps overlapped: far less than the 400 ms a synchronous loop takes (with
  // room for a busy machine's slow thread starts).
  seedkit::check(took < 390ms, "the four workers ran concurrently");
  std::cout << "counted 20 Hello/World lines, then 4 Hello and 4 Goodbye from 4 threads\n";
}
