// bench_threading — gilfree's threading primitives side by side with the standard library's,
// in one run (issue 2, part 6). Python's figures come from bench/cpython_threading.py.
//
//   Uncontended   one acquire+release of gilfree::Lock / RLock vs std::mutex /
//                 std::recursive_mutex, with one atomic RMW as the floor.
//   Contended     2 threads incrementing one counter under the lock, in items/s
//                 (one item = one increment).
//   PingPong      a round trip between two threads over two events (set / wait / clear):
//                 gilfree::Event vs an event made of std::mutex + std::condition_variable.
//   WhatIf        sketches of changes proposed for threading.hpp, measured beside the real
//                 thing (docs/bench/threading.md says why); they are not gilfree's types.
//
// Run: build/release/bench/bench_threading [--benchmark_repetitions=3 ...]
#include <benchmark/benchmark.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

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

// ---- what-if sketches (not gilfree's types; see docs/bench/threading.md) ---------------

namespace what_if {

// Registers this process for expedited membarrier once; false where the kernel lacks it.
bool membarrier_ready() {
  static const bool ok =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  return ok;
}

// A futex lock whose release is a plain store instead of an atomic exchange (one locked
// instruction per acquire+release instead of two). The releaser stores 0 and then reads
// `waiters_`; a thread about to sleep increments `waiters_` and then forces a full barrier
// on every running thread of the process with membarrier(2) before it rechecks `state_`:
// an asymmetric Dekker handshake, so either the releaser sees the waiter or the waiter
// sees the release. Only a thread that has already spun in vain pays the syscall.
class AsymLock {
 public:
  AsymLock() { asym_ = membarrier_ready(); }
  void lock() {
    if (!try_lock()) lock_slow();
  }
  bool try_lock() {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void unlock() {
    // Python's "release unlocked lock" check stays for the single-thread misuse; two
    // threads releasing one lock at once are no longer told apart.
    if (state_.load(std::memory_order_relaxed) == 0) throw gilfree::RuntimeError("release unlocked lock");
    if (asym_) {
      state_.store(0, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the waiter's membarrier does the rest
    } else {
      state_.store(0, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    if (waiters_.load(std::memory_order_relaxed) != 0) gilfree::detail::futex_wake(state_, 1);
  }

 private:
  void lock_slow() {
    auto free_and_won = [this] { return state_.load(std::memory_order_relaxed) == 0 && try_lock(); };
    if (gilfree::detail::spin_until(free_and_won)) return;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    if (asym_) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    else std::atomic_thread_fence(std::memory_order_seq_cst);
    while (!try_lock()) gilfree::detail::futex_wait(state_, 1, gilfree::Deadline());
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  std::atomic<std::uint32_t> state_{0};
  std::atomic<std::uint32_t> waiters_{0};
  bool asym_ = false;
};

// gilfree::Event with a two-phase spin: 2 us of pause, then sched_yield() until 20 us, then
// sleep. Yielding hands the core to a runnable partner on an oversubscribed machine, where
// a pause-spin only burns the time slice the partner needs.
class YieldSpinEvent {
 public:
  bool is_set() const noexcept { return flag_.load(std::memory_order_acquire) != 0; }
  void set() noexcept {
    flag_.store(1, std::memory_order_release);
    ec_.notify_all();
  }
  void clear() noexcept { flag_.store(0, std::memory_order_relaxed); }
  bool wait() {
    using clock = std::chrono::steady_clock;
    if (is_set()) return true;
    const auto t0 = clock::now();
    do {
      for (int i = 0; i < 16; ++i) {
        if (is_set()) return true;
        gilfree::detail::cpu_relax();
      }
    } while (clock::now() - t0 < std::chrono::microseconds(2));
    do {
      sched_yield();
      if (is_set()) return true;
    } while (clock::now() - t0 < std::chrono::microseconds(20));
    for (;;) {
      auto key = ec_.prepare_wait();
      if (is_set()) {
        ec_.cancel_wait();
        return true;
      }
      ec_.wait(key, gilfree::Deadline());
      if (is_set()) return true;
    }
  }

 private:
  std::atomic<std::uint32_t> flag_{0};
  gilfree::detail::EventCount ec_;
};

}  // namespace what_if

BENCHMARK_TEMPLATE(BM_Uncontended_LockUnlock, what_if::AsymLock)->Name("BM_WhatIf_Uncontended_AsymLock");
BENCHMARK_TEMPLATE(BM_Contended2_Increment, what_if::AsymLock)
    ->Name("BM_WhatIf_Contended2_AsymLock")->UseManualTime()->Iterations(20);
BENCHMARK_TEMPLATE(BM_PingPong_RoundTrip, what_if::YieldSpinEvent)
    ->Name("BM_WhatIf_PingPong_YieldSpinEvent")->UseRealTime()->MinTime(0.5);

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
