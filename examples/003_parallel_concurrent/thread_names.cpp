// Seed 003, "Thread": threads named Jane and Zach, each printing its native id, its name,
// its message and its keyword arguments; then the same as daemon threads (daemon=True),
// which do not hold up the program's exit. Python's **kwargs become a list of pairs.
// expect: thread id=[0-9]+, name=Jane, message=hello
// expect: Zach: occupation=Teacher
// expect: daemons Zach and Jane started; exiting without waiting
#include <chrono>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

using namespace std::chrono_literals;
using Kwargs = std::vector<std::pair<std::string, std::string>>;

// Never destroyed: the daemon threads may still be using it while the process exits.
gilfree::Lock& print_lock = *new gilfree::Lock;

void func(const std::string& message, const Kwargs& kwargs) {
  std::string name = gilfree::current_thread().name();
  auto id = *gilfree::current_thread().native_id();
  {
    std::scoped_lock with(print_lock);
    std::cout << "thread id=" << id << ", name=" << name << ", message=" << message << '\n';
  }
  for (const auto& [k, w] : kwargs) {
    {
      std::scoped_lock with(print_lock);
      std::cout << name << ": " << k << '=' << w << '\n';
    }
    std::this_thread::sleep_for(10ms);  // time.sleep(0.1), scaled down
  }
}

int main() {
  {
    gilfree::Thread jane({.name = "Jane"}, func, "hello", Kwargs{{"gender", "female"}, {"age", "34"}});
    gilfree::Thread zach({.name = "Zach"}, func, "hi",
                         Kwargs{{"gender", "male"}, {"age", "60"}, {"occupation", "Teacher"}});
    jane.start();
    zach.start();
    seedkit::check(jane.name() == "Jane" && !jane.daemon(), "named, and not a daemon by default");
    jane.join();
    zach.join();
  }

  // Daemon threads: heap-allocated and never joined; the process exits without them.
  auto* t2 = new gilfree::Thread({.name = "Zach"}, func, "hi",
                                 Kwargs{{"gender", "male"}, {"age", "60"}, {"occupation", "Teacher"}});
  t2->set_daemon(true);  // t2.daemon = True
  t2->start();
  auto* t3 = new gilfree::Thread({.name = "Jane", .daemon = true}, func, "hello",
                                 Kwargs{{"gender", "female"}, {"age", "34"}});
  t3->start();
  seedkit::check(t2->daemon() && t3->daemon(), "both are daemons");
  std::scoped_lock with(print_lock);
  std::cout << "daemons Zach and Jane started; exiting without waiting\n";
}
