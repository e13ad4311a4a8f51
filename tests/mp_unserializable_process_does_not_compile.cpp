// Must NOT compile: a Process subclass without a cereal serialize() cannot be registered
// to cross to forkserver and spawn children. ctest compiles it and expects the
// static_assert's message (mp_process_register_static_assert).
#include <gilfree/multiprocessing/process.hpp>

struct NoFields : gilfree::mp::Process {
  int n = 0;
  void run() override {}
};
GILFREE_MP_REGISTER_PROCESS(NoFields);

int main() { return 0; }
