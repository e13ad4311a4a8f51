// multiprocessing's Value, Array, RawValue, RawArray: Python's semantics, sharing with fork
// children, and an exact counter across 4 processes under get_lock().
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "mp_child.hpp"

namespace mp = gilfree::mp;
using namespace std::chrono_literals;
using mp_test::bounded_wait;
using mp_test::fork_child;

namespace {

struct Point {
  double x, y;
};

TEST(MpValue, ReadWriteAndLock) {
  mp::Value<int> v(7);
  EXPECT_EQ(v.value(), 7);
  v.set_value(9);
  EXPECT_EQ(v.get_obj(), 9);
  {
    std::lock_guard<mp::RLock> g(v.get_lock());
    v.set_value(v.value() + 1);  // the RLock lets the accessors re-enter
  }
  EXPECT_EQ(v.value(), 10);
  mp::Value<Point> p(Point{1, 2});
  EXPECT_EQ(p.value().y, 2);
  mp::Value<long> raw(5, {.lock = false});
  EXPECT_THROW(raw.get_lock(), gilfree::RuntimeError);
  raw.set_value(6);
  EXPECT_EQ(raw.value(), 6);
  mp::RawValue<double> r(1.5);
  r.set_value(2.5);
  EXPECT_EQ(r.value(), 2.5);
}

TEST(MpArray, IndexingAndErrors) {
  mp::Array<int> a{1, 2, 3};
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.get(2), 3);
  a.set(0, 10);
  EXPECT_EQ(a.to_vector(), (std::vector<int>{10, 2, 3}));
  EXPECT_THROW(a.get(3), std::out_of_range);
  EXPECT_THROW(a.set(3, 0), std::out_of_range);
  mp::Array<double> z(4);
  EXPECT_EQ(z.to_vector(), std::vector<double>(4, 0.0));
  mp::Array<int> nolock(2, {.lock = false});
  EXPECT_THROW(nolock.get_lock(), gilfree::RuntimeError);
  mp::Array<int> empty(std::size_t{0});
  EXPECT_EQ(empty.size(), 0u);
  mp::RawArray<char> ra{'a', 'b'};
  ra[1] = 'c';
  EXPECT_EQ(ra[1], 'c');
}

TEST(MpSharedctypes, ChildrenWriteWhatTheParentReads) {
  mp::Value<int> v(0);
  mp::Array<int> a(8);
  mp::RawArray<long> ra(8);
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(fork_child([&, i] {
      a.set(i, i * i);
      ra[i] = -i;
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k), 0);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(a.get(i), i * i);
    EXPECT_EQ(ra[i], -i);
  }
}

TEST(MpValue, CounterExactUnderItsLockAcrossFourProcesses) {
  mp::Value<long> counter(0);
  constexpr int kProcs = 4, kIters = 20000;
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i)
    kids.push_back(fork_child([&] {
      for (int k = 0; k < kIters; ++k) {
        std::lock_guard<mp::RLock> g(counter.get_lock());
        counter.get_obj() += 1;
      }
      return 0;
    }));
  for (pid_t k : kids) EXPECT_EQ(bounded_wait(k, 60s), 0);
  EXPECT_EQ(counter.value(), long{kProcs} * kIters);
}

}  // namespace
