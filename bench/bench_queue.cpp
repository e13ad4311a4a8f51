// bench_queue — gilfree::Queue<int>(1024) side by side with its peers, in one run.
//
// Each benchmark moves 2,000,000 ints through a queue of capacity 1024 (moodycamel's
// blocking queue has no bound: it is what it is) with 1 producer/1 consumer and with
// 2 producers/2 consumers, blocking calls on both sides, and reports items/s.
// The consumers check a checksum, so a queue that loses or duplicates items fails loudly.
//
//   gilfree        gilfree::Queue<int>(1024): put() / get()
//   moodycamel     moodycamel::BlockingConcurrentQueue<int>: enqueue() / wait_dequeue()
//   tbb            tbb::concurrent_bounded_queue<int>, set_capacity(1024): push() / pop()
//   textbook       std::mutex + 2 std::condition_variable + std::deque, bound 1024
//   atomic_queue   atomic_queue::AtomicQueue<unsigned, 1024>: busy-spinning push()/pop()
//                  (the ceiling: never sleeps, burns both cores while waiting)
//
// BM_IdleConsumerCpu measures the other half of the target: the CPU time a consumer
// burns while blocked 200 ms in get() on an empty queue (sleeping: ~0; spinning: ~200).
//
// Run: build/<dir>/bench/bench_queue --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <time.h>

#include <atomic_queue/atomic_queue.h>
#include <tbb/concurrent_queue.h>

#include <chrono>
#include <concurrentqueue/blockingconcurrentqueue.h>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "gilfree/queue.hpp"

namespace {

constexpr std::int64_t kItems = 2'000'000;
constexpr int kCapacity = 1024;

// ---- one adapter per queue: put(v) and get() -------------------------------------------

struct GilfreeQ {
  gilfree::Queue<int> q{kCapacity};
  void put(int v) { q.put(v); }
  int get() { return q.get(); }
};

struct MoodycamelQ {
  moodycamel::BlockingConcurrentQueue<int> q;
  void put(int v) { q.enqueue(v); }
  int get() {
    int v = 0;
    q.wait_dequeue(v);
    return v;
  }
};

struct TbbQ {
  tbb::concurrent_bounded_queue<int> q;
  TbbQ() { q.set_capacity(kCapacity); }
  void put(int v) { q.push(v); }
  int get() {
    int v = 0;
    q.pop(v);
    return v;
  }
};

// The queue every C++ textbook shows: one mutex, two condition variables, a deque.
struct TextbookQ {
  std::mutex m;
  std::condition_variable not_empty, not_full;
  std::deque<int> items;
  void put(int v) {
    std::unique_lock lock(m);
    not_full.wait(lock, [&] { return items.size() < kCapacity; });
    items.push_back(v);
    lock.unlock();
    not_empty.notify_one();
  }
  int get() {
    std::unique_lock lock(m);
    not_empty.wait(lock, [&] { return !items.empty(); });
    int v = items.front();
    items.pop_front();
    lock.unlock();
    not_full.notify_one();
    return v;
  }
};

struct AtomicQ {
  atomic_queue::AtomicQueue<unsigned, kCapacity> q;  // 0 is its "empty" marker
  void put(int v) { q.push(static_cast<unsigned>(v)); }
  int get() { return static_cast<int>(q.pop()); }
};

// Moves kItems (values 1..kItems) from `producers` threads to `consumers` threads.
template <class Q>
void BM_Transfer(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int consumers = static_cast<int>(state.range(1));
  for (auto _ : state) {
    auto q = std::make_unique<Q>();
    std::atomic<std::int64_t> sum{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&, c] {
        const std::int64_t n = kItems / consumers + (c < kItems % consumers ? 1 : 0);
        std::int64_t local = 0;
        for (std::int64_t i = 0; i < n; ++i) local += q->get();
        sum.fetch_add(local);
      });
    }
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        for (std::int64_t v = 1 + p; v <= kItems; v += producers) q->put(static_cast<int>(v));
      });
    }
    for (auto& t : threads) t.join();
    if (sum.load() != kItems * (kItems + 1) / 2) {
      state.SkipWithError("checksum mismatch: items lost or duplicated");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}

#define TRANSFER(Q, name)                                            \
  BENCHMARK(BM_Transfer<Q>)                                          \
      ->Name(name)                                                   \
      ->ArgNames({"P", "C"})                                         \
      ->Args({1, 1})                                                 \
      ->Args({2, 2})                                                 \
      ->UseRealTime()                                                \
      ->Unit(benchmark::kMillisecond)                                \
      ->MinTime(1.0)

TRANSFER(GilfreeQ, "gilfree");
TRANSFER(MoodycamelQ, "moodycamel");
TRANSFER(TbbQ, "tbb");
TRANSFER(TextbookQ, "textbook");
TRANSFER(AtomicQ, "atomic_queue");

double thread_cpu_ms(pthread_t thread) {
  clockid_t clock;
  pthread_getcpuclockid(thread, &clock);
  timespec ts{};
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// CPU time a consumer spends blocked in get() for 200 ms before an item arrives.
template <class Q>
void BM_IdleConsumerCpu(benchmark::State& state) {
  double cpu_ms = 0;
  for (auto _ : state) {
    Q q;
    std::atomic<bool> waiting{false};
    std::thread consumer([&] {
      waiting.store(true);
      benchmark::DoNotOptimize(q.get());
    });
    while (!waiting.load()) std::this_thread::yield();
    const double before = thread_cpu_ms(consumer.native_handle());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const double after = thread_cpu_ms(consumer.native_handle());
    q.put(1);
    consumer.join();
    cpu_ms += after - before;
  }
  state.counters["cpu_ms_per_200ms_idle"] = cpu_ms / static_cast<double>(state.iterations());
}

BENCHMARK(BM_IdleConsumerCpu<GilfreeQ>)->Name("idle/gilfree")->Iterations(3)->UseRealTime();
BENCHMARK(BM_IdleConsumerCpu<MoodycamelQ>)->Name("idle/moodycamel")->Iterations(3)->UseRealTime();
BENCHMARK(BM_IdleConsumerCpu<TextbookQ>)->Name("idle/textbook")->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
