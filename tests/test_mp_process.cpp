// multiprocessing.Process with each start method: lifecycle, exit codes, signals, misuse
// errors, module functions and contexts. Every child is bounded (join with a timeout,
// then kill) and reaped before a test ends.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/futures.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/threading.hpp>
#include <gtest/gtest.h>
#include "mp_child.hpp"
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

void noop() {}
void exit_with(int code) { throw mp::SystemExit{code}; }
void raise_value_error() { throw gilfree::ValueError("boom"); }
void call_exit(int code) { std::exit(code); }
void grow_and_exit(std::vector<int>& v) {  // takes its argument by reference
  v.push_back(7);
  throw mp::SystemExit{static_cast<int>(v.size())};
}
void sleep_forever() {
  for (;;) ::pause();
}
void send_back(int fd, int x) {  // writes x*2 to fd (an inherited pipe under fork)
  mp::Connection c(fd);
  c.send(x * 2);
  c.release();
}
void send_back_to(std::string address, int x) {  // works under every start method
  mp::Client(address).send(x * 2);
}
void check_name_and_parent(std::string address) {
  std::string s = mp::current_process().name();
  s += "|";
  s += mp::parent_process() ? mp::parent_process()->name() : std::string("none");
  s += mp::parent_process() && mp::parent_process()->is_alive() ? "|alive" : "|gone";
  mp::Client(address).send(s);
}
// Leaves output in the buffers of C's stdout and of an unsynchronised std::cout: the
// child's end must flush both, as Python's flushes sys.stdout and sys.stderr.
void write_buffered_output() {
  std::printf("c-out");
  std::cout << "|cxx";
  std::ios::sync_with_stdio(false);  // std::cout now buffers on its own
  std::cout << "|unsynced";
}
std::string abstract_address() {
  static int n = 0;
  return std::string(1, '\0') + "gilfree-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

using mp_test::bounded_join;

class StartMethods : public ::testing::TestWithParam<const char*> {};

// A function taking a non-const reference gets the child's copy of the argument, under
// every start method (the call crosses by value, as in Python).
TEST_P(StartMethods, FunctionTakingAReference) {
  auto ctx = mp::get_context(GetParam());
  auto p = ctx.Process({}, grow_and_exit, std::vector<int>{1, 2});
  p.start();
  bounded_join(p);
  EXPECT_EQ(p.exitcode(), 3);
}

TEST_P(StartMethods, ExitCodes) {
  auto ctx = mp::get_context(GetParam());
  {
    auto p = ctx.Process({}, noop);
    EXPECT_FALSE(p.exitcode());
    EXPECT_FALSE(p.pid());
    p.start();
    EXPECT_TRUE(p.pid());
    bounded_join(p);
    EXPECT_EQ(p.exitcode(), 0);
  }
  {
    auto p = ctx.Process({}, exit_with, 7);
    p.start();
    bounded_join(p);
    EXPECT_EQ(p.exitcode(), 7);
  }
  {
    auto p = ctx.Process({}, call_exit, 3);
    p.start();
    bounded_join(p);
    EXPECT_EQ(p.exitcode(), 3);
  }
  {
    auto p = ctx.Process({.name = "Failing"}, raise_value_error);
    testing::internal::CaptureStderr();
    p.start();
    bounded_join(p);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(p.exitcode(), 1);
    EXPECT_NE(err.find("Process Failing:"), std::string::npos) << err;
    EXPECT_NE(err.find("ValueError: boom"), std::string::npos) << err;
  }
}

TEST_P(StartMethods, TerminateKillInterruptBlockedChild) {
  auto ctx = mp::get_context(GetParam());
  int sigs[] = {SIGTERM, SIGKILL, SIGINT};
  for (int sig : sigs) {
    auto p = ctx.Process({}, sleep_forever);
    p.start();
    EXPECT_TRUE(p.is_alive());
    p.join(50ms);  // a join that times out
    EXPECT_TRUE(p.is_alive());
    EXPECT_FALSE(p.exitcode());
    if (sig == SIGTERM) p.terminate();
    if (sig == SIGKILL) p.kill();
    if (sig == SIGINT) p.interrupt();
    bounded_join(p);
    EXPECT_EQ(p.exitcode(), -sig);
    EXPECT_FALSE(p.is_alive());
  }
}

TEST_P(StartMethods, ValuesComeBack) {
  auto ctx = mp::get_context(GetParam());
  if (std::string(GetParam()) == "fork") {  // an inherited pipe
    auto [r, w] = mp::Pipe(false);
    auto p = ctx.Process({}, send_back, w.fileno(), 21);
    p.start();
    EXPECT_TRUE(r.poll(20s));
    EXPECT_EQ(r.recv<int>(), 42);
    bounded_join(p);
  }
  std::string addr = abstract_address();
  mp::Listener l(mp::Address{addr});
  auto p = ctx.Process({}, send_back_to, addr, 21);
  p.start();
  ASSERT_FALSE(mp::wait(std::vector<int>{l.fileno()}, 20s).empty());
  auto c = l.accept();
  ASSERT_TRUE(c.poll(20s));
  EXPECT_EQ(c.recv<int>(), 42);
  bounded_join(p);
}

TEST_P(StartMethods, SentinelBecomesReadable) {
  auto ctx = mp::get_context(GetParam());
  auto p = ctx.Process({}, noop);
  EXPECT_THROW(p.sentinel(), gilfree::ValueError);
  p.start();
  auto ready = mp::wait(std::vector<int>{p.sentinel()}, 20s);
  ASSERT_EQ(ready.size(), 1u);
  bounded_join(p);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(StartMethods, ChildSeesItsNameAndParent) {
  auto ctx = mp::get_context(GetParam());
  std::string addr = abstract_address();
  mp::Listener l(mp::Address{addr});
  auto p = ctx.Process({.name = "kid"}, check_name_and_parent, addr);
  p.start();
  ASSERT_FALSE(mp::wait(std::vector<int>{l.fileno()}, 20s).empty());
  auto c = l.accept();
  ASSERT_TRUE(c.poll(20s));
  EXPECT_EQ(c.recv<std::string>(), "kid|MainProcess|alive");
  bounded_join(p);
}

INSTANTIATE_TEST_SUITE_P(Methods, StartMethods, ::testing::Values("fork", "forkserver", "spawn"));

TEST_P(StartMethods, ChildsBufferedOutputIsFlushedWhenItEnds) {
  auto warm = mp::get_context(GetParam()).Process({}, noop);  // a fork server, if any, now
  warm.start();
  bounded_join(warm);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(stdout);
  std::cout.flush();
  int saved = ::dup(1);
  ::dup2(fds[1], 1);
  auto p = mp::get_context(GetParam()).Process({}, write_buffered_output);
  p.start();
  bounded_join(p);
  ::dup2(saved, 1);
  ::close(saved);
  ::close(fds[1]);
  // Not read to EOF: a fork server started here holds the pipe too. The child has ended,
  // so whatever it flushed is in the pipe now.
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string out;
  char buf[64];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  ::close(fds[0]);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_NE(out.find("c-out|cxx"), std::string::npos) << out;
  EXPECT_NE(out.find("|unsynced"), std::string::npos) << out;
}

TEST(Process, MisuseErrorsAsPython) {
  mp::Process p({.start_method = "fork"}, noop);
  EXPECT_THROW(p.join(), mp::AssertionError);  // join before start
  p.start();
  EXPECT_THROW(p.start(), mp::AssertionError);  // start twice
  EXPECT_THROW(p.set_daemon(true), mp::AssertionError);
  p.join(20s);
  EXPECT_EQ(p.exitcode(), 0);
  p.close();
  EXPECT_THROW(p.start(), gilfree::ValueError);
  EXPECT_THROW(p.is_alive(), gilfree::ValueError);
  EXPECT_THROW(mp::current_process().join(), mp::AssertionError);  // join self
  mp::Process q({.start_method = "fork"}, sleep_forever);
  q.start();
  EXPECT_THROW(q.close(), gilfree::ValueError);
  q.kill();
  q.join(20s);
  EXPECT_EQ(q.exitcode(), -SIGKILL);
}

void try_start_grandchild(int fd) {
  mp::Connection c(fd);
  mp::Process g({.start_method = "fork"}, noop);
  try {
    g.start();
    c.send(std::string("started"));
  } catch (const mp::AssertionError& e) {
    c.send(std::string(e.what()));
  }
  c.release();
}

TEST(Process, DaemonCannotHaveChildren) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p({.daemon = true, .start_method = "fork"}, try_start_grandchild, w.fileno());
  EXPECT_TRUE(p.daemon());
  p.start();
  ASSERT_TRUE(r.poll(20s));
  EXPECT_EQ(r.recv<std::string>(), "daemonic processes are not allowed to have children");
  bounded_join(p);
}

TEST(Process, NamesFollowPython) {
  mp::Process a(noop), b(noop);
  EXPECT_EQ(a.name().rfind("Process-", 0), 0u);
  EXPECT_NE(a.name(), b.name());
  a.set_name("x");
  EXPECT_EQ(a.name(), "x");
  EXPECT_EQ(mp::current_process().name(), "MainProcess");
  EXPECT_EQ(mp::parent_process(), nullptr);
  EXPECT_EQ(mp::current_process().authkey().size(), 32u);
  EXPECT_EQ(a.authkey(), mp::current_process().authkey());
  EXPECT_GE(mp::cpu_count(), 1);
}

TEST(Process, ContextsAndStartMethods) {
  EXPECT_EQ(mp::get_all_start_methods(),
            (std::vector<std::string>{"forkserver", "fork", "spawn"}));
  EXPECT_THROW(mp::get_context("nope"), gilfree::ValueError);
  EXPECT_EQ(mp::get_context("spawn").get_start_method(), "spawn");
  mp::set_start_method("", true);
  EXPECT_EQ(mp::get_start_method(true), "");
  EXPECT_EQ(mp::get_start_method(), "forkserver");
  EXPECT_THROW(mp::set_start_method("fork"), gilfree::RuntimeError);
  mp::set_start_method("fork", true);
  EXPECT_EQ(mp::get_start_method(), "fork");
  mp::Process p(noop);
  EXPECT_EQ(p.start_method(), "fork");
  mp::set_start_method("forkserver", true);
}

TEST(Process, CapturingLambdaNeedsFork) {
  int x = 5;
  mp::Process p({.start_method = "forkserver"}, [x] { (void)x; });
  EXPECT_THROW(p.start(), mp::PicklingError);
  mp::Process q({.start_method = "fork"}, [x] {
    if (x != 5) std::abort();
  });
  q.start();
  bounded_join(q);
  EXPECT_EQ(q.exitcode(), 0);
}

struct Sub : mp::Process {
  explicit Sub(int code) : mp::Process({.start_method = "fork"}), code_(code) {}
  void run() override { throw mp::SystemExit{code_}; }
  int code_;
};

TEST(Process, SubclassOverridingRun) {
  Sub s(9);
  EXPECT_EQ(s.name().rfind("Sub-", 0), 0u) << s.name();
  s.start();
  bounded_join(s);
  EXPECT_EQ(s.exitcode(), 9);
}

TEST(Process, ActiveChildrenReaps) {
  mp::Process p({.start_method = "fork"}, sleep_forever);
  p.start();
  auto kids = mp::active_children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0], &p);
  p.terminate();
  p.join(20s);
  EXPECT_TRUE(mp::active_children().empty());
}

