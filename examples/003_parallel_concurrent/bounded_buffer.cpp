// Seed 003, "Condition variables": a bounded buffer (capacity 5) with two Conditions on one
// RLock, BufferNotFull and BufferNotEmpty; 2 producers and 3 consumers run for 0.2 s.
// The seed stops them with `closed = True` only, which can leave a consumer waiting forever
// on an empty buffer; here closing also notifies both Conditions and the waits check
// `closed`, so every thread ends. The checks: the buffer never exceeds its capacity, and
// every item produced was consumed or is still in the buffer.
// expect: produced [0-9]+, consumed [0-9]+, left [0-5]; the buffer never held more than [1-5]
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::RLock rlock;
gilfree::Condition BufferNotFull(rlock);
gilfree::Condition BufferNotEmpty(rlock);

std::deque<std::string> q;
const std::size_t capacity = 5;
bool closed = false;  // guarded by rlock
long produced = 0, consumed = 0;
std::size_t most = 0;

void produce() {
  for (;;) {
    std::scoped_lock with(rlock);
    while (q.size() >= capacity && !closed) BufferNotFull.wait();
    if (closed) return;
    q.push_back("item");  // print(f'{name} produces one item.') — left quiet: thousands
    ++produced;
    most = std::max(most, q.size());
    BufferNotEmpty.notify();
  }
}

void consume() {
  for (;;) {
    std::scoped_lock with(rlock);
    while (q.empty() && !closed) BufferNotEmpty.wait();
    if (q.empty()) return;  // closed and drained
    q.pop_front();
    ++consumed;
    BufferNotFull.notify();
  }
}

int main() {
  std::deque<gilfree::Thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back(produce);
  for (int i = 0; i < 3; ++i) threads.emplace_back(consume);
  for (auto& t : threads) t.start();
  std::this_thread::sleep_for(200ms);
  {
    std::scoped_lock with(rlock);
    closed = true;
    BufferNotFull.notify_all();
    BufferNotEmpty.notify_all();
  }
  for (auto& t : threads) t.join();
  std::cout << "produced " << produced << ", consumed " << consumed << ", left " << q.size()
            << "; the buffer never held more than " << most << '\n';
  seedkit::check(most <= capacity, "never above capacity");
  seedkit::check(produced > 0 && consumed + long(q.size()) == produced, "nothing lost");
}
