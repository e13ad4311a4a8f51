// gilfree::mpi in the static world: run as `mpirun -n 3 ./test_mpi_futures` (ctest does,
// under a timeout). Rank 0 runs the tests; the Session turns ranks 1..N-1 into workers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cereal/types/utility.hpp>  // std::pair results

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ranges>
#include <variant>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/errors.hpp"
#include "gilfree/mpi/futures.hpp"
#include "gilfree/progress.hpp"

namespace mpi = gilfree::mpi;

namespace {

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
std::string greet(std::string who) { return "hello " + who; }
int my_pid() { return static_cast<int>(::getpid()); }
int fail_value(int x) {
  if (x == 13) throw gilfree::ValueError("unlucky " + std::to_string(x));
  return x;
}
struct Custom : std::exception {
  const char* what() const noexcept override { return "custom failure"; }
};
int fail_custom(int) { throw Custom(); }
void nothing(int) {}
// Sleeps `ms` milliseconds on the worker and returns ms (for pending-work tests).
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
// A function object that crosses in its cereal form.
struct Scale {
  int k = 1;
  int operator()(int x) const { return k * x; }
  template <class Ar>
  void serialize(Ar& ar) {
    ar(k);
  }
};

// Every element of a lazy result range, in the order it yields them.
template <class R>
auto collect(R&& range) {
  std::vector<std::remove_cvref_t<decltype(*range.begin())>> out;
  for (auto& v : range) out.push_back(std::move(v));
  return out;
}

}  // namespace

TEST(MPIPoolExecutor, SubmitRunsOnAnotherRank) {
  mpi::MPIPoolExecutor ex;
  EXPECT_GE(ex.num_workers(), 1);
  EXPECT_EQ(ex.submit(square, 7).result(), 49);
  EXPECT_EQ(ex.submit(&add, 2, 3).result(), 5);
  EXPECT_EQ(ex.submit(greet, std::string("mpi")).result(), "hello mpi");
  EXPECT_NE(ex.submit(my_pid).result(), static_cast<int>(::getpid()));
  EXPECT_EQ(ex.submit([](int x) { return x + 1; }, 41).result(), 42);
  EXPECT_EQ(ex.submit(Scale{3}, 5).result(), 15);
  auto v = ex.submit(nothing, 1);
  v.result();
  EXPECT_TRUE(v.done());
}

TEST(MPIPoolExecutor, ManyTasksAllComplete) {
  mpi::MPIPoolExecutor ex;
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < 500; ++i) fs.push_back(ex.submit(square, i));
  for (int i = 0; i < 500; ++i) ASSERT_EQ(fs[i].result(std::chrono::seconds(30)), i * i);
}

