// A Connection (either end of a Pipe, or an accepted Listener connection) as a Process
// argument under each start method. Under fork the child inherits it; under forkserver and
// spawn its descriptor travels with the start (inherited at a known number, or SCM_RIGHTS to
// the fork server), as CPython's duplicate_for_child does. The parent's copy of an argument
// is closed once the child has started (Python's start() drops _args); nothing else leaks,
// and the child has exactly the descriptors passed. Every child is bounded.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>
#include "mp_child.hpp"
#include <memory>
#include <string>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

// The number of descriptors open in this process.
int count_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

// Duplex: answers x with x + 1 until it gets -1.
void echo_plus_one(mp::Connection c) {
  for (;;) {
    check(c.poll(20s), "nothing to read");
    int x = c.recv<int>();
    if (x < 0) return;
    c.send(x + 1);
  }
}
// Ends with 42 when the other end is closed (EOFError), 1 if anything arrives.
void wait_for_eof(mp::Connection c) {
  check(c.poll(20s), "no EOF within the bound");
  try {
    (void)c.recv_bytes();
  } catch (const mp::EOFError&) {
    throw mp::SystemExit{42};
  }
}
// A write-only end: sends its flags and a message.
void write_only(mp::Connection w) {
  check(!w.readable() && w.writable(), "flags did not cross");
  w.send(std::string("from the child"));
}
// Both ends of two pipes: a round trip through each, inside the child.
void both_ends_of_two(mp::Connection a1, mp::Connection b1, mp::Connection a2,
                      mp::Connection b2) {
  a1.send(5);
  check(b1.poll(20s) && b1.recv<int>() == 5, "pipe 1");
  b2.send(std::string("seven"));
  check(a2.poll(20s) && a2.recv<std::string>() == "seven", "pipe 2");
}
// Exit codes that say how many descriptors the child has.
void exit_with_fd_count() { throw mp::SystemExit{count_fds()}; }
void exit_with_fd_count_1(mp::Connection) { throw mp::SystemExit{count_fds()}; }
void exit_with_fd_count_4(mp::Connection, mp::Connection, mp::Connection, mp::Connection) {
  throw mp::SystemExit{count_fds()};
}
void never_runs(mp::Connection, mp::Barrier) {}

// A registered subclass with many Connections in a field: each end sends its index.
struct Fanout : mp::Process {
  std::vector<mp::Connection> outs;
  void run() override {
    for (std::size_t i = 0; i < outs.size(); ++i) outs[i].send(static_cast<int>(i));
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(outs);
  }
};
GILFREE_MP_REGISTER_PROCESS(Fanout);

class ConnectionPassing : public mp_test::StartMethodTest {};

TEST_P(ConnectionPassing, DuplexExchange) {
  auto [a, b] = mp::Pipe();
  auto p = start(echo_plus_one, std::move(b));
  for (int i = 0; i < 100; ++i) {
    a.send(i);
    ASSERT_TRUE(a.poll(20s));
    ASSERT_EQ(a.recv<int>(), i + 1);
  }
  a.send(-1);
  EXPECT_EQ(finish(*p), 0);
}

TEST_P(ConnectionPassing, TheParentsCopyOfAnArgumentClosesAtStart) {
  auto [a, b] = mp::Pipe();
  const int bfd = b.fileno();
  auto p = start(echo_plus_one, std::move(b));
  errno = 0;
  EXPECT_EQ(::fcntl(bfd, F_GETFD), -1);  // closed here; the child has its own
  EXPECT_EQ(errno, EBADF);
  a.send(1);
  ASSERT_TRUE(a.poll(20s));
  EXPECT_EQ(a.recv<int>(), 2);
  a.send(-1);
  EXPECT_EQ(finish(*p), 0);
  // The child is gone and the parent holds no copy of b: EOF.
  ASSERT_TRUE(a.poll(20s));
  EXPECT_THROW(a.recv_bytes(), mp::EOFError);
}

TEST_P(ConnectionPassing, EofWhenTheParentClosesItsEnd) {
  // A fork child inherits the parent's end too, so it never sees EOF (as in Python).
  if (forked()) GTEST_SKIP() << "a fork child holds the parent's end as well";
  auto [a, b] = mp::Pipe();
  auto p = start(wait_for_eof, std::move(b));
  a.close();
  EXPECT_EQ(finish(*p), 42);
}

TEST_P(ConnectionPassing, OneWayPipeKeepsItsDirection) {
  auto [r, w] = mp::Pipe(false);
  auto p = start(write_only, std::move(w));
  ASSERT_TRUE(r.poll(20s));
  EXPECT_EQ(r.recv<std::string>(), "from the child");
  EXPECT_EQ(finish(*p), 0);
}

TEST_P(ConnectionPassing, BothEndsOfTwoPipesInOneCall) {
  auto [a1, b1] = mp::Pipe();
  auto [a2, b2] = mp::Pipe(false);
  auto p = start(both_ends_of_two, std::move(a1), std::move(b1), std::move(a2), std::move(b2));
  EXPECT_EQ(finish(*p), 0);
}

TEST_P(ConnectionPassing, AnAcceptedListenerConnection) {
  mp::Listener l;  // no authkey: Client returns once connected, before accept()
  mp::Connection client = mp::Client(l.address());
  mp::Connection served = l.accept();
  auto p = start(echo_plus_one, std::move(served));
  client.send(41);
  ASSERT_TRUE(client.poll(20s));
  EXPECT_EQ(client.recv<int>(), 42);
  client.send(-1);
  EXPECT_EQ(finish(*p), 0);
}

