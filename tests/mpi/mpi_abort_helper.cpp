// Run under mpirun by expect_abort.sh: a task kills its worker rank (std::_Exit), as a
// crash would. Open MPI aborts the whole job; rank 0 must not hang waiting for the result.
#include <cstdio>
#include <cstdlib>

#include "gilfree/mpi/futures.hpp"

namespace {
int die(int code) { std::_Exit(code); }
}  // namespace

int main(int argc, char** argv) {
  gilfree::mpi::Session session(argc, argv);
  gilfree::mpi::MPIPoolExecutor ex;
  auto f = ex.submit(die, 7);
  f.result();  // never returns: mpirun ends the job
  std::puts("unreachable: rank 0 survived a dead worker");
  return 0;
}
