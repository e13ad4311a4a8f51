// Compiled against an installed gilfree, by CMake and by pkg-config.
#include <gilfree/threading.hpp>

#include <cstdio>

int main() {
  gilfree::Lock lock;
  int counter = 0;
  gilfree::Thread t([&] {
    std::scoped_lock g(lock);
    ++counter;
  });
  t.start();
  t.join();
  std::printf("installed gilfree works: %d\n", counter);
  return counter == 1 ? 0 : 1;
}
