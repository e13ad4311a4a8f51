// Process lifetimes across the parent's end: a SIGKILLed parent leaves no process behind
// (children of every start method, blocked ones, daemonic ones, the fork server); a
// normal exit joins non-daemonic children and terminates daemonic ones; each start
// method works from a parent with 8 busy threads. Each scenario runs in its own session
// (setsid), and the test checks the session empties instead of sleeping and hoping.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/threading.hpp>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

void noop() {}
void sleep_forever() {
  for (;;) ::pause();
}
void block_in_read() {  // blocked in a system call, not in pause()
  int fds[2];
  if (::pipe(fds) != 0) return;
  char c;
  [[maybe_unused]] auto r = ::read(fds[0], &c, 1);
}
void write_after(int fd, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  char c = 'x';
  [[maybe_unused]] auto r = ::write(fd, &c, 1);
}

// The pids of the processes in session `sid` (from /proc/PID/stat's 6th field).
std::vector<pid_t> session_members(pid_t sid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream rest(line.substr(rp + 2));
    char state;
    long ppid, pgrp, session;
    rest >> state >> ppid >> pgrp >> session;
    if (session == sid && state != 'Z') out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// Waits up to `limit` for session `sid` to have no live process; returns those left.
std::vector<pid_t> wait_session_empty(pid_t sid, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  std::vector<pid_t> left;
  do {
    left = session_members(sid);
    if (left.empty()) return left;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < end);
  return left;
}

void kill_session(pid_t sid) {
  for (pid_t p : session_members(sid)) ::kill(p, SIGKILL);
}

// With a second thread in the parent, the fork server is spawned (a fresh exec), not
// forked; it must die with the parent all the same.
class ParentSigkill : public ::testing::TestWithParam<bool> {};

TEST_P(ParentSigkill, LeavesNoProcess) {
  const bool threaded = GetParam();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {  // the parent-to-be-killed, in its own session
    ::setsid();
    ::close(ready[0]);
    if (threaded) std::thread(sleep_forever).detach();
    std::vector<std::unique_ptr<mp::Process>> kids;
    for (const char* m : {"fork", "forkserver", "spawn"}) {
      kids.push_back(std::make_unique<mp::Process>(mp::ProcessOptions{.start_method = m},
                                                   sleep_forever));
      kids.push_back(std::make_unique<mp::Process>(
          mp::ProcessOptions{.daemon = true, .start_method = m}, block_in_read));
    }
    for (auto& k : kids) k->start();
    char c = 'r';
    [[maybe_unused]] auto r = ::write(ready[1], &c, 1);
    sleep_forever();
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  // Six children plus the fork server plus the parent.
  EXPECT_GE(session_members(mid).size(), 8u);
  ::kill(mid, SIGKILL);
  ::waitpid(mid, nullptr, 0);
  auto left = wait_session_empty(mid, 1000ms);
  std::string who;
  for (pid_t p : left) {
    std::ifstream f("/proc/" + std::to_string(p) + "/cmdline");
    std::string c;
    std::getline(f, c);
    who += " " + std::to_string(p) + ":" + c;
  }
  EXPECT_TRUE(left.empty()) << left.size() << " processes outlived their parent by 1 s:" << who;
  kill_session(mid);
}

INSTANTIATE_TEST_SUITE_P(ForkedOrSpawnedServer, ParentSigkill, ::testing::Bool());

TEST(Lifetime, ExitJoinsNonDaemonAndTerminatesDaemon) {
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    ::setsid();
    ::close(done[0]);
    mp::Process slow({.start_method = "fork"}, write_after, done[1], 300);
    mp::Process daemon({.daemon = true, .start_method = "forkserver"}, sleep_forever);
    slow.start();
    daemon.start();
    ::close(done[1]);
    std::exit(0);  // atexit: join `slow`, terminate `daemon`
  }
  ::close(done[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(mid, &status, 0), mid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The non-daemonic child wrote before its parent could exit.
  char c;
  EXPECT_EQ(::read(done[0], &c, 1), 1);
  ::close(done[0]);
  auto left = wait_session_empty(mid, 2000ms);
  EXPECT_TRUE(left.empty()) << left.size() << " processes left after a normal exit";
  kill_session(mid);
}

TEST(Lifetime, EachStartMethodFromAParentWithBusyThreads) {
  // gilfree threads, so a fork child inherits their registry entries and Thread objects
  // (and must neither list nor wait for them). Each spins until the test ends, or 60 s
  // at most; the guard below stops them even when an assertion returns early.
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<gilfree::Thread>> busy;
  struct StopGuard {
    std::atomic<bool>& stop;
    std::vector<std::unique_ptr<gilfree::Thread>>& threads;
    ~StopGuard() {
      stop = true;
      for (auto& t : threads) t->join();
    }
  } guard{stop, busy};
  for (int i = 0; i < 8; ++i) {
    busy.push_back(std::make_unique<gilfree::Thread>(
        gilfree::Thread::Options{.name = "busy-" + std::to_string(i)}, [&stop] {
          const auto deadline = std::chrono::steady_clock::now() + 60s;
          while (!stop.load(std::memory_order_relaxed) &&
                 std::chrono::steady_clock::now() < deadline) {
          }
        }));
    busy.back()->start();
  }
  // A fork server started now, from a multi-threaded parent, is a fresh exec.
  mp::detail::stop_forkserver();
  testing::internal::CaptureStderr();
  for (int round = 0; round < 2; ++round) {
    for (const char* m : {"fork", "forkserver", "spawn"}) {
      mp::Process p({.start_method = m}, noop);
      p.start();
      p.join(30s);
      if (p.is_alive()) {
        p.kill();
        p.join();
      }
      EXPECT_EQ(p.exitcode(), 0) << m;
    }
  }
  std::string err = testing::internal::GetCapturedStderr();
  // fork warns, once.
  auto first = err.find("is multi-threaded, use of fork() may lead to deadlocks");
  EXPECT_NE(first, std::string::npos) << err;
  EXPECT_EQ(err.find("is multi-threaded", first + 1), std::string::npos) << err;
}

}  // namespace
