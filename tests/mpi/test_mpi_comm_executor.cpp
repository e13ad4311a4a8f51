// MPICommExecutor in a static world where every rank runs main (Session {.serve = false}):
// run as `mpirun -n 3 ./test_mpi_comm_executor`. Root 1 first (a root other than 0), then
// root 0 with the same ranks, then a task that throws. Exit status 0 on every rank, or 1
// with a message on the rank whose check failed (mpirun then fails the job).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gilfree/errors.hpp"
#include "gilfree/mpi/futures.hpp"

namespace mpi = gilfree::mpi;

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "CHECK FAILED: %s\n", what);
    ++failures;
  }
}
int square(int x) { return x * x; }
int my_pid() { return static_cast<int>(::getpid()); }
int fail(int) { throw gilfree::ValueError("from a worker"); }
}  // namespace

int main(int argc, char** argv) {
  mpi::Session session(argc, argv, {.serve = false});
  int roots_seen = 0;
  for (int root : {1, 0}) {
    mpi::MPICommExecutor ce(root);
    if (auto* ex = ce.executor()) {
      ++roots_seen;
      check(session.rank() == root, "the executor is on the root");
      check(ex->num_workers() == session.size() - 1, "every other rank is a worker");
      check(ex->submit(square, 12).result() == 144, "a task runs");
      check(ex->submit(my_pid).result() != static_cast<int>(::getpid()), "on another rank");
      std::vector<int> xs{1, 2, 3, 4, 5};
      check(ex->map(square, xs, {.chunksize = 2}) == std::vector<int>{1, 4, 9, 16, 25}, "map");
      bool threw = false;
      try {
        ex->submit(fail, 0).result();
      } catch (const gilfree::ValueError& e) {
        threw = std::string(e.what()) == "from a worker";
      }
      check(threw, "a task's exception reaches the root");
    } else {
      check(session.rank() != root, "no executor off the root");
    }
  }
  check(roots_seen == (session.rank() <= 1 ? 1 : 0), "each root had its executor once");
  bool refused = false;
  try {
    mpi::MPIPoolExecutor plain;  // no workers: the Session does not serve
  } catch (const gilfree::RuntimeError&) {
    refused = true;
  }
  check(refused, "MPIPoolExecutor without workers is a RuntimeError");
  if (failures == 0) std::printf("rank %d: OK\n", session.rank());
  return failures == 0 ? 0 : 1;
}
