// Seed 002, "Pipes (multiprocessing.Pipe)": a pair of connected objects for two-way
// messages. First the seed's own lines (send "foo" on one end, recv it on the other), then
// the same pipe between two processes: the child answers each question it receives.
// expect: ^foo
// expect: child answered: 6 \* 7 = 42
// expect: child saw the pipe close and exited 0
#include <iostream>
#include <string>
#include <utility>

#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>

#include "seedkit.hpp"

namespace mp = gilfree::mp;

// Multiplies the pairs it receives until the parent closes its end (EOFError).
void multiplier(mp::Connection conn) {
  try {
    for (;;) {
      auto [a, b] = conn.recv<std::pair<int, int>>();
      conn.send(std::to_string(a) + " * " + std::to_string(b) + " = " + std::to_string(a * b));
    }
  } catch (const mp::EOFError&) {
  }
}

int main() {
  {
    auto [parent_conn, child_conn] = mp::Pipe();
    child_conn.send(std::string("foo"));
    std::cout << parent_conn.recv<std::string>() << '\n';
  }

  auto [parent_conn, child_conn] = mp::Pipe();
  // As in Python, the child's end is an argument: it crosses under every start method (the
  // default is forkserver; its descriptor travels with the start), and start() closes the
  // parent's copy, so the child sees EOF when the parent closes its own end.
  mp::Process child(multiplier, std::move(child_conn));
  child.start();
  parent_conn.send(std::pair{6, 7});
  std::cout << "child answered: " << parent_conn.recv<std::string>() << '\n';
  parent_conn.close();
  child.join(10.0);
  seedkit::check(child.exitcode() == 0, "the child ended when the pipe closed");
  std::cout << "child saw the pipe close and exited " << *child.exitcode() << '\n';
}
