// ProcessPoolExecutor: calls in worker processes under each start method, results and
// exceptions coming back, map with chunks, shutdown and the options' checks. (Worker death,
// timeouts and the other failures: test_process_pool_failures.cpp; mp::Pool:
// test_process_pool_front.cpp; the Executor contract: test_executor.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/futures.hpp"
#include "gilfree/futures/process.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Future;
using gilfree::ProcessPoolExecutor;
namespace mp = gilfree::mp;

int square(int x) { return x * x; }
int my_pid() { return static_cast<int>(::getpid()); }
int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

struct MyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Unregistered : std::runtime_error {
  using std::runtime_error::runtime_error;
};
const bool my_error_registered = (mp::register_exception<MyError>(), true);

class ProcessPool : public ::testing::TestWithParam<std::string> {
 protected:
  ProcessPoolExecutor::Options opts(int workers) {
    return {.max_workers = workers, .mp_context = mp::get_context(GetParam())};
  }
};

TEST_P(ProcessPool, SubmitRunsInAnotherProcess) {
  ProcessPoolExecutor ex(opts(2));
  EXPECT_EQ(ex.max_workers(), 2);
  EXPECT_EQ(ex.submit(square, 7).result(20s), 49);
  int pid = ex.submit(my_pid).result(20s);
  EXPECT_NE(pid, static_cast<int>(::getpid()));
  auto pids = ex.worker_pids();
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end());
  EXPECT_EQ(ex.submit([](std::string s, int n) { return s + std::to_string(n); }, std::string("x"), 5)
                .result(20s),
            "x5");
}

TEST_P(ProcessPool, ExceptionsComeBackAsTheirTypeOrRemoteError) {
  ProcessPoolExecutor ex(opts(1));
  auto a = ex.submit([]() -> int { throw gilfree::ValueError("bad value"); });
  auto b = ex.submit([]() -> int { throw MyError("mine"); });
  auto c = ex.submit([]() -> int { throw Unregistered("who"); });
  EXPECT_THROW((void)a.result(20s), gilfree::ValueError);
  try {
    (void)b.result(20s);
    FAIL();
  } catch (const MyError& e) {
    EXPECT_STREQ(e.what(), "mine");
  }
  try {
    (void)c.result(20s);
    FAIL();
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("Unregistered: who"), std::string::npos) << e.what();
  }
}

TEST_P(ProcessPool, AsCompletedOverProcessAndThreadFutures) {
  ProcessPoolExecutor ex(opts(3));
  gilfree::ThreadPoolExecutor tex({.max_workers = 2});
  std::vector<gilfree::AnyFuture> fs;
  for (int n : {20, 21, 22}) fs.push_back(ex.submit(fib, n));
  fs.push_back(tex.submit(fib, 10));
  int count = 0;
  for (auto f : gilfree::as_completed(fs, 30s)) {
    f.result();
    ++count;
  }
  EXPECT_EQ(count, 4);
  EXPECT_EQ(fs[2].as<int>().result(), 17711);
}

TEST_P(ProcessPool, MapWithChunksKeepsOrder) {
  ProcessPoolExecutor ex(opts(2));
  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), 0);
  for (std::size_t cs : {1u, 7u, 1000u}) {
    int i = 0;
    for (int v : ex.map(square, in, {.timeout = 30s, .chunksize = cs})) {
      ASSERT_EQ(v, i * i);
      ++i;
    }
    EXPECT_EQ(i, 1000);
  }
  EXPECT_THROW((void)ex.map(square, in, {.chunksize = 0}), gilfree::ValueError);
}

TEST_P(ProcessPool, ManyTinyTasks) {
  ProcessPoolExecutor ex(opts(2));
  std::vector<Future<int>> fs;
  for (int i = 0; i < 5000; ++i) fs.push_back(ex.submit(square, i));
  long long sum = 0;
  for (auto& f : fs) sum += f.result(30s);
  long long want = 0;
  for (long long i = 0; i < 5000; ++i) want += i * i;
  EXPECT_EQ(sum, want);
}

void init_fails() { throw gilfree::ValueError("init exploded"); }
int initialized_value = 0;
void init_sets(int v) { initialized_value = v; }
int read_initialized() { return initialized_value; }

TEST_P(ProcessPool, InitializerRunsInEachWorker) {
  ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mp::get_context(GetParam()),
                          .initializer = {init_sets, 42}});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ex.submit(read_initialized).result(20s), 42);
}

TEST_P(ProcessPool, AThrowingInitializerBreaksThePoolWithItsMessage) {
  ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mp::get_context(GetParam()),
                          .initializer = init_fails});
  try {  // the pool may be broken already when submit() is called: it raises then
    (void)ex.submit(square, 3).result(20s);
    FAIL();
  } catch (const gilfree::BrokenProcessPool& e) {
    EXPECT_NE(std::string(e.what()).find("init exploded"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)ex.submit(square, 1), gilfree::BrokenProcessPool);
  ex.shutdown(true);
  EXPECT_TRUE(ex.worker_pids().empty());  // no respawn storm: every worker is gone
}

TEST_P(ProcessPool, MaxTasksPerChildReplacesWorkers) {
  // CPython gh-115634 deadlocked with 1 < max_tasks_per_child < tasks / workers.
  ProcessPoolExecutor ex({.max_workers = 3, .mp_context = mp::get_context(GetParam()),
                          .max_tasks_per_child = 2});
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(my_pid));
  std::set<int> pids;
  for (auto& f : fs) pids.insert(f.result(60s));
  EXPECT_GE(pids.size(), 25u);  // at most 2 calls per worker process
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool,
                         ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

TEST(ProcessPoolOptions, BadValuesAreValueErrors) {
  EXPECT_THROW(ProcessPoolExecutor({.max_workers = 0}), gilfree::ValueError);
  EXPECT_THROW(ProcessPoolExecutor({.max_workers = 1, .max_tasks_per_child = 0}),
               gilfree::ValueError);
}

}  // namespace
