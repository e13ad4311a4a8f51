// Direct tests of the machinery under the public API: the executors' task queue, the
// futures' slab allocator, the bounded ring, Call/Outcome and TaskState (the executor
// split's two sides and their glue). Waiting (EventCount, futex, Parking) is in
// tests/test_wait.cpp.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/detail/call.hpp"
#include "gilfree/detail/ring.hpp"
#include "gilfree/detail/state_alloc.hpp"
#include "gilfree/detail/task_queue.hpp"
#include "gilfree/detail/work_item.hpp"
#include "gilfree/futures.hpp"
#include "stress_scale.hpp"

namespace {

using namespace std::chrono_literals;
namespace d = gilfree::detail;
using gilfree_test::kStressScale;

// ---- TaskQueue --------------------------------------------------------------------------

struct Node : d::TaskNode {
  int producer = 0;
  int seq = 0;
};

TEST(TaskQueue, FifoForOneProducer) {
  d::TaskQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.try_pop(), nullptr);
  Node nodes[10];
  for (int i = 0; i < 10; ++i) {
    nodes[i].seq = i;
    q.push(&nodes[i]);
  }
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 10; ++i) {
    auto* n = static_cast<Node*>(q.pop());
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->seq, i);
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
}

// Producers push concurrently with consumers popping: every node comes out exactly once,
// and each producer's nodes in the order it pushed them.
// empty() is exact once producers are quiet, through every path of pop (the last node
// taken by re-pushing the stub, a node left behind it), and false while a node waits.
TEST(TaskQueue, EmptyIsExactWhenQuiet) {
  d::TaskQueue q;
  Node a, b, c;
  EXPECT_TRUE(q.empty());
  for (int round = 0; round < 3; ++round) {
    q.push(&a);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.try_pop(), &a);  // the last node: the stub goes back in behind it
    EXPECT_TRUE(q.empty());
    q.push(&b);
    q.push(&c);
    EXPECT_EQ(q.pop(), &b);
    EXPECT_FALSE(q.empty());  // c is still queued
    EXPECT_EQ(q.pop(), &c);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.try_pop(), nullptr);
    EXPECT_TRUE(q.empty());
  }
}

TEST(TaskQueue, ManyProducersManyConsumersEachNodeOnceInProducerOrder) {
  constexpr int kProducers = 3, kConsumers = 2;
  const int per = 20000 * kStressScale;
  std::vector<std::unique_ptr<Node[]>> nodes;
  for (int p = 0; p < kProducers; ++p) nodes.push_back(std::make_unique<Node[]>(per));
  d::TaskQueue q;
  std::atomic<int> taken{0};
  std::vector<std::vector<int>> last(kConsumers, std::vector<int>(kProducers, -1));
  std::atomic<bool> order_ok{true};
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per; ++i) {
        nodes[p][i].producer = p;
        nodes[p][i].seq = i;
        q.push(&nodes[p][i]);
      }
    });
  for (int c = 0; c < kConsumers; ++c)
    ts.emplace_back([&, c] {
      const auto until = std::chrono::steady_clock::now() + 60s;
      while (taken.load() < kProducers * per && std::chrono::steady_clock::now() < until) {
        auto* n = static_cast<Node*>(q.try_pop());
        if (!n) continue;
        if (n->seq <= last[c][n->producer]) order_ok = false;
        last[c][n->producer] = n->seq;
        n->seq = -1000000;  // a second pop of the same node would break the order check
        taken.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(taken.load(), kProducers * per);
  EXPECT_TRUE(order_ok.load());
  EXPECT_TRUE(q.empty());
}

// ---- state_alloc ------------------------------------------------------------------------

TEST(StateAlloc, BlocksAreAlignedDistinctAndReusable) {
  std::set<void*> seen;
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t size : {8, 32, 33, 64, 200, 256, 257, 1000}) {
    for (int i = 0; i < 100; ++i) {
      void* p = d::state_alloc(size);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u);
      EXPECT_TRUE(seen.insert(p).second) << "a live block handed out twice";
      std::memset(p, 0xab, size);  // the whole block is ours (ASan checks this)
      blocks.emplace_back(p, size);
    }
  }
  for (auto [p, size] : blocks) d::state_free(p, size);
}

// Blocks allocated on one thread and freed on another flow back through the depot; the
// allocator stays consistent (no block handed out twice while live).
TEST(StateAlloc, CrossThreadFreeFlowsBack) {
  const int rounds = 10 * kStressScale;
  for (int r = 0; r < rounds; ++r) {
    std::vector<void*> blocks;
    for (int i = 0; i < 10000; ++i) blocks.push_back(d::state_alloc(96));
    std::set<void*> unique(blocks.begin(), blocks.end());
    ASSERT_EQ(unique.size(), blocks.size());
    std::thread freer([&] {
      for (void* p : blocks) d::state_free(p, 96);
    });
    freer.join();
  }
}

