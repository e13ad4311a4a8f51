// MPICommExecutor in a static world where every rank runs main (Session {.serve = false}):
// run as `mpirun -n 4 ./test_mpi_comm_executor`. Over MPI_COMM_WORLD: root 1 first (a root
// other than 0), then root 0 with the same ranks, then a task that throws. Then over the
// two halves of an MPI_Comm_split (even and odd world ranks), each half with its own
// executor at the same time, one of them rooted at its rank 1. Exit status 0 on every
// rank, or 1 with a message on the rank whose check failed (mpirun then fails the job).
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
int world_rank() {
  int r = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
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
      std::vector<int> ys;
      for (int y : ex->map(square, xs, {.chunksize = 2})) ys.push_back(y);
      check(ys == std::vector<int>{1, 4, 9, 16, 25}, "map");
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

  // Two executors at once, one per half of the world.
  const int parity = session.rank() % 2;
  MPI_Comm half = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, parity, session.rank(), &half);
  int half_size = 0, half_rank = 0;
  MPI_Comm_size(half, &half_size);
  MPI_Comm_rank(half, &half_rank);
  const int half_root = parity == 0 ? 0 : half_size - 1;
  bool in_charge = false;
  {
    mpi::MPICommExecutor ce(half, half_root);
    if (auto* ex = ce.executor()) {
      in_charge = true;
      check(half_rank == half_root, "the half's executor is on its root");
      check(ex->num_workers() == half_size - 1, "every other rank of the half is a worker");
      std::vector<gilfree::Future<int>> fs;
      for (int i = 0; i < 20; ++i) fs.push_back(ex->submit(world_rank));
      for (auto& f : fs) {
        int r = f.result();
        check(r % 2 == parity && r != session.rank(), "tasks run on the other ranks of the half");
      }
      long sum = 0;
      for (int y : ex->map(square, std::vector<int>{1, 2, 3, 4}, {.unordered = true})) sum += y;
      check(sum == 30, "map over the half");
    } else {
      check(half_rank != half_root, "no executor off the half's root");
    }
  }
  check(in_charge == (half_rank == half_root), "each half had one root");
  // The program's own traffic on the communicator is untouched by the executor's.
  int one = 1, total = 0;
  MPI_Allreduce(&one, &total, 1, MPI_INT, MPI_SUM, half);
  check(total == half_size, "the half is still usable");
  MPI_Comm_free(&half);
  bool bad_root = false;
  try {
    mpi::MPICommExecutor ce(MPI_COMM_WORLD, session.size());
  } catch (const gilfree::ValueError&) {
    bad_root = true;
  }
  check(bad_root, "a root out of range is a ValueError");
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