TEST(MPIPoolExecutor, TaskExceptionsReachTheFuture) {
  mpi::MPIPoolExecutor ex;
  auto f = ex.submit(fail_value, 13);
  try {
    f.result();
    FAIL() << "no exception";
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "unlucky 13");
  }
  auto g = ex.submit(fail_custom, 1);
  try {
    g.result();
    FAIL() << "no exception";
  } catch (const mpi::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("Custom"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("custom failure"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ex.submit(square, 3).result(), 9);  // the worker survives
}

TEST(MPIPoolExecutor, MapKeepsInputOrderWithAnyChunksize) {
  mpi::MPIPoolExecutor ex;
  std::vector<int> xs(103);
  for (int i = 0; i < 103; ++i) xs[i] = i;
  for (std::size_t cs : {1u, 2u, 10u, 200u}) {
    auto out = collect(ex.map(square, xs, {.chunksize = cs}));
    ASSERT_EQ(out.size(), xs.size()) << cs;
    for (int i = 0; i < 103; ++i) ASSERT_EQ(out[i], i * i) << "chunksize " << cs;
  }
  EXPECT_TRUE(collect(ex.map(square, std::vector<int>{})).empty());
  EXPECT_THROW((void)ex.map(square, xs, {.chunksize = 0}), gilfree::ValueError);
  EXPECT_THROW((void)ex.map(square, xs, {.buffersize = 0}), gilfree::ValueError);
}

TEST(MPIPoolExecutor, MapIsLazy) {
  mpi::MPIPoolExecutor ex;
  // The results come one by one while later chunks still run: the first one is in hand
  // long before the last chunk (2 s of naps on the workers) is done.
  std::vector<int> ms{0, 0, 1000, 1000};
  auto t0 = std::chrono::steady_clock::now();
  auto r = ex.map(nap, ms);
  auto it = r.begin();
  ASSERT_FALSE(it == std::default_sentinel);
  EXPECT_EQ(*it, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  std::vector<int> rest;
  for (++it; it != std::default_sentinel; ++it) rest.push_back(*it);
  EXPECT_EQ(rest, (std::vector<int>{0, 1000, 1000}));
}

TEST(MPIPoolExecutor, MapWithBuffersizeTakesAnUnboundedInput) {
  mpi::MPIPoolExecutor ex;
  int n = 0;
  for (int v : ex.map(square, std::views::iota(0), {.chunksize = 3, .buffersize = 2})) {
    ASSERT_EQ(v, n * n);
    if (++n == 40) break;
  }
  EXPECT_EQ(n, 40);
}

TEST(MPIPoolExecutor, MapZipsRangesToTheShortest) {
  mpi::MPIPoolExecutor ex;
  std::vector<int> a{1, 2, 3, 4};
  std::vector<std::string> b{"a", "b", "c"};
  auto rep = [](int n, const std::string& t) { return std::string(static_cast<std::size_t>(n), t[0]); };
  EXPECT_EQ(collect(ex.map(rep, a, b)), (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_EQ(collect(ex.map(add, a, std::vector<int>{10, 20}, {.chunksize = 2})),
            (std::vector<int>{11, 22}));
}

TEST(MPIPoolExecutor, MapUnorderedYieldsEveryResult) {
  mpi::MPIPoolExecutor ex;
  std::vector<int> xs(50);
  for (int i = 0; i < 50; ++i) xs[i] = i;
  auto out = collect(ex.map(square, xs, {.chunksize = 7, .unordered = true}));
  std::multiset<int> got(out.begin(), out.end()), want;
  for (int x : xs) want.insert(x * x);
  EXPECT_EQ(got, want);
  // A slow first chunk comes last.
  std::vector<int> ms{400, 0, 0};
  auto first = *ex.map(nap, ms, {.unordered = true}).begin();
  EXPECT_EQ(first, 0);
}

TEST(MPIPoolExecutor, StarmapAndMapErrors) {
  mpi::MPIPoolExecutor ex;
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(collect(ex.starmap(add, pairs, {.chunksize = 2})), (std::vector<int>{3, 7, 11}));
  // The items before the failing one are yielded, then its exception.
  std::vector<int> xs{1, 2, 13, 4};
  std::vector<int> got;
  try {
    for (int v : ex.map(fail_value, xs, {.chunksize = 1})) got.push_back(v);
    FAIL() << "no exception";
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "unlucky 13");
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  int n = 0;
  for (auto m : ex.map(nothing, xs)) {
    static_assert(std::is_same_v<decltype(m), std::monostate>);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(MPIPoolExecutor, MapTimeout) {
  mpi::MPIPoolExecutor ex;
  std::vector<int> xs{500};
  auto r = ex.map(nap, xs, {.timeout = std::chrono::milliseconds(50)});
  EXPECT_THROW(r.begin(), gilfree::TimeoutError);
  auto u = ex.map(nap, xs, {.timeout = std::chrono::milliseconds(50), .unordered = true});
  EXPECT_THROW(u.begin(), gilfree::TimeoutError);
}

TEST(MPIPoolExecutor, IsAnExecutor) {
  mpi::MPIPoolExecutor ex;
  EXPECT_EQ(&ex.bootup(), &ex);
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(square, i));
  int sum = 0;
  for (auto f : gilfree::as_completed(fs, std::chrono::seconds(30))) sum += f.result();
  EXPECT_EQ(sum, 2470);
  auto w = gilfree::wait(fs, std::chrono::seconds(30));
  EXPECT_EQ(w.done.size(), 20u);
  std::size_t seen = 0;
  for (int v : gilfree::progress(ex.map(square, std::vector<int>{1, 2, 3}), {.fd = -1})) seen += v > 0;
  EXPECT_EQ(seen, 3u);
  gilfree::Executor& base = ex;
  // Through Executor&: a call type that MPIPoolExecutor::submit registered (square(int)
  // above) is sent to a worker, completing the future Executor::submit made.
  gilfree::Future<int> f = base.submit(square, 9);
  EXPECT_EQ(f.result(std::chrono::seconds(30)), 81);
  gilfree::Future<int> g = base.submit(my_pid);
  EXPECT_NE(g.result(std::chrono::seconds(30)), static_cast<int>(::getpid()));
  // One that no MPIPoolExecutor::submit names (a closure, here) is refused, not run here.
  int local = 5;
  EXPECT_THROW((void)base.submit([local] { return local; }), gilfree::RuntimeError);
  base.shutdown(true);
  EXPECT_THROW((void)base.submit(square, 1), gilfree::RuntimeError);
  EXPECT_THROW(ex.submit(square, 1), gilfree::RuntimeError);
  EXPECT_THROW(ex.bootup(), gilfree::RuntimeError);
}

TEST(MPIPoolExecutor, ShutdownWaitsForPendingWork) {
  mpi::MPIPoolExecutor ex;
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(nap, 5));
  ex.shutdown(true);
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    EXPECT_EQ(f.result(), 5);
  }
  EXPECT_THROW(ex.submit(square, 1), gilfree::RuntimeError);
  ex.shutdown();  // idempotent
}

// Rank 0 keeps at most 2 batches of 64 tasks in flight per worker: with 2 workers, 300
// tasks leave some queued (cancellable) whatever the timing.
constexpr int kMoreThanInFlight = 300;

TEST(MPIPoolExecutor, ShutdownCancelFuturesCancelsQueuedWork) {
  mpi::MPIPoolExecutor ex;
  ASSERT_LE(ex.num_workers(), 2) << "kMoreThanInFlight assumes mpirun -n 3";
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < kMoreThanInFlight; ++i) fs.push_back(ex.submit(nap, 10));
  ex.shutdown(true, true);
  int cancelled = 0, finished = 0;
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    if (f.cancelled()) {
      ++cancelled;
      EXPECT_THROW(f.result(), gilfree::CancelledError);
    } else {
      ++finished;
      EXPECT_EQ(f.result(), 10);
    }
  }
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(cancelled + finished, kMoreThanInFlight);
}

TEST(MPIPoolExecutor, CancelBeforeDispatch) {
  mpi::MPIPoolExecutor ex;
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < kMoreThanInFlight; ++i) fs.push_back(ex.submit(nap, 10));
  bool any = false;
  for (auto it = fs.rbegin(); it != fs.rend(); ++it) any |= it->cancel();
  EXPECT_TRUE(any);
  ex.shutdown(true);
  for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST(MPIPoolExecutor, ExecutorsShareTheWorkers) {
  mpi::MPIPoolExecutor a, b;
  auto fa = a.submit(square, 4);
  auto fb = b.submit(square, 5);
  EXPECT_EQ(fa.result() + fb.result(), 41);
}

TEST(MPIPool, TheMultiprocessingPoolFront) {
  mpi::Pool pool;
  EXPECT_GE(pool.processes(), 1u);
  EXPECT_EQ(pool.apply(square, 6), 36);
  std::vector<int> xs(37);
  for (int i = 0; i < 37; ++i) xs[i] = i;
  auto ys = pool.map(square, xs, 5);
  ASSERT_EQ(ys.size(), xs.size());
  for (int i = 0; i < 37; ++i) EXPECT_EQ(ys[i], i * i);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{3, 7}));
  std::vector<int> ordered;
  for (int y : pool.imap(square, xs, 4)) ordered.push_back(y);
  EXPECT_EQ(ordered, ys);
  std::multiset<int> any;
  for (int y : pool.imap_unordered(square, xs, 3)) any.insert(y);
  EXPECT_EQ(any, std::multiset<int>(ys.begin(), ys.end()));
  std::atomic<int> seen{0};
  auto r = pool.apply_async(square, std::tuple(9), [&](int v) { seen = v; });
  EXPECT_EQ(r.get(std::chrono::seconds(30)), 81);
  EXPECT_EQ(seen.load(), 81);  // the callback ran (on rank 0) before the result was ready
  EXPECT_THROW(pool.apply(fail_value, 13), gilfree::ValueError);
  std::vector<int> bad{1, 13};
  EXPECT_THROW(pool.map(fail_value, bad), gilfree::ValueError);
  pool.close();
  pool.join();
}

