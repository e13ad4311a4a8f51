// Seed 003, "Reentrant lock": add_pair() holds the RLock and calls add_red(), which takes the
// same RLock again — fine for an RLock (owner and recursion count), a deadlock with a Lock.
// expect: red_cnt=3, blue_cnt=3
#include <deque>
#include <iostream>
#include <mutex>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

int red_cnt = 0;
int blue_cnt = 0;
gilfree::RLock rlock;

void add_red() {
  std::scoped_lock with(rlock);
  red_cnt += 1;
}

void add_pair() {
  rlock.acquire();
  blue_cnt += 1;
  add_red();  // acquires rlock a second time, from the same thread
  rlock.release();
}

int main() {
  std::deque<gilfree::Thread> ths;
  for (int i = 0; i < 3; ++i) ths.emplace_back(add_pair);
  for (auto& t : ths) t.start();
  for (auto& t : ths) t.join();
  std::cout << "red_cnt=" << red_cnt << ", blue_cnt=" << blue_cnt << '\n';
  seedkit::check(red_cnt == 3 && blue_cnt == 3, "both counters exact");
  try {
    rlock.release();  // not the owner: RuntimeError
    seedkit::check(false, "releasing an un-acquired RLock raises");
  } catch (const gilfree::RuntimeError& e) {
    std::cout << "RuntimeError: " << e.what() << '\n';
  }
}
