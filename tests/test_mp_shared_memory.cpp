// multiprocessing.shared_memory.SharedMemory: create/attach, errors, CPython interop by
// name both ways, creator-side tracking at exit, and no leaked /dev/shm entries or fds.
// Every child is bounded and reaped; every segment is unlinked.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <gilfree/multiprocessing/shared_memory.hpp>
#include <gtest/gtest.h>
#include <string>
#include <thread>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using mp::shared_memory::SharedMemory;

namespace {

int count_dir(const char* path) {
  int n = 0;
  if (DIR* d = ::opendir(path)) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

bool shm_exists(const std::string& name) { return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0; }

bool have_python() { return std::system("python3 -c 'import multiprocessing.shared_memory' 2>/dev/null") == 0; }

TEST(SharedMemory, CreateAttachReadWrite) {
  SharedMemory a("", true, 100);
  EXPECT_EQ(a.name().rfind("psm_", 0), 0u) << a.name();
  EXPECT_EQ(a.name().size(), 12u);
  EXPECT_EQ(a.size(), 100u);
  ASSERT_TRUE(shm_exists(a.name()));
  std::memcpy(a.buf().data(), "hello", 5);
  {
    SharedMemory b(a.name());
    EXPECT_EQ(b.size(), 100u);
    EXPECT_EQ(std::memcmp(b.buf().data(), "hello", 5), 0);
    b.buf()[0] = std::byte{'J'};
  }
  EXPECT_EQ(a.buf()[0], std::byte{'J'});
  a.close();
  EXPECT_TRUE(a.buf().empty());
  a.close();  // idempotent
  a.unlink();
  EXPECT_FALSE(shm_exists(a.name()));
  EXPECT_THROW(a.unlink(), mp::shared_memory::FileNotFoundError);
}

TEST(SharedMemory, Errors) {
  EXPECT_THROW(SharedMemory("", true, 0), gilfree::ValueError);
  EXPECT_THROW(SharedMemory(""), gilfree::ValueError);
  EXPECT_THROW(SharedMemory("gilfree_no_such_segment_xyz"), mp::shared_memory::FileNotFoundError);
  SharedMemory a("", true, 10);
  EXPECT_THROW(SharedMemory(a.name(), true, 10), mp::shared_memory::FileExistsError);
  SharedMemory b("/" + a.name());  // a leading slash is accepted, as CPython's
  EXPECT_EQ(b.name(), a.name());
  a.unlink();
}

TEST(SharedMemory, SeenByAForkedChild) {
  SharedMemory a("", true, 4096);
  const std::string name = a.name();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      SharedMemory b(name);
      std::memcpy(b.buf().data(), "from child", 10);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  EXPECT_EQ(mp_test::bounded_wait(pid), 0);
  EXPECT_EQ(std::memcmp(a.buf().data(), "from child", 10), 0);
  a.unlink();
}

TEST(SharedMemory, TrackedSegmentIsUnlinkedAtCreatorExit) {
  for (bool track : {true, false}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      SharedMemory s("", true, 64, {.track = track});
      char name[32] = {};
      std::snprintf(name, sizeof name, "%s", s.name().c_str());
      if (::write(fds[1], name, sizeof name) != sizeof name) ::_exit(3);
      s.close();
      ::freopen("/dev/null", "w", stderr);  // the tracker's warning is expected here
      std::exit(0);                         // atexit runs the tracker
    }
    ::close(fds[1]);
    char name[32] = {};
    ssize_t n = ::read(fds[0], name, sizeof name);
    ::close(fds[0]);
    int rc = mp_test::bounded_wait(pid);
    ASSERT_EQ(n, 32);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(shm_exists(name), !track) << "track=" << track;
    if (!track) SharedMemory(name).unlink();
  }
}

TEST(SharedMemory, TrackedSegmentIsUnlinkedWhenItsCreatorIsKilled) {
  // The tracker process sees the creator's end of its socket close, whatever killed it,
  // and unlinks what the creator registered; untracked segments stay.
  for (bool track : {true, false}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      ::freopen("/dev/null", "w", stderr);  // the tracker's warning is expected here
      SharedMemory s("", true, 64, {.track = track});
      char name[32] = {};
      std::snprintf(name, sizeof name, "%s", s.name().c_str());
      if (::write(fds[1], name, sizeof name) != sizeof name) ::_exit(3);
      for (;;) ::pause();
    }
    ::close(fds[1]);
    char name[32] = {};
    ssize_t n = ::read(fds[0], name, sizeof name);
    ::close(fds[0]);
    ASSERT_EQ(n, 32);
    EXPECT_TRUE(shm_exists(name));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(mp_test::bounded_wait(pid), 128 + SIGKILL);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (track && shm_exists(name) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(shm_exists(name), !track) << "track=" << track;
    if (!track) SharedMemory(name).unlink();
  }
}

TEST(SharedMemory, ForkChildDoesNotUnlinkItsParentsSegments) {
  SharedMemory a("", true, 64);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) std::exit(0);  // runs atexit handlers in the child
  EXPECT_EQ(mp_test::bounded_wait(pid), 0);
  EXPECT_TRUE(shm_exists(a.name()));
  a.unlink();
}

TEST(SharedMemory, NoLeakedEntriesOrFds) {
  // /dev/shm is shared with whatever else runs on the machine, so the entries counted are
  // the ones this test made; the fds are this process's own.
  { SharedMemory warm("", true, 64); warm.unlink(); }  // the tracker's socket lasts: count after it
  const int fd_before = count_dir("/proc/self/fd");
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    SharedMemory a("", true, 1 << 16);
    names.push_back(a.name());
    SharedMemory b(a.name());
    b.buf()[100] = std::byte{1};
    SharedMemory c = std::move(b);
    a.unlink();
  }
  int left = 0;
  for (const auto& n : names) left += shm_exists(n);
  EXPECT_EQ(left, 0);
  EXPECT_EQ(count_dir("/proc/self/fd"), fd_before);
}

TEST(SharedMemory, CPythonAttachesToOurs) {
  if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing.shared_memory not found";
  SharedMemory a("", true, 32);
  std::memcpy(a.buf().data(), "gilfree", 7);
  // CPython 3.11 registers attached segments with its resource tracker (issue 82300),
  // which would unlink ours at its exit; the script unregisters, as users must there.
  const std::string cmd =
      "python3 -c \"import sys\nfrom multiprocessing import shared_memory, resource_tracker\n"
      "s = shared_memory.SharedMemory('" + a.name() + "')\n"
      "resource_tracker.unregister(s._name, 'shared_memory')\n"
      "assert bytes(s.buf[:7]) == b'gilfree', bytes(s.buf[:7])\n"
      "s.buf[:6] = b'python'\ns.close()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(std::memcmp(a.buf().data(), "python", 6), 0);
  EXPECT_TRUE(shm_exists(a.name()));
  a.unlink();
}

TEST(SharedMemory, WeAttachToCPythons) {
  if (!have_python()) GTEST_SKIP() << "python3 with multiprocessing.shared_memory not found";
  const std::string name = "gilfree_test_" + std::to_string(::getpid());
  const std::string cmd =
      "python3 -c \"from multiprocessing import shared_memory, resource_tracker\n"
      "s = shared_memory.SharedMemory('" + name + "', create=True, size=4096)\n"
      "resource_tracker.unregister(s._name, 'shared_memory')\n"
      "s.buf[:6] = b'python'\ns.close()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  SharedMemory b(name);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(std::memcmp(b.buf().data(), "python", 6), 0);
  b.unlink();
  EXPECT_FALSE(shm_exists(name));
}

}  // namespace
