// The Executor contract (tests/test_executor.cpp's typed suite, the same source) on
// MPIPoolExecutor: run as `mpirun -n 2 ./test_mpi_executor_contract` (ctest does, under a
// timeout, and leaves out one case; see tests/mpi/CMakeLists.txt). Rank 0 runs the tests;
// the Session turns the other rank into a worker.
#include "gilfree/mpi/futures.hpp"

#define GILFREE_EXECUTOR_CONTRACT_TYPES "mpi/mpi_executor_contract_types.hpp"
#include "../test_executor.cpp"

int main(int argc, char** argv) {
  gilfree::mpi::Session session(argc, argv);  // ranks other than 0 serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
