// Seed 002, "The Threading Module" and "Subclassing Thread": three threads each say hello
// five times with their name (time.sleep(1) scaled to 5 ms); the process waits for them, as
// it waits for every non-daemon thread; then a MyThread that overrides run().
// expect: hello from thread Thread-[0-9]+
// expect: hello from MyThread-1
// expect: 15 hellos from 3 threads, then MyThread's
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;

gilfree::Lock print_lock;
std::set<std::string> names;
int hellos = 0;

void func() {
  for (int i = 0; i < 5; ++i) {
    {
      std::scoped_lock with(print_lock);
      std::cout << "hello from thread " << gilfree::current_thread().name() << '\n';
      names.insert(gilfree::current_thread().name());
      ++hellos;
    }
    std::this_thread::sleep_for(5ms);
  }
}

class MyThread : public gilfree::Thread {
 public:
  MyThread() : gilfree::Thread({.name = "MyThread-1"}) {}
  ~MyThread() override { join(); }
  bool ran = false;

 protected:
  void run() override {
    std::scoped_lock with(print_lock);
    std::cout << "hello from " << gilfree::current_thread().name() << '\n';
    ran = true;
  }
};

int main() {
  {
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back(func);  // threading.Thread(target=func, args=())
      threads.back().start();
    }
  }  // leaving the scope joins them (and so would the end of the program)
  seedkit::check(hellos == 15 && names.size() == 3, "three named threads, five hellos each");

  MyThread thread;
  thread.start();
  thread.join();
  seedkit::check(thread.ran, "run() was called on the thread");
  std::cout << "15 hellos from 3 threads, then MyThread's\n";
}