// The child has exactly the descriptors passed: one and four more than a child given none.
TEST_P(ConnectionPassing, TheChildHasExactlyThePassedDescriptors) {
  if (forked()) GTEST_SKIP() << "a fork child inherits every descriptor of its parent";
  auto base = start(exit_with_fd_count);
  const int none = finish(*base);
  ASSERT_GT(none, 0);
  {
    auto [a, b] = mp::Pipe();
    auto p = start(exit_with_fd_count_1, std::move(b));
    EXPECT_EQ(finish(*p), none + 1);
  }
  {
    auto [a1, b1] = mp::Pipe();
    auto [a2, b2] = mp::Pipe(false);
    auto p = start(exit_with_fd_count_4, std::move(a1), std::move(b1), std::move(a2),
                   std::move(b2));
    EXPECT_EQ(finish(*p), none + 4);
  }
}

// Nothing stays open in the parent: after starts (a successful one and one that fails
// while encoding, after a Connection was already collected) the count is what it was.
TEST_P(ConnectionPassing, NothingLeaksInTheParent) {
  { auto warm = start(exit_with_fd_count); finish(*warm); }  // the fork server, if any
  const int before = count_fds();
  {
    auto [a, b] = mp::Pipe();
    auto p = start(echo_plus_one, std::move(b));
    a.send(-1);
    EXPECT_EQ(finish(*p), 0);
  }
  EXPECT_EQ(count_fds(), before);
  if (!forked()) {
    auto [a, b] = mp::Pipe();
    int x = 0;
    mp::Barrier capturing(2, [&x] { ++x; });  // cannot cross: encoding fails after b
    mp::Process p({.start_method = GetParam()}, never_runs, std::move(b), capturing);
    EXPECT_THROW(p.start(), mp::PicklingError);
    EXPECT_EQ(count_fds(), before + 2);  // a, and b still held by the unstarted Process
  }
  EXPECT_EQ(count_fds(), before);
}

TEST_P(ConnectionPassing, ManyConnectionsInASubclassField) {
  std::vector<mp::Connection> ins;
  Fanout f;
  for (int i = 0; i < 20; ++i) {
    auto [r, w] = mp::Pipe(false);
    ins.push_back(std::move(r));
    f.outs.push_back(std::move(w));
  }
  mp::set_start_method(GetParam(), true);
  f.start();
  mp::set_start_method("", true);
  f.outs.clear();  // the parent's copies (a field stays the parent's, as in Python)
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(ins[i].poll(20s)) << i;
    EXPECT_EQ(ins[i].recv<int>(), i);
  }
  EXPECT_EQ(finish(f), 0);
}

TEST_P(ConnectionPassing, MoreThanAStartCanPassIsAClearError) {
  if (forked()) GTEST_SKIP() << "fork passes nothing: the child inherits";
  std::vector<mp::Connection> ins;
  Fanout f;
  for (int i = 0; i < mp::detail::kMaxPassedFds / 2 + 1; ++i) {
    auto [r, w] = mp::Pipe();
    f.outs.push_back(std::move(r));
    f.outs.push_back(std::move(w));
  }
  const int before = count_fds();
  mp::set_start_method(GetParam(), true);
  try {
    f.start();
    ADD_FAILURE() << "started with " << f.outs.size() << " connections";
    finish(f);
  } catch (const mp::PicklingError& e) {
    EXPECT_NE(std::string(e.what()).find("at most"), std::string::npos) << e.what();
  }
  mp::set_start_method("", true);
  EXPECT_FALSE(f.pid());
  EXPECT_EQ(count_fds(), before);
}

INSTANTIATE_TEST_SUITE_P(Methods, ConnectionPassing,
                         ::testing::Values("fork", "forkserver", "spawn"));

// A pipe made before the fork server: the server (a fork of this process, when it has one
// thread) must not keep the parent's end open in every worker, or EOF never comes.
TEST(ConnectionPassingForkServer, APipeOlderThanTheServerStillGivesEof) {
  mp::detail::stop_forkserver();
  auto [a, b] = mp::Pipe();
  mp::Process p({.start_method = "forkserver"}, wait_for_eof, std::move(b));
  p.start();  // starts the server now, while a and b are open here
  a.close();
  p.join(20s);
  if (p.is_alive()) {
    p.kill();
    p.join();
    FAIL() << "the child never saw EOF";
  }
  EXPECT_EQ(p.exitcode(), 42);
}

// Outside a start a Connection cannot cross: a clear error, not a dangling number.
TEST(ConnectionPassingOutsideAStart, IsAClearError) {
  auto [a, b] = mp::Pipe();
  auto [c, d] = mp::Pipe();
  try {
    a.send(c);
    ADD_FAILURE() << "a Connection was sent through a pipe";
  } catch (const mp::PicklingError& e) {
    EXPECT_NE(std::string(e.what()).find("only as an argument"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)mp::dumps(d), mp::PicklingError);
  mp::Queue<mp::Connection> q;
  EXPECT_THROW(q.put(c), mp::PicklingError);
  EXPECT_FALSE(b.poll());  // nothing was written
  // A closed connection cannot be passed either.
  auto [e, f] = mp::Pipe();
  f.close();
  mp::Process p({.start_method = "spawn"}, echo_plus_one, std::move(f));
  EXPECT_THROW(p.start(), mp::OSError);
  EXPECT_FALSE(p.pid());
}

}  // namespace
