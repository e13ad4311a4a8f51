// No file descriptor leaks: 1000 start/join cycles of a Process per start method (fork,
// forkserver, spawn) leave the parent's descriptor table as it was. Under a sanitizer a
// fork costs ~60 ms (its shadow memory), so the sanitizer builds run 100 cycles per
// method, which still shows a leak of one descriptor per cycle.
#include <dirent.h>

#include <chrono>
#include <gilfree/multiprocessing/process.hpp>
#include <gtest/gtest.h>

namespace mp = gilfree::mp;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kCycles = 100;
#else
constexpr int kCycles = 1000;
#endif

void noop() {}

int count_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

class FdLeak : public ::testing::TestWithParam<const char*> {};

TEST_P(FdLeak, StartJoinCyclesLeaveNoDescriptor) {
  const char* m = GetParam();
  int cycles = std::string(m) == "spawn" ? kCycles / 5 : kCycles;  // spawn: an exec each
  {  // warm up: the fork server's own descriptors
    mp::Process p({.start_method = m}, noop);
    p.start();
    p.join(30.0);
  }
  int before = count_fds();
  for (int i = 0; i < cycles; ++i) {
    mp::Process p({.start_method = m}, noop);
    p.start();
    p.join(30.0);
    if (p.is_alive()) {
      p.kill();
      p.join();
    }
    ASSERT_EQ(p.exitcode(), 0) << "cycle " << i;
  }
  EXPECT_EQ(count_fds(), before) << m << " after " << cycles << " cycles";
}

INSTANTIATE_TEST_SUITE_P(Methods, FdLeak, ::testing::Values("fork", "forkserver", "spawn"));

}  // namespace
