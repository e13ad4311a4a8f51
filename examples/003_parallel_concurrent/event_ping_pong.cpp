// Seed 003, "Event Objects": producer and consumer take turns through two Events: the
// producer waits for elem_get, appends, sets elem_put; the consumer waits for elem_put (with
// a timeout: when none comes for 0.5 s it stops), reads, sets elem_get.
// expect: Consume 2
#include <chrono>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::Event elem_put;
gilfree::Event elem_get;
std::vector<int> q;
std::ostringstream out;  // written by one thread at a time: the Events take turns

void produce() {
  for (int num = 0; num < 3; ++num) {
    elem_get.wait();
    q.push_back(num);
    out << "Produce " << num << '\n';
    elem_get.clear();
    elem_put.set();
  }
}

void consume() {
  while (elem_put.wait(0.5)) {
    out << "Consume " << q.back() << '\n';
    elem_put.clear();
    elem_get.set();
  }
}

int main() {
  gilfree::Thread p(produce), c(consume);
  p.start();
  c.start();
  std::this_thread::sleep_for(20ms);  // time.sleep(0.2), scaled down
  elem_get.set();
  p.join();
  c.join();  // returns once elem_put.wait(timeout=0.5) times out
  std::cout << out.str();
  seedkit::check(out.str() == "Produce 0\nConsume 0\nProduce 1\nConsume 1\nProduce 2\nConsume 2\n",
                 "strict ping-pong");
}