TEST(Process, StdoutBufferedBeforeForkIsNotPrintedTwice) {
  // The child's stdout goes to a pipe; the parent writes unflushed data first.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(stdout);
  int saved = ::dup(1);
  ::dup2(fds[1], 1);
  std::printf("once");  // buffered: stdout is a pipe now
  mp::Process p({.start_method = "fork"}, noop);
  p.start();
  p.join(20s);
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  ::close(fds[1]);
  std::string out;
  char buf[64];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  ::close(fds[0]);
  EXPECT_EQ(out, "once");
}

// ---- fork children and the parent's gilfree threads ------------------------------------

// A non-daemon gilfree::Thread of the parent that runs until the test ends (bounded).
struct ParentSleeper {
  gilfree::Event stop;
  gilfree::Thread t{[this] { (void)stop.wait(60s); }};
  ParentSleeper() { t.start(); }
  ~ParentSleeper() {
    stop.set();
    t.join();
  }
};

// Reads one byte from `fd` within `limit`; '?' on timeout or EOF.
char read_byte(int fd, std::chrono::milliseconds limit = 10000ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return '?';
  char c = '?';
  if (::read(fd, &c, 1) != 1) return '?';
  return c;
}

// Python's process bootstrap calls threading._shutdown(): a child joins the threads it
// started itself before it exits, and never waits for the parent's.
TEST(ForkChild, JoinsItsOwnThreadsButNotTheParents) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan does not support starting threads in a fork child of a threaded process";
#endif
  ParentSleeper parent_thread;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  mp::Process p({.start_method = "fork"}, [w = fds[1]] {
    auto* own = new gilfree::Thread([w] {
      // Slow enough that an exit which did not wait for it would cut it off.
      std::this_thread::sleep_for(100ms);
      [[maybe_unused]] auto r = ::write(w, "T", 1);
    });
    own->start();  // not joined by run(): the bootstrap must join it
  });
  p.start();
  ::close(fds[1]);
  bounded_join(p, 10s);  // the parent's thread still runs: the child must not wait for it
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(read_byte(fds[0]), 'T') << "the child exited before its own thread finished";
  ::close(fds[0]);
}

