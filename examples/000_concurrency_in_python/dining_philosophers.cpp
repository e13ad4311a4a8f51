// Seed 000, the exercise: the dining philosophers with locks only. Five philosophers, five
// forks (Locks) between them; each needs both neighbouring forks to eat.
//
// Deadlock needs all four Coffman conditions; this solution removes circular wait, the
// seed's fourth remedy: forks are numbered and every philosopher picks up the lower-numbered
// fork first. A cycle of waiting would need someone holding a higher fork while waiting for
// a lower one, which no philosopher ever does — so no deadlock is possible, on any schedule.
// A watchdog Timer fails the run if the dinner ever stalls; at the end every philosopher
// must have eaten every meal.
//   dining_philosophers [meals=2000]
// args: 2000
// expect: all 5 philosophers ate 2000 meals each
#include <array>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <mutex>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

constexpr int kPhilosophers = 5;

int main(int argc, char** argv) {
  const int meals = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::array<gilfree::Lock, kPhilosophers> forks;
  std::array<int, kPhilosophers> eaten{};
  std::array<int, kPhilosophers> fork_users{};  // who holds each fork: checked while eating

  auto philosopher = [&](int i) {
    int left = i, right = (i + 1) % kPhilosophers;
    int first = std::min(left, right), second = std::max(left, right);  // the lock order
    for (int m = 0; m < meals; ++m) {
      std::scoped_lock<gilfree::Lock> a(forks[first]);  // one at a time, lower first:
      std::scoped_lock<gilfree::Lock> b(forks[second]);  // not std::lock's deadlock avoidance
      seedkit::check(++fork_users[left] == 1 && ++fork_users[right] == 1,
                     "a fork is in one hand at a time");
      ++eaten[i];  // eat
      --fork_users[left];
      --fork_users[right];
    }
  };

  gilfree::Timer watchdog(60.0, [] { seedkit::check(false, "the dinner stalled for 60 s"); });
  watchdog.set_daemon(true);
  watchdog.start();
  {
    std::deque<gilfree::Thread> philosophers;
    for (int i = 0; i < kPhilosophers; ++i)
      philosophers.emplace_back(gilfree::Thread::Options{.name = "philosopher-" + std::to_string(i)},
                                philosopher, i);
    for (auto& p : philosophers) p.start();
    for (auto& p : philosophers) p.join();
  }
  watchdog.cancel();
  for (int i = 0; i < kPhilosophers; ++i) {
    std::cout << "philosopher " << i << " ate " << eaten[i] << " meals\n";
    seedkit::check(eaten[i] == meals, "every philosopher ate every meal");
  }
  std::cout << "all " << kPhilosophers << " philosophers ate " << meals << " meals each\n";
}
