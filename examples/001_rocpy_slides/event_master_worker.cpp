// Seed 001, "Events Example 2": the master sends (item, evt) to a worker, does other
// processing, then waits on evt; the worker processes the item and sets evt.
// expect: master: item 4 processed by the worker
#include <iostream>
#include <memory>
#include <utility>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "seedkit.hpp"

struct Item {
  int value;
  int result = 0;
};

using Work = std::pair<std::shared_ptr<Item>, std::shared_ptr<gilfree::Event>>;
gilfree::Queue<Work> to_worker;  // worker.send((item, evt)) / get_work()

void worker() {
  for (;;) {
    auto [item, evt] = to_worker.get();
    if (!item) return;
    item->result = item->value * item->value;  // <processing>
    evt->set();                                // Done
  }
}

int main() {
  gilfree::Thread w(worker);
  w.start();
  for (int i = 0; i < 5; ++i) {
    auto item = std::make_shared<Item>(Item{i});  // item = create_item()
    auto evt = std::make_shared<gilfree::Event>();
    to_worker.put({item, evt});
    // Other processing ...
    evt->wait();  // Wait for worker
    seedkit::check(item->result == i * i, "the worker finished before evt was set");
    std::cout << "master: item " << i << " processed by the worker (" << item->result << ")\n";
  }
  to_worker.put({nullptr, nullptr});
  w.join();
}