// ---- initializer (mpi4py.futures' initializer/initargs) ---------------------------------

namespace {

int g_init_value = 0;  // on a worker rank: what the last initializer that ran there set
void set_init_value(int v) { g_init_value = v; }
void set_init_thousand() { g_init_value = 1000; }
void failing_init(std::string why) { throw gilfree::ValueError(why); }
// This rank's pid and g_init_value, after `ms` ms (so that every worker takes some tasks).
std::pair<int, int> pid_and_init_value(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {static_cast<int>(::getpid()), g_init_value};
}

// Runs 40 tasks on `ex`; expects every one to see `want` and every worker rank to run some.
void expect_every_worker_initialized(mpi::MPIPoolExecutor& ex, int want) {
  std::vector<gilfree::Future<std::pair<int, int>>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(ex.submit(pid_and_init_value, 2));
  std::set<int> pids;
  for (auto& f : fs) {
    auto [pid, value] = f.result(std::chrono::seconds(60));
    EXPECT_EQ(value, want) << "a task ran on rank pid " << pid << " before the initializer";
    pids.insert(pid);
  }
  EXPECT_EQ(pids.size(), static_cast<std::size_t>(ex.num_workers()));
}

}  // namespace

TEST(MPIPoolExecutorInitializer, RunsOnEveryWorkerBeforeItsTasksWithInitargs) {
  mpi::MPIPoolExecutor ex({.initializer = {set_init_value, 4242}});
  expect_every_worker_initialized(ex, 4242);
  // Another executor's initializer runs on the same (shared) ranks before its own tasks.
  mpi::MPIPoolExecutor other({.initializer = set_init_thousand});
  expect_every_worker_initialized(other, 1000);
}

