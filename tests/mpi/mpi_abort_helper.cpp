// Run under mpirun by expect_abort.sh: a task kills its worker rank mid-task — std::_Exit(7),
// or SIGKILL with the argument "kill" — as a crash would. Open MPI aborts the whole job;
// rank 0 must not hang waiting for the result.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gilfree/mpi/futures.hpp"

namespace {
int die(int code) { std::_Exit(code); }
int killed(int) {
  std::raise(SIGKILL);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  gilfree::mpi::Session session(argc, argv);
  gilfree::mpi::MPIPoolExecutor ex;
  bool kill = argc > 1 && std::strcmp(argv[1], "kill") == 0;
  auto f = kill ? ex.submit(killed, 0) : ex.submit(die, 7);
  f.result();  // never returns: mpirun ends the job
  std::puts("unreachable: rank 0 survived a dead worker");
  return 0;
}
