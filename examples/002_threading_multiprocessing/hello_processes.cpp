// Seed 002, "Multiprocessing": multiprocessing.Process instead of threading.Thread. Two
// processes each say hello with their pid (time.sleep(1) scaled to 10 ms); as in Python,
// the program waits for its non-daemonic children at exit. The default start method is
// forkserver (Python 3.14's): func is a plain function, so it crosses to the worker.
// expect: hello from process [0-9]+
// expect: 2 processes said hello, exit codes 0 and 0
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <gilfree/multiprocessing/process.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

void func() {
  std::cout << "hello from process " << ::getpid() << std::endl;
  std::this_thread::sleep_for(10ms);
}

int main() {
  mp::Process proc1(func);  // multiprocessing.Process(target=func, args=())
  proc1.start();
  mp::Process proc2(func);
  proc2.start();
  proc1.join();
  proc2.join();
  seedkit::check(proc1.pid() != proc2.pid() && *proc1.pid() != ::getpid(),
                 "two child processes, each with its own pid");
  seedkit::check(proc1.exitcode() == 0 && proc2.exitcode() == 0, "both ended normally");
  std::cout << "2 processes said hello, exit codes " << *proc1.exitcode() << " and "
            << *proc2.exitcode() << '\n';
}
