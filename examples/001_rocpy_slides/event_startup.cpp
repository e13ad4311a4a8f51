// Seed 001, "Events Example": workers wait on init, an Event, until initialize() has set
// things up; setting it releases every waiting worker at once.
// expect: 3 workers started after initialization
#include <atomic>
#include <deque>
#include <iostream>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

gilfree::Event init;
std::atomic<bool> initialized{false};
std::atomic<int> started_after_init{0};

void worker() {
  init.wait();  // Wait until initialized
  if (initialized) ++started_after_init;
}

void initialize() {
  initialized = true;  // Setting up
  init.set();          // Done initializing
}

int main() {
  std::deque<gilfree::Thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back(worker);  // Launch workers
    workers.back().start();
  }
  seedkit::check(!init.is_set(), "not set before initialize()");
  initialize();  // Initialize
  for (auto& w : workers) w.join();
  seedkit::check(started_after_init == 3, "every worker waited for initialization");
  std::cout << started_after_init << " workers started after initialization\n";
}
