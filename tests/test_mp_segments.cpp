// The memory of gilfree's own process-shared objects: it has no name, so nothing is left in
// /dev/shm whoever dies how; it stays usable by the processes that still map it after its
// creator is SIGKILLed; and it is gone from a process (no descriptor, no mapping) once that
// process's last handle goes. Every child is bounded and reaped.
#include <dirent.h>
#include <unistd.h>

#include <gilfree/multiprocessing/detail/shared_futex.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

// Objects at namespace scope are made during static initialisation, possibly before the
// library's own statics: the shared-memory registry must be there for them anyway.
mp::Value<long> g_global_value(5);
mp::Lock g_global_lock;

namespace {

TEST(MpSegments, ObjectsAtNamespaceScopeWork) {
  pid_t kid = fork_child([] {
    std::lock_guard<mp::Lock> g(g_global_lock);
    g_global_value.set_value(g_global_value.value() + 1);
    return 0;
  });
  EXPECT_EQ(bounded_wait(kid), 0);
  EXPECT_EQ(g_global_value.value(), 6);
  EXPECT_FALSE(g_global_lock.locked());
}

int count_entries(const char* dir, const char* prefix = "") {
  int n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && std::strncmp(e->d_name, prefix, std::strlen(prefix)) == 0) ++n;
    ::closedir(d);
  }
  return n;
}

// /dev/shm is shared with whatever else runs on the machine (MPI's segments, other tests'
// psm_ names), so the entries counted are those a gilfree object would have made.
int count_shm() { return count_entries("/dev/shm", "gilfree"); }

// This process's mappings of gilfree's shared-memory files.
int count_gilfree_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line))
    if (line.find("memfd:gilfree-shared") != std::string::npos) ++n;
  return n;
}

struct Every {
  mp::Lock lock;
  mp::RLock rlock;
  mp::Semaphore sem{2};
  mp::BoundedSemaphore bsem{1};
  mp::Condition cond;
  mp::Event event;
  mp::Barrier barrier{2};
  mp::Value<long> value{7};
  mp::Array<double> array{100};
  mp::Queue<int> ints;
  mp::Queue<std::string> strings{8};
  mp::JoinableQueue<int> jq;
};

TEST(MpSegments, ACreatorKilledLeavesNothingBehindAndItsMemoryServesWhoStillMapsIt) {
  const int shm_before = count_shm();
  const int fds_before = count_entries("/proc/self/fd");
  const int maps_before = count_gilfree_mappings();
  int to_parent[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  pid_t creator = fork_child([&] {
    Every every;  // one of each kind, made here
    every.value.set_value(41);
    every.ints.put(5);
    every.strings.put("left behind");
    // Hand the parent a reference to a block (as a forkserver/spawn child would get one).
    auto block = mp::detail::make_shared_block<long>(1234);
    auto r = mp::detail::shared_ref(block, sizeof(long));
    if (::write(to_parent[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) return 1;
    for (;;) ::pause();
    return 0;
  });
  ::close(to_parent[1]);
  mp::detail::SharedRef r;
  ASSERT_EQ(::read(to_parent[0], &r, sizeof r), static_cast<ssize_t>(sizeof r));
  ::close(to_parent[0]);
  {
    auto mem = mp::detail::attach_shared(r);
    auto* v = static_cast<long*>(mem.get());
    EXPECT_EQ(*v, 1234);
    ::kill(creator, SIGKILL);
    EXPECT_EQ(bounded_wait(creator), 128 + SIGKILL);
    // The creator is gone; the memory lives on for this process, which still maps it.
    *v += 1;
    EXPECT_EQ(*v, 1235);
    EXPECT_GT(count_gilfree_mappings(), maps_before);
  }
  // The last handle here is gone: no descriptor, no mapping, and no name anywhere.
  EXPECT_EQ(count_gilfree_mappings(), maps_before);
  EXPECT_EQ(count_entries("/proc/self/fd"), fds_before);
  EXPECT_EQ(count_shm(), shm_before);
}

void use_every(mp::Lock l, mp::RLock r, mp::Semaphore s, mp::Condition c, mp::Event e,
               mp::Barrier b, mp::Value<long> v, mp::Array<double> a, mp::Queue<int> q,
               mp::Queue<std::string> qs) {
  l.acquire();
  l.release();
  r.acquire();
  r.release();
  s.acquire();
  {
    std::lock_guard<mp::Condition> g(c);
    c.notify_all();
  }
  e.set();
  (void)b.parties();
  v.set_value(v.value() + 1);
  a.set(0, 1.5);
  q.put(1);
  qs.put("x");
}

class Segments : public ::testing::TestWithParam<const char*> {};

TEST_P(Segments, PassingToAChildLeavesNoDescriptorOrMappingHereOnceDone) {
  const int shm_before = count_shm();
  {
    // Warm-up: the first start under a method makes lasting things (the fork server,
    // this process's current arena); measure after it.
    mp::Lock warm;
    auto p = mp::get_context(GetParam()).Process({}, [](mp::Lock) {}, warm);
    p.start();
    p.join(20s);
    ASSERT_EQ(p.exitcode(), 0);
  }
  const int fds_before = count_entries("/proc/self/fd");
  const int maps_before = count_gilfree_mappings();
  {
    Every x;
    auto p = mp::get_context(GetParam()).Process({}, use_every, x.lock, x.rlock, x.sem, x.cond,
                                                 x.event, x.barrier, x.value, x.array, x.ints,
                                                 x.strings);
    p.start();
    p.join(20s);
    if (p.is_alive()) {
      p.kill();
      p.join();
      FAIL() << "child did not end";
    }
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(x.value.value(), 8);
    EXPECT_TRUE(x.event.is_set());
    EXPECT_EQ(x.ints.get(true, 1.0), 1);
    EXPECT_EQ(x.strings.get(true, 1.0), "x");
  }
  EXPECT_LE(count_gilfree_mappings(), maps_before + 1);  // at most a new current arena
  EXPECT_LE(count_entries("/proc/self/fd"), fds_before + 1);
  EXPECT_EQ(count_shm(), shm_before);
}

INSTANTIATE_TEST_SUITE_P(Methods, Segments, ::testing::Values("fork", "forkserver", "spawn"));

}  // namespace
