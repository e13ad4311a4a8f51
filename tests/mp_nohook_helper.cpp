// An executable linked WITHOUT gilfree's main hook (GILFREE_NO_MAIN_HOOK), for the spawn
// tests: "hookless" shows that spawn is refused with a clear error instead of re-running
// main (a fork bomb); "freeze" shows that mp::freeze_support(argc, argv) is enough; "guard"
// shows that a spawned worker reaching user code cannot start processes.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <gilfree/multiprocessing/process.hpp>

namespace mp = gilfree::mp;

static void noop() {}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "freeze") == 0) mp::freeze_support(argc, argv);
  if (std::strcmp(mode, "guard") == 0 && !std::getenv("GILFREE_MP_WORKER"))
    mp::freeze_support(argc, argv);  // the parent says it is ready; the child will not
  mp::Process p({.start_method = "spawn"}, noop);
  try {
    p.start();
  } catch (const gilfree::RuntimeError& e) {
    std::printf("refused: %s\n", e.what());
    return 0;
  }
  p.join(30);
  if (p.is_alive()) {
    p.kill();
    p.join();
  }
  std::printf("exitcode %d\n", p.exitcode().value_or(-999));
  return 0;
}
