// bench_threading — gilfree's threading primitives side by side with the standard library's,
// in one run (issue 2, part 6). Python's figures come from bench/cpython_threading.py.
//
//   Uncontended   one acquire+release of gilfree::Lock / RLock vs std::mutex /
//                 std::recursive_mutex, with one atomic RMW as the floor.
//   Contended     2 threads incrementing one counter under the lock, in items/s
//                 (one item = one increment).
//   PingPong      a round trip between two threads over two events (set / wait / clear):
//                 gilfree::Event vs an event made of std::mutex + std::condition_variable.
//
// Run: build/release/bench/bench_threading [--benchmark_repetitions=3 ...]
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "gilfree/threading.hpp"

namespace {

// ---- uncontended ------------------------------------------------------------------------

void BM_AtomicRMW_Floor(benchmark::State& state) {
  std::atomic<std::uint32_t> word{0};
  for (auto _ : state) {
    word.fetch_add(1, std::memory_order_acq_rel);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(word.load());
}
BENCHMARK(BM_AtomicRMW_Floor);

template <class M>
void BM_Uncontended_LockUnlock(benchmark::State& state) {
  M m;
  for (auto _ : state) {
    m.lock();
    benchmark::ClobberMemory();
    m.unlock();
  }
}
BENCHMARK_TEMPLATE(BM_Uncontended_LockUnlock, std::mutex);
BENCHMARK_TEMPLATE(BM_Uncontended_LockUnlock, gilfree::Lock);
BENCHMARK_TEMPLATE(BM_Uncontended_LockUnlock, std::recursive_mutex);
BENCHMARK_TEMPLATE(BM_Uncontended_LockUnlock, gilfree::RLock);

// The Python spelling, acquire() / release(), through the same inline fast path.
void BM_Uncontended_Lock_AcquireRelease(benchmark::State& state) {
  gilfree::Lock lock;
  for (auto _ : state) {
    lock.acquire();
    benchmark::ClobberMemory();
    lock.release();
  }
}
BENCHMARK(BM_Uncontended_Lock_AcquireRelease);

// ---- contended: 2 threads, one counter --------------------------------------------------

// Each benchmark iteration starts 2 threads that each do kIncrements increments under the
// lock; only the span from "go" to both done is timed (manual time).
template <class M>
void BM_Contended2_Increment(benchmark::State& state) {
  constexpr std::int64_t kIncrements = 200'000;
  for (auto _ : state) {
    M m;
    std::int64_t counter = 0;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    auto work = [&] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      for (std::int64_t i = 0; i < kIncrements; ++i) {
        m.lock();
        ++counter;
        m.unlock();
      }
    };
    std::thread a(work), b(work);
    while (ready.load() != 2) {
    }
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    a.join();
    b.join();
    auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    if (counter != 2 * kIncrements) state.SkipWithError("lost increments: the lock is broken");
  }
  state.SetItemsProcessed(state.iterations() * 2 * kIncrements);
}
BENCHMARK_TEMPLATE(BM_Contended2_Increment, std::mutex)->UseManualTime()->Iterations(20);
BENCHMARK_TEMPLATE(BM_Contended2_Increment, gilfree::Lock)->UseManualTime()->Iterations(20);

// ---- Event ping-pong ----------------------------------------------------------------------

// threading.Event made the textbook way, the peer the issue names.
class CondvarEvent {
 public:
  void set() {
    {
      std::lock_guard g(mu_);
      flag_ = true;
    }
    cv_.notify_all();
  }
  void clear() {
    std::lock_guard g(mu_);
    flag_ = false;
  }
  bool wait() {
    std::unique_lock g(mu_);
    cv_.wait(g, [this] { return flag_; });
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool flag_ = false;
};

// One iteration = one round trip: this thread sets `ping` and waits for `pong`; the partner
// waits for `ping`, clears it and sets `pong`. Each side clears the event it waited for
// before setting the other, so no set is ever lost.
template <class E>
void BM_PingPong_RoundTrip(benchmark::State& state) {
  E ping, pong;
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (;;) {
      ping.wait();
      ping.clear();
      if (stop.load(std::memory_order_acquire)) return;
      pong.set();
    }
  });
  for (auto _ : state) {
    ping.set();
    pong.wait();
    pong.clear();
  }
  stop.store(true, std::memory_order_release);
  ping.set();
  partner.join();
}
BENCHMARK_TEMPLATE(BM_PingPong_RoundTrip, CondvarEvent)->UseRealTime()->MinTime(0.5);
BENCHMARK_TEMPLATE(BM_PingPong_RoundTrip, gilfree::Event)->UseRealTime()->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) {
  // glibc runs pthread_mutex_lock/unlock without atomic instructions while a process has
  // never created a thread (__libc_single_threaded), which would make the uncontended
  // std::mutex figure that of a lock nobody needs. A lock lives in a program with threads,
  // so start (and end) one before measuring anything.
  std::thread([] {}).join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