TEST(MPIPoolExecutorInitializer, ThrowingInitializerBreaksTheExecutor) {
  {
    mpi::MPIPoolExecutor ex({.initializer = {failing_init, std::string("no database")}});
    std::vector<gilfree::Future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(square, i));
    for (auto& f : fs) {
      std::exception_ptr e = f.exception(std::chrono::seconds(60));
      ASSERT_TRUE(e) << "a task of a broken executor succeeded";
      try {
        std::rethrow_exception(e);
      } catch (const gilfree::BrokenExecutor& b) {
        std::string what = b.what();
        EXPECT_NE(what.find("initializer"), std::string::npos) << what;
        EXPECT_NE(what.find("ValueError"), std::string::npos) << what;
        EXPECT_NE(what.find("no database"), std::string::npos) << what;
      } catch (const std::exception& other) {
        ADD_FAILURE() << "not a BrokenExecutor: " << other.what();
      }
    }
    EXPECT_THROW(ex.submit(square, 1), gilfree::BrokenExecutor);
    ex.shutdown(true);  // returns: nothing of it is left outstanding
  }
  // The shared ranks still serve an executor without an initializer.
  mpi::MPIPoolExecutor plain;
  EXPECT_EQ(plain.submit(square, 9).result(std::chrono::seconds(60)), 81);
  std::vector<int> xs{1, 2, 3, 4, 5};
  EXPECT_EQ(collect(plain.map(square, xs, {.chunksize = 2})), (std::vector<int>{1, 4, 9, 16, 25}));
}

TEST(MPIPoolExecutorInitializer, PoolTakesTheInitializer) {  // mpi4py.util.pool's initializer
  mpi::Pool pool({.initializer = {set_init_value, 77}});
  EXPECT_EQ(pool.apply(pid_and_init_value, 0).second, 77);
  pool.close();
  pool.join();
}

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);  // ranks other than 0 serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
