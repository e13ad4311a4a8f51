// Seed 003, "Semaphores": max_connections = 5; `with semaphore:` around connectdb() and the
// connection's use, so no more than 5 connections are open at once among 20 threads.
// expect: 20 threads used a connection; at most [1-5] open at once
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

const int max_connections = 5;
gilfree::Semaphore semaphore(max_connections);
std::atomic<int> open_connections{0}, most_open{0}, used{0};

struct Connection {
  Connection() {
    int now = ++open_connections;
    for (int seen = most_open; now > seen && !most_open.compare_exchange_weak(seen, now);) {
    }
  }
  void close() { --open_connections; }
};

Connection connectdb() { return Connection(); }

void client() {
  std::scoped_lock with(semaphore);
  Connection conn = connectdb();
  try {
    std::this_thread::sleep_for(5ms);  // ... use connection ...
    ++used;
  } catch (...) {
    conn.close();
    throw;
  }
  conn.close();  // finally: conn.close()
}

int main() {
  std::deque<gilfree::Thread> threads;
  for (int i = 0; i < 20; ++i) threads.emplace_back(client);
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  seedkit::check(used == 20 && most_open <= max_connections, "never more than 5 connections");
  std::cout << used << " threads used a connection; at most " << most_open << " open at once\n";
}
