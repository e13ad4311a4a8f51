// Must NOT compile: a lambda with captures cannot be encoded as a cross-process call.
// ctest compiles it and expects the static_assert's message (mp_capture_static_assert).
#include <gilfree/multiprocessing/reduction.hpp>

int main() {
  int n = 3;
  auto call = gilfree::mp::encode_call([n](int x) { return n + x; }, 1);
  return static_cast<int>(call.size());
}
