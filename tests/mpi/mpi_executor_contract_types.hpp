// Included by tests/test_executor.cpp (inside its namespace) when built as
// test_mpi_executor_contract: the Executor contract's typed suite run on MPIPoolExecutor.
// The static world's workers are the ranks mpirun started, so `workers` is not honoured.
template <>
struct ExecutorTraits<gilfree::mpi::MPIPoolExecutor> {
  static std::unique_ptr<gilfree::mpi::MPIPoolExecutor> make(int /*workers*/) {
    return std::make_unique<gilfree::mpi::MPIPoolExecutor>();
  }
};
using ExecutorTypes = ::testing::Types<gilfree::mpi::MPIPoolExecutor>;
