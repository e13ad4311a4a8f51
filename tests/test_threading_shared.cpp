// The waiting cores of Lock, Semaphore and Event (detail/wait/primitives.hpp) in the
// process-shared scope, placed in MAP_SHARED memory and used by a parent and its fork
// child: what lets those primitives live in shared memory later. The public classes are
// the process-private instances (tests/test_threading.cpp).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "gilfree/detail/wait/primitives.hpp"
#include "gilfree/threading.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Timeout;
namespace d = gilfree::detail;
constexpr auto kShared = d::FutexScope::process_shared;

// The shared-scope cores hold no pointers and need no destructor, as shared memory asks.
static_assert(std::is_trivially_destructible_v<d::BasicLockCore<kShared>>);
static_assert(std::is_trivially_destructible_v<d::BasicSemaphoreCore<kShared>>);
static_assert(std::is_trivially_destructible_v<d::BasicEventCore<kShared>>);
// The public types are the private-scope cores and nothing more.
static_assert(sizeof(gilfree::Lock) == sizeof(std::uint32_t));

struct Shared {
  d::BasicLockCore<kShared> lock;
  d::BasicEventCore<kShared> child_blocked;  // the child found the lock held
  d::BasicSemaphoreCore<kShared> done{0};    // the child's permits to the parent
  std::uint64_t counter = 0;                 // guarded by `lock`
};

// A MAP_SHARED anonymous region holding a Shared, unmapped at the end of the test.
struct Region {
  Region() {
    mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    if (mem != MAP_FAILED) sh = new (mem) Shared;
  }
  ~Region() {
    if (mem != MAP_FAILED) ::munmap(mem, sizeof(Shared));
  }
  void* mem;
  Shared* sh = nullptr;
};

void unlock(d::BasicLockCore<kShared>& l) {
  if (l.unlock() == d::BasicLockCore<kShared>::kContended) l.wake_one();
}

// Waits (bounded) for the child and returns its exit status; kills it after 20 s.
int reap(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{fd, POLLIN, 0};
  if (fd >= 0 && ::poll(&p, 1, 20000) == 0) ::kill(pid, SIGKILL);
  if (fd >= 0) ::close(fd);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The parent holds the lock; the child times out on it, says so through an Event, then
// sleeps on the lock until the parent releases it, and reports through a Semaphore.
TEST(SharedScope, LockEventSemaphoreAcrossFork) {
  Region r;
  ASSERT_NE(r.mem, MAP_FAILED);
  Shared& sh = *r.sh;
  ASSERT_TRUE(sh.lock.try_lock());
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 0;
    if (sh.lock.try_lock()) rc = 1;                                  // held by the parent
    else if (sh.lock.lock_slow(Timeout(20ms).deadline())) rc = 2;    // ... so this times out
    sh.child_blocked.set();
    if (rc == 0 && !sh.lock.lock_slow(Timeout(20s).deadline())) rc = 3;  // the parent frees it
    if (rc == 0) {
      ++sh.counter;
      unlock(sh.lock);
    }
    sh.done.give(1);
    ::_exit(rc);
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(sh.child_blocked.wait(Timeout(20s).deadline()));
  EXPECT_TRUE(sh.lock.locked());
  unlock(sh.lock);  // wakes the child if it sleeps on the word already
  EXPECT_TRUE(sh.done.take_slow(Timeout(20s).deadline()));
  EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(sh.counter, 1u);
  EXPECT_FALSE(sh.lock.locked());
  EXPECT_FALSE(sh.done.try_take());
}

// Mutual exclusion between processes: parent and child each add to a plain counter under
// the shared lock; no increment is lost.
TEST(SharedScope, LockExcludesAcrossProcesses) {
  Region r;
  ASSERT_NE(r.mem, MAP_FAILED);
  Shared& sh = *r.sh;
  constexpr int kEach = 20000;
  auto work = [&] {
    for (int i = 0; i < kEach; ++i) {
      if (!sh.lock.try_lock() && !sh.lock.lock_slow(Timeout(20s).deadline())) return false;
      const std::uint64_t v = sh.counter;
      std::atomic_signal_fence(std::memory_order_seq_cst);  // keep the read-modify-write split
      sh.counter = v + 1;
      unlock(sh.lock);
    }
    return true;
  };
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(work() ? 0 : 1);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(work());
  EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(sh.counter, 2u * kEach);
}

// An Event core set by the child wakes the parent sleeping on it (past its spin), and a
// set() that was cleared again still releases the waiter it found (bpo-13502).
TEST(SharedScope, EventSetByAnotherProcessWakesTheSleeper) {
  Region r;
  ASSERT_NE(r.mem, MAP_FAILED);
  Shared& sh = *r.sh;
  pid_t pid = ::fork();
  if (pid == 0) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (!sh.child_blocked.ec.has_waiters() && std::chrono::steady_clock::now() < until)
      ::sched_yield();
    sh.child_blocked.set();
    sh.child_blocked.clear();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(sh.child_blocked.wait(Timeout(20s).deadline()));
  EXPECT_EQ(reap(pid), 0);
  EXPECT_FALSE(sh.child_blocked.is_set());  // cleared again by the child, which has exited
}

}  // namespace