// std::exit in a fork child runs the atexit handlers it inherited, the thread join among
// them: it must return promptly though the parent's non-daemon thread still runs.
TEST(ForkChild, StdExitReturnsPromptlyWhileTheParentsThreadsRun) {
  ParentSleeper parent_thread;
  mp::Process p({.start_method = "fork"}, [] { std::exit(3); });
  p.start();
  bounded_join(p, 10s);
  EXPECT_EQ(p.exitcode(), 3);
  EXPECT_TRUE(parent_thread.t.is_alive());
}

// A Process forked from a worker of a running ThreadPoolExecutor: the child has one
// thread, which is its main thread, and works.
TEST(ForkChild, StartedFromAThreadPoolWorkerSeesOneThread) {
  ParentSleeper parent_thread;
  gilfree::ThreadPoolExecutor pool({.max_workers = 4});
  gilfree::Event busy_stop;
  auto busy = pool.submit([&] { (void)busy_stop.wait(60s); });  // another worker stays busy
  auto fut = pool.submit([] {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe failed");
    mp::Process p({.start_method = "fork"}, [w = fds[1]] {
      std::string s = std::to_string(gilfree::active_count()) + "," +
                      std::to_string(gilfree::enumerate().size()) + "," +
                      (&gilfree::current_thread() == &gilfree::main_thread() ? "main" : "not-main");
      [[maybe_unused]] auto r = ::write(w, s.data(), s.size());
    });
    p.start();
    ::close(fds[1]);
    p.join(10s);
    if (p.is_alive()) {
      p.kill();
      p.join();
      ::close(fds[0]);
      return std::string("child hung");
    }
    std::string got;
    for (char c; (c = read_byte(fds[0])) != '?';) got += c;
    ::close(fds[0]);
    return got + "|" + std::to_string(p.exitcode().value_or(-999));
  });
  EXPECT_EQ(fut.result(30s), "1,1,main|0");
  busy_stop.set();
  busy.result(10s);
}

// A child made by a plain fork() (not by Process) has none of the parent's children
// (the library's fork handler), and can start processes of its own.
TEST(ForkChild, PlainForkChildHasNoChildrenAndCanStartProcesses) {
  mp::Process sibling({.start_method = "fork"}, sleep_forever);
  sibling.start();
  ASSERT_EQ(mp::active_children().size(), 1u);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = mp::active_children().empty() ? 0 : 10;
    if (code == 0) {
      mp::Process q({.start_method = "fork"}, [] { std::exit(7); });
      q.start();
      q.join(10s);
      code = q.exitcode() == 7 ? 0 : 11;
    }
    ::_exit(code);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  pid_t r = 0;
  while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);  // polling a child with a bound; no event to wait on
  if (r == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "the plain fork child hung";
  } else {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  sibling.kill();
  bounded_join(sibling);
}

}  // namespace

