// Every process-shared object passed as a Process argument under each start method (fork
// inherits the mapping; forkserver and spawn receive a reference that the child opens):
// the child and the parent then use the same object. Every child is joined with a bound
// and killed past it.
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/shared_memory.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>
#include <gtest/gtest.h>
#include "mp_child.hpp"

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace mp = gilfree::mp;
using mp::shared_memory::SharedMemory;
using namespace std::chrono_literals;

namespace {

// A failed check in a child: exit code 1 (an exception escaping run()).
void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

void release_it(mp::Lock l) { l.release(); }
void take_and_give_rlock(mp::RLock r) {
  check(r.acquire(true, 10.0), "rlock acquire");
  check(r.acquire(false), "rlock reenter");
  r.release();
  r.release();
}
void release_twice(mp::Semaphore s) {
  s.release();
  s.release();
}
void overrelease(mp::BoundedSemaphore s, mp::Value<int> flag) {
  check(s.acquire(true, 10.0), "bounded acquire");
  s.release();
  try {
    s.release();
  } catch (const gilfree::ValueError&) {
    flag.set_value(1);
  }
}
void notify_after_set(mp::Condition c, mp::Value<int> v) {
  std::lock_guard<mp::Condition> g(c);
  v.set_value(42);
  c.notify_all();
}
void set_event(mp::Event e) { e.set(); }
void meet(mp::Barrier b, mp::Value<int> idx) { idx.set_value(static_cast<int>(b.wait(20.0))); }
void add_under_lock(mp::Value<long> v, int n) {
  for (int i = 0; i < n; ++i) {
    std::lock_guard<mp::RLock> g(v.get_lock());
    v.get_obj() += 1;
  }
}
void fill_array(mp::Array<double> a, mp::RawArray<int> r, mp::RawValue<long> rv) {
  for (std::size_t i = 0; i < a.size(); ++i) a.set(i, 0.5 * static_cast<double>(i));
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = static_cast<int>(i) * 3;
  rv.set_value(rv.value() + 1);
}
void write_shm(SharedMemory shm) {
  check(shm.size() >= 6, "shm size");
  std::memcpy(shm.buf().data(), "hello", 6);
}
void put_range(mp::Queue<int> q, int n) {
  for (int i = 0; i < n; ++i) q.put(i, true, 10.0);
}
void work_off(mp::JoinableQueue<int> q, mp::Value<long> sum, int n) {
  for (int i = 0; i < n; ++i) {
    sum.set_value(sum.value() + q.get(true, 10.0));
    q.task_done();
  }
}
void echo_simple(mp::SimpleQueue<int> in, mp::SimpleQueue<int> out) { out.put(in.get() * 2); }
bool g_action_ran = false;  // per process: set by the action where it runs
void barrier_action() { g_action_ran = true; }
// The last party runs the action, in its own process: here the child arrives last.
void meet_with_action(mp::Barrier b) {
  const std::size_t i = b.wait(20.0);
  check(i == 1, "the child was not the last party");
  check(g_action_ran, "the action did not run in the last party's process");
}

void meet_with_action_any(mp::Barrier b) { b.wait(20.0); }
void add_one(mp::Value<long> v) { v.set_value(v.value() + 1); }
// A child passes on what it received: the grandchild opens the child's descriptor.
void forward(mp::Value<long> v, std::string method) {
  add_one(v);
  auto p = mp::get_context(method).Process({}, add_one, v);
  p.start();
  p.join(20s);
  if (p.is_alive()) p.kill();
  p.join();
  check(p.exitcode() == 0, "the grandchild failed");
}

void sum_into(mp::RawArray<int> a, mp::Value<long> out) {
  long sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i];
  out.set_value(sum);
}

class Passing : public mp_test::StartMethodTest {
 protected:
  // Starts fn(args...) with the parameter's start method and joins it with a bound;
  // returns the exit code (-100 when the bound passed and the child was killed).
  template <class F, class... A>
  int run(F fn, A&&... args) {
    auto p = mp::get_context(GetParam()).Process({}, fn, std::forward<A>(args)...);
    p.start();
    p.join(20s);
    if (p.is_alive()) {
      p.kill();
      p.join();
      return -100;
    }
    return p.exitcode().value_or(-101);
  }
};

TEST_P(Passing, Lock) {
  mp::Lock l;
  l.acquire();
  EXPECT_EQ(run(release_it, l), 0);
  EXPECT_FALSE(l.locked());
}

TEST_P(Passing, RLock) {
  mp::RLock r;
  EXPECT_EQ(run(take_and_give_rlock, r), 0);
  EXPECT_TRUE(r.acquire(false));
  r.release();
}

TEST_P(Passing, SemaphoreAndBoundedSemaphore) {
  mp::Semaphore s(0);
  EXPECT_EQ(run(release_twice, s), 0);
  EXPECT_EQ(s.get_value(), 2);
  mp::BoundedSemaphore b(1);
  mp::Value<int> flag(0);
  EXPECT_EQ(run(overrelease, b, flag), 0);
  EXPECT_EQ(flag.value(), 1);
  EXPECT_EQ(b.get_value(), 1);
}

