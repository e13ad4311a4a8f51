// Seed 002, the locking exercise (stdout_writer.py): several threads write lines to stdout a
// piece at a time and their output gets jumbled. 1. a Lock gives each thread exclusive access
// for a whole line; 2. a Semaphore(2) lets two threads in at once (lines may mix again, but
// never more than two writers). Output goes through a shared buffer so the program can check
// what a reader of stdout would see.
// expect: with a Lock: 400 lines, all whole
// expect: with a Semaphore\(2\): at most [12] writers at once
#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

// stdout, one character at a time, shared by every thread (a std::string behind its own
// tiny Lock stands in for the terminal, which interleaves writes the same way).
class Terminal {
 public:
  void write(char c) {
    std::scoped_lock with(lock_);
    text_ += c;
  }
  std::string text() {
    std::scoped_lock with(lock_);
    return text_;
  }

 private:
  gilfree::Lock lock_;
  std::string text_;
};

template <class Guard>
std::string run(Guard& guard, std::atomic<int>& writers, std::atomic<int>& most) {
  Terminal out;
  std::deque<gilfree::Thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string line = "thread " + std::to_string(t) + " writes line " + std::to_string(i) + "\n";
        std::scoped_lock with(guard);
        int now = ++writers;
        for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        for (char c : line) {
          out.write(c);
          if (c == ' ') std::this_thread::yield();  // give the others a chance to cut in
        }
        --writers;
      }
    });
    threads.back().start();
  }
  for (auto& th : threads) th.join();
  return out.text();
}

// Counts lines of the form "thread T writes line I".
int whole_lines(const std::string& text) {
  std::istringstream in(text);
  int whole = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string a, c, d;
    int t = -1, i = -1;
    if ((words >> a >> t >> c >> d >> i) && a == "thread" && c == "writes" && d == "line" && words.eof())
      ++whole;
  }
  return whole;
}

// A guard that guards nothing: the original, jumbled program.
struct NoGuard {
  void lock() {}
  void unlock() {}
};

int main() {
  std::atomic<int> writers{0}, most{0};
  NoGuard none;
  std::string jumbled = run(none, writers, most);
  std::cout << "without a lock: " << whole_lines(jumbled) << " of 400 lines whole, up to " << most
            << " writers at once; a sample:\n"
            << jumbled.substr(0, 160) << "...\n";

  gilfree::Lock lock;
  writers = most = 0;
  std::string locked = run(lock, writers, most);
  seedkit::check(whole_lines(locked) == 400 && most == 1, "a Lock keeps every line whole");
  std::cout << "with a Lock: " << whole_lines(locked) << " lines, all whole\n";

  gilfree::Semaphore two(2);
  writers = most = 0;
  std::string shared = run(two, writers, most);
  seedkit::check(most <= 2, "at most two writers inside the Semaphore(2)");
  std::cout << "with a Semaphore(2): at most " << most << " writers at once, "
            << whole_lines(shared) << " of 400 lines whole\n";
}