// ---- BoundedRing ------------------------------------------------------------------------

TEST(BoundedRing, FullEmptyCloseDrained) {
  d::BoundedRing<int> ring(4);
  EXPECT_EQ(ring.capacity(), 4u);
  std::optional<int> out;
  EXPECT_EQ(ring.try_pop(out), d::PopResult::empty);
  for (int i = 0; i < 4; ++i) {
    int v = i;
    EXPECT_EQ(ring.try_push(v), d::PushResult::ok);
  }
  int extra = 9;
  EXPECT_EQ(ring.try_push(extra), d::PushResult::full);
  EXPECT_EQ(ring.size(), 4u);
  ring.close();
  EXPECT_TRUE(ring.closed());
  EXPECT_EQ(ring.try_push(extra), d::PushResult::shut_down);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(ring.try_pop(out), d::PopResult::ok);
    EXPECT_EQ(*out, i);
  }
  EXPECT_EQ(ring.try_pop(out), d::PopResult::drained);
  EXPECT_EQ(ring.pushed(), 4u);
  EXPECT_EQ(ring.popped(), 4u);
}

TEST(BoundedRing, ConcurrentPushPopLosesNothing) {
  d::BoundedRing<std::uint64_t> ring(64);
  const std::uint64_t per = 20000 * kStressScale;
  std::atomic<std::uint64_t> sum{0}, count{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p)
    ts.emplace_back([&] {
      for (std::uint64_t i = 1; i <= per;) {
        std::uint64_t v = i;
        if (ring.try_push(v) == d::PushResult::ok) ++i;
      }
    });
  for (int c = 0; c < 2; ++c)
    ts.emplace_back([&] {
      std::optional<std::uint64_t> out;
      const auto until = std::chrono::steady_clock::now() + 60s;
      while (count.load() < 2 * per && std::chrono::steady_clock::now() < until) {
        if (ring.try_pop(out) == d::PopResult::ok) {
          sum.fetch_add(*out);
          count.fetch_add(1);
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(count.load(), 2 * per);
  EXPECT_EQ(sum.load(), per * (per + 1));
}

// The ring's bytes hold no address inside themselves: scanned word by word right after
// construction and after pushes and pops (cells included), none points into the storage.
TEST(RingCore, HoldsNoPointerIntoItself) {
  using Ring = d::RingCore<std::uint64_t>;
  constexpr std::size_t kCap = 64;
  const std::size_t bytes = Ring::bytes_for(kCap);
  void* mem = ::operator new(bytes, std::align_val_t{Ring::kAlignment});
  std::memset(mem, 0xA5, bytes);
  Ring* ring = Ring::create_at(mem, kCap);
  auto self_pointers = [&] {
    const auto lo = reinterpret_cast<std::uintptr_t>(mem);
    int found = 0;
    for (std::size_t off = 0; off + sizeof(std::uintptr_t) <= bytes; off += sizeof(std::uintptr_t)) {
      std::uintptr_t word;
      std::memcpy(&word, static_cast<unsigned char*>(mem) + off, sizeof word);
      if (word >= lo && word < lo + bytes) ++found;
    }
    return found;
  };
  EXPECT_EQ(self_pointers(), 0);
  std::optional<std::uint64_t> out;
  for (std::uint64_t i = 0; i < 100; ++i) {
    std::uint64_t v = i;
    ASSERT_EQ(ring->try_push(v), d::PushResult::ok);
    ASSERT_EQ(ring->try_pop(out), d::PopResult::ok);
    EXPECT_EQ(*out, i);
  }
  EXPECT_EQ(self_pointers(), 0);
  std::destroy_at(ring);
  ::operator delete(mem, std::align_val_t{Ring::kAlignment});
}

// A ring in a memfd mapped at one address, filled there, then used through a second
// mapping at another address after the first is unmapped: it works only if nothing in it
// is an absolute address of the first mapping (as in a segment that several processes
// map wherever their address space has room).
TEST(RingCore, WorksFromASecondMappingAtAnotherAddress) {
  using Ring = d::RingCore<std::uint64_t>;
  static_assert(Ring::kAlignment <= 4096);
  constexpr std::size_t kCap = 16;
  const std::size_t bytes = Ring::bytes_for(kCap);
  int fd = ::memfd_create("gilfree-ring-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void* first = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(first, MAP_FAILED);
  Ring* a = Ring::create_at(first, kCap);
  for (std::uint64_t i = 1; i <= 10; ++i) {
    std::uint64_t v = i;
    ASSERT_EQ(a->try_push(v), d::PushResult::ok);
  }
  void* second = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(second, MAP_FAILED);
  ASSERT_NE(second, first);
  ASSERT_EQ(::munmap(first, bytes), 0);  // any pointer into `first` now faults
  ::close(fd);
  auto* b = std::launder(static_cast<Ring*>(second));
  EXPECT_EQ(b->capacity(), kCap);
  EXPECT_EQ(b->size(), 10u);
  std::optional<std::uint64_t> out;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    ASSERT_EQ(b->try_pop(out), d::PopResult::ok);
    EXPECT_EQ(*out, i);
  }
  for (std::uint64_t i = 0; i < kCap; ++i) {  // a full lap and more through the new view
    std::uint64_t v = i;
    ASSERT_EQ(b->try_push(v), d::PushResult::ok);
  }
  std::uint64_t extra = 0;
  EXPECT_EQ(b->try_push(extra), d::PushResult::full);
  b->close();
  for (std::uint64_t i = 0; i < kCap; ++i) ASSERT_EQ(b->try_pop(out), d::PopResult::ok);
  EXPECT_EQ(b->try_pop(out), d::PopResult::drained);
  std::destroy_at(b);
  ::munmap(second, bytes);
}

// ---- Call, Outcome, TaskState -------------------------------------------------------------

TEST(Call, KeepsFunctionAndArgumentsTypedAndApart) {
  d::Call<int (*)(int, int), int, int> c{[](int a, int b) { return a * b; }, {6, 7}};
  static_assert(std::is_same_v<decltype(c)::result_type, int>);
  static_assert(std::is_same_v<decltype(c)::arguments_type, std::tuple<int, int>>);
  auto out = d::run_call(c);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), 42);
}

TEST(Call, RunCallCapturesTheException) {
  auto thrower = [](std::string s) -> int { throw gilfree::ValueError(s); };
  d::Call<decltype(thrower), std::string> c{thrower, {"bad"}};
  auto out = d::run_call(c);
  ASSERT_FALSE(out.ok());
  EXPECT_THROW(std::rethrow_exception(out.error()), gilfree::ValueError);
  auto nothing = [] {};
  d::Call<decltype(nothing)> v{nothing, {}};
  EXPECT_TRUE(d::run_call(v).ok());
}

TEST(TaskState, RunCompletesTheFutureAndHookRunsBeforeThePublish) {
  auto add = [](int a, int b) { return a + b; };
  using C = d::Call<decltype(add), int, int>;
  auto* task = new d::TaskState<int, C>(nullptr, C{add, {2, 3}});
  gilfree::Future<int> f = gilfree::detail::AnyFutureAccess::adopt_as<gilfree::Future<int>>(task);
  d::WorkItem* item = task;
  EXPECT_EQ(item->call_type(), typeid(C));
  EXPECT_NE(item->call(), nullptr);
  struct Ctx {
    gilfree::Future<int>* f;
    bool done_at_hook = true;
  } ctx{&f};
  item->run({[](void* p) noexcept {
               auto* c = static_cast<Ctx*>(p);
               c->done_at_hook = c->f->done();
             },
             &ctx});
  EXPECT_FALSE(ctx.done_at_hook);  // the hook ran after the call, before the result
  EXPECT_EQ(f.result(), 5);
  EXPECT_EQ(item->call(), nullptr);  // the call (and what it held) is dropped once run
  item->run();                       // a second run is a no-op
  item->release();                   // the queue's reference
}

TEST(TaskState, ACancelledTaskDropsItsCallAndNotifies) {
  auto hold = std::make_shared<int>(1);
  auto fn = [](std::shared_ptr<int> p) { return *p; };
  using C = d::Call<decltype(fn), std::shared_ptr<int>>;
  auto* task = new d::TaskState<int, C>(nullptr, C{fn, {hold}});
  gilfree::Future<int> f = gilfree::detail::AnyFutureAccess::adopt_as<gilfree::Future<int>>(task);
  EXPECT_EQ(hold.use_count(), 2);
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(f.state(), gilfree::FutureState::CANCELLED);
  static_cast<d::WorkItem*>(task)->run();
  EXPECT_EQ(f.state(), gilfree::FutureState::CANCELLED_AND_NOTIFIED);
  EXPECT_EQ(hold.use_count(), 1);  // the call's copy is gone
  static_cast<d::WorkItem*>(task)->release();
}

}  // namespace