TEST_P(Passing, Condition) {
  mp::Condition c;
  mp::Value<int> v(0);
  auto p = start(notify_after_set, c, v);
  {
    std::lock_guard<mp::Condition> g(c);
    EXPECT_TRUE(c.wait_for([&] { return v.value() == 42; }, 20.0));
  }
  EXPECT_EQ(finish(*p), 0);
}

TEST_P(Passing, Event) {
  mp::Event e;
  EXPECT_EQ(run(set_event, e), 0);
  EXPECT_TRUE(e.is_set());
}

TEST_P(Passing, Barrier) {
  mp::Barrier b(2);
  mp::Value<int> idx(-1);
  auto p = start(meet, b, idx);
  const std::size_t mine = b.wait(20.0);
  EXPECT_EQ(finish(*p), 0);
  EXPECT_EQ(static_cast<std::size_t>(idx.value()) + mine, 1u);  // indexes 0 and 1
}

TEST_P(Passing, BarrierWithAPlainFunctionAction) {
  g_action_ran = false;
  mp::Barrier b(2, barrier_action);
  std::size_t mine = 99;
  std::thread first([&] { mine = b.wait(20.0); });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (b.n_waiting() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(run(meet_with_action, b), 0);
  first.join();
  EXPECT_EQ(mine, 0u);
  EXPECT_FALSE(g_action_ran);  // it ran in the child
}

TEST_P(Passing, BarrierWithACapturingActionCrossesOnlyByFork) {
  if (std::string(GetParam()) == "fork") {  // fork inherits any action
    int x = 0;
    mp::Barrier b(2, [&x] { ++x; });
    std::thread first([&] { b.wait(20.0); });
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (b.n_waiting() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(run(meet_with_action_any, b), 0);
    first.join();
    EXPECT_EQ(x, 0);  // the child arrived last: the action ran there, on its copy of x
    return;
  }
  int x = 0;
  mp::Barrier b(2, [&x] { ++x; });
  auto p = mp::get_context(GetParam()).Process({}, meet_with_action, b);
  EXPECT_THROW(p.start(), mp::PicklingError);
  EXPECT_FALSE(p.pid());
}

TEST_P(Passing, ValueWithItsLock) {
  mp::Value<long> v(0);
  auto p1 = start(add_under_lock, v, 2000);
  auto p2 = start(add_under_lock, v, 2000);
  add_under_lock(v, 2000);
  EXPECT_EQ(finish(*p1), 0);
  EXPECT_EQ(finish(*p2), 0);
  EXPECT_EQ(v.value(), 6000);
}

TEST_P(Passing, ArrayRawArrayRawValue) {
  mp::Array<double> a(8);
  mp::RawArray<int> r(5);
  mp::RawValue<long> rv(41);
  EXPECT_EQ(run(fill_array, a, r, rv), 0);
  EXPECT_DOUBLE_EQ(a.get(7), 3.5);
  EXPECT_EQ(r[4], 12);
  EXPECT_EQ(rv.value(), 42);
}

TEST_P(Passing, SharedMemory) {
  SharedMemory shm("", true, 4096);
  EXPECT_EQ(run(write_shm, shm), 0);
  EXPECT_STREQ(reinterpret_cast<const char*>(shm.buf().data()), "hello");
  shm.unlink();
}

TEST_P(Passing, QueueJoinableQueueSimpleQueue) {
  mp::Queue<int> q(16);  // smaller than what is put: the child waits for the parent's gets
  auto p = start(put_range, q, 100);
  long sum = 0;
  for (int i = 0; i < 100; ++i) sum += q.get(true, 20.0);
  EXPECT_EQ(finish(*p), 0);
  EXPECT_EQ(sum, 99 * 100 / 2);

  mp::JoinableQueue<int> jq;
  mp::Value<long> jsum(0);
  for (int i = 1; i <= 10; ++i) jq.put(i);
  auto w = start(work_off, jq, jsum, 10);
  EXPECT_TRUE(jq.join(20.0));
  EXPECT_EQ(finish(*w), 0);
  EXPECT_EQ(jsum.value(), 55);

  mp::SimpleQueue<int> in, out;
  in.put(21);
  EXPECT_EQ(run(echo_simple, in, out), 0);
  EXPECT_EQ(out.get(), 42);
}

TEST_P(Passing, AChildPassesItOnToAGrandchild) {
  mp::Value<long> v(0);
  EXPECT_EQ(run(forward, v, std::string(GetParam())), 0);
  EXPECT_EQ(v.value(), 2);
}

// The Process holds the only handle and drops it once started (as Python's start() drops
// _args): the segment's descriptor travelled with the start, so the child still maps it.
TEST_P(Passing, AnArgumentOnlyTheProcessHeldStillArrives) {
  mp::RawArray<int> a(std::size_t{1} << 16);  // 256 KiB: a segment of its own
  long expected = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<int>(i % 7);
    expected += a[i];
  }
  mp::Value<long> out(0);
  auto p = start(sum_into, std::move(a), out);
  EXPECT_EQ(finish(*p), 0);
  EXPECT_EQ(out.value(), expected);
}

INSTANTIATE_TEST_SUITE_P(Methods, Passing, ::testing::Values("fork", "forkserver", "spawn"));

}  // namespace
