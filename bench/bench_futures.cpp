// bench_futures — gilfree's executors side by side with their peers, in one run.
//
//   1,000,000 empty tasks, then wait for all of them:
//     ThreadPoolExecutor(2) submit → Future, then result() on each
//     tbb::task_group run + wait (creates no futures) in an arena of 2 workers + the caller
//     boost::asio::thread_pool(2) post + join
//     a textbook mutex + condition_variable pool returning std::future (below)
//     (BS::thread_pool, named in the issue, is not packaged in Debian: not shown)
//   submit + result() round trip: worker still spinning / worker asleep (2 ms idle before)
//   Executor::map over 1,000,000 ints with buffersize
//   ThreadPool::imap over 1,000,000 ints with chunksize 1 and 1000
//
// Run: build/<dir>/bench/bench_futures --benchmark_repetitions=1
// CPython's equivalents: python3 bench/cpython_futures.py
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "gilfree/futures.hpp"
#if __has_include("gilfree/multiprocessing/pool.hpp")
#include "gilfree/multiprocessing/pool.hpp"
#define GILFREE_HAVE_POOL 1
#endif

namespace {

constexpr int kTasks = 1'000'000;

// The textbook pool: one mutex, one condition variable, a deque of packaged tasks.
class TextbookPool {
 public:
  explicit TextbookPool(int n) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        for (;;) {
          std::packaged_task<void()> task;
          {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !q_.empty(); });
            if (stop_ && q_.empty()) return;
            task = std::move(q_.front());
            q_.pop_front();
          }
          task();
        }
      });
  }
  ~TextbookPool() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  template <class F>
  std::future<void> submit(F f) {
    std::packaged_task<void()> task(std::move(f));
    auto fut = task.get_future();
    {
      std::lock_guard lk(mu_);
      q_.push_back(std::move(task));
    }
    cv_.notify_one();
    return fut;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> q_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

void BM_EmptyTasks_gilfree_ThreadPoolExecutor(benchmark::State& state) {
  gilfree::ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<gilfree::Future<void>> fs;
  fs.reserve(kTasks);
  auto round = [&] {
    for (int i = 0; i < kTasks; ++i) fs.push_back(ex.submit([] {}));
    for (auto& f : fs) f.result();
    fs.clear();
  };
  round();  // warm-up: threads started, 1M states' pages faulted in once
  for (auto _ : state) round();
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_EmptyTasks_gilfree_ThreadPoolExecutor)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

void BM_EmptyTasks_tbb_task_group(benchmark::State& state) {
  tbb::task_arena arena(3, 1);  // 2 workers + the calling thread, which submits and waits
  auto round = [&] {
    arena.execute([] {
      tbb::task_group tg;
      for (int i = 0; i < kTasks; ++i) tg.run([] {});
      tg.wait();
    });
  };
  round();  // warm-up, as for every contender
  for (auto _ : state) round();
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_EmptyTasks_tbb_task_group)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

void BM_EmptyTasks_asio_thread_pool(benchmark::State& state) {
  auto round = [] {
    boost::asio::thread_pool pool(2);
    for (int i = 0; i < kTasks; ++i) boost::asio::post(pool, [] {});
    pool.join();
  };
  round();  // warm-up, as for every contender
  for (auto _ : state) round();
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_EmptyTasks_asio_thread_pool)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

void BM_EmptyTasks_textbook_std_future(benchmark::State& state) {
  TextbookPool pool(2);
  std::vector<std::future<void>> fs;
  fs.reserve(kTasks);
  auto round = [&] {
    for (int i = 0; i < kTasks; ++i) fs.push_back(pool.submit([] {}));
    for (auto& f : fs) f.get();
    fs.clear();
  };
  round();  // warm-up, as for every contender
  for (auto _ : state) round();
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_EmptyTasks_textbook_std_future)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

// ---- round trips ----------------------------------------------------------------------

void BM_RoundTrip_gilfree(benchmark::State& state) {
  gilfree::ThreadPoolExecutor ex({.max_workers = 1});
  ex.submit([] {}).result();
  for (auto _ : state) benchmark::DoNotOptimize(ex.submit([] { return 1; }).result());
}
BENCHMARK(BM_RoundTrip_gilfree)->Unit(benchmark::kMicrosecond);

void BM_RoundTrip_textbook(benchmark::State& state) {
  TextbookPool pool(1);
  for (auto _ : state) pool.submit([] {}).get();
}
BENCHMARK(BM_RoundTrip_textbook)->Unit(benchmark::kMicrosecond);

// The worker has gone to sleep (2 ms idle) before each submit: the cross-core wake-up.
template <class Submit>
void round_trip_asleep(benchmark::State& state, Submit&& submit_and_wait) {
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto t0 = std::chrono::steady_clock::now();
    submit_and_wait();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
void BM_RoundTripAsleep_gilfree(benchmark::State& state) {
  gilfree::ThreadPoolExecutor ex({.max_workers = 1});
  ex.submit([] {}).result();
  round_trip_asleep(state, [&] { ex.submit([] {}).result(); });
}
BENCHMARK(BM_RoundTripAsleep_gilfree)->Unit(benchmark::kMicrosecond)->UseManualTime()->Iterations(500);

void BM_RoundTripAsleep_textbook(benchmark::State& state) {
  TextbookPool pool(1);
  round_trip_asleep(state, [&] { pool.submit([] {}).get(); });
}
BENCHMARK(BM_RoundTripAsleep_textbook)->Unit(benchmark::kMicrosecond)->UseManualTime()->Iterations(500);

// ---- map / imap -----------------------------------------------------------------------

void BM_Map_1M_ints(benchmark::State& state) {
  gilfree::ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<int> in(kTasks);
  std::iota(in.begin(), in.end(), 0);
  for (auto _ : state) {
    long long sum = 0;
    for (int v : ex.map([](int x) { return x * 2; }, in,
                        {.buffersize = static_cast<std::size_t>(state.range(0))}))
      sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_Map_1M_ints)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef GILFREE_HAVE_POOL
void BM_ThreadPool_imap_1M_ints(benchmark::State& state) {
  gilfree::ThreadPool pool(2);
  std::vector<int> in(kTasks);
  std::iota(in.begin(), in.end(), 0);
  for (auto _ : state) {
    long long sum = 0;
    for (int v : pool.imap([](int x) { return x * 2; }, in, static_cast<std::size_t>(state.range(0))))
      sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_ThreadPool_imap_1M_ints)->Arg(1)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
