// The Executor contract, as a typed suite that every executor runs: the thread pool, the
// process pool under each start method, and (built again by tests/mpi with its own
// ExecutorTraits and ExecutorTypes) the MPI executor. The calls are captureless lambdas and plain functions
// over values, so an executor that sends calls to another process can run them too.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <ranges>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "gilfree/futures.hpp"
#include "gilfree/futures/process.hpp"
#include "gilfree/multiprocessing/pool.hpp"
#include "gilfree/threading.hpp"
#include "message_executor.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Future;

// How a test makes an executor of `workers` workers.
template <class E>
struct ExecutorTraits;

template <>
struct ExecutorTraits<gilfree::ThreadPoolExecutor> {
  static std::unique_ptr<gilfree::ThreadPoolExecutor> make(int workers) {
    return std::make_unique<gilfree::ThreadPoolExecutor>(
        gilfree::ThreadPoolExecutorOptions{.max_workers = workers});
  }
};

// An executor that ships only data to its workers: the stand-in for processes and MPI.
template <>
struct ExecutorTraits<gilfree_test::MessageExecutor> {
  static std::unique_ptr<gilfree_test::MessageExecutor> make(int workers) {
    return std::make_unique<gilfree_test::MessageExecutor>(workers);
  }
};

// ProcessPoolExecutor under one start method (a tag: the executor type is the same).
template <const char* Method>
struct ProcessPoolOn {};
constexpr char kFork[] = "fork";
constexpr char kForkserver[] = "forkserver";
constexpr char kSpawn[] = "spawn";
template <const char* Method>
struct ExecutorTraits<ProcessPoolOn<Method>> {
  static std::unique_ptr<gilfree::ProcessPoolExecutor> make(int workers) {
    return std::make_unique<gilfree::ProcessPoolExecutor>(gilfree::ProcessPoolExecutor::Options{
        .max_workers = workers, .mp_context = gilfree::mp::get_context(Method)});
  }
};

template <class E>
class ExecutorContract : public ::testing::Test {
 protected:
  static auto make(int workers) { return ExecutorTraits<E>::make(workers); }
};

#ifdef GILFREE_EXECUTOR_CONTRACT_TYPES
// Another executor's build of this suite (tests/mpi): its ExecutorTraits and ExecutorTypes.
#include GILFREE_EXECUTOR_CONTRACT_TYPES
#else
using ExecutorTypes =
    ::testing::Types<gilfree::ThreadPoolExecutor, gilfree_test::MessageExecutor,
                     ProcessPoolOn<kFork>, ProcessPoolOn<kForkserver>, ProcessPoolOn<kSpawn>>;
#endif
TYPED_TEST_SUITE(ExecutorContract, ExecutorTypes);

int square(int x) { return x * x; }
int slow_identity(int x, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return x;
}

TYPED_TEST(ExecutorContract, SubmitReturnsTheResult) {
  auto ex = this->make(2);
  Future<int> f = ex->submit([](int a, int b) { return a + b; }, 2, 3);
  EXPECT_EQ(f.result(10s), 5);
  EXPECT_EQ(ex->submit(square, 7).result(10s), 49);
  EXPECT_EQ(ex->submit([](std::string s) { return s + "!"; }, std::string("abc")).result(10s),
            "abc!");
  Future<void> v = ex->submit([] {});
  v.result(10s);
  EXPECT_EQ(v.state(), gilfree::FutureState::FINISHED);
}

TYPED_TEST(ExecutorContract, ExceptionComesBackAsItsType) {
  auto ex = this->make(1);
  auto f = ex->submit([]() -> int { throw gilfree::ValueError("nope"); });
  try {
    (void)f.result(10s);
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "nope");
  }
  EXPECT_NE(f.exception(10s), nullptr);
}

TYPED_TEST(ExecutorContract, ResultTimesOutWhileTheCallRuns) {
  auto ex = this->make(1);
  auto f = ex->submit(slow_identity, 4, 200);
  EXPECT_THROW((void)f.result(1ms), gilfree::TimeoutError);
  EXPECT_EQ(f.result(10s), 4);
}

TYPED_TEST(ExecutorContract, CancelsACallThatHasNotStarted) {
  auto ex = this->make(1);
  auto busy = ex->submit(slow_identity, 1, 100);
  auto queued = ex->submit(square, 3);
  if (queued.cancel()) {  // the worker is still busy with `busy`: it had not started
    EXPECT_TRUE(queued.cancelled());
    EXPECT_THROW((void)queued.result(10s), gilfree::CancelledError);
  }
  EXPECT_EQ(busy.result(10s), 1);
}

TYPED_TEST(ExecutorContract, AsCompletedAndWaitOverItsFutures) {
  auto ex = this->make(2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex->submit(square, i));
  int sum = 0;
  for (auto f : gilfree::as_completed(fs, 10s)) sum += f.result();  // a Future<int>
  EXPECT_EQ(sum, 2470);
  auto r = gilfree::wait(fs, 10s);
  EXPECT_EQ(r.done.size(), 20u);
  EXPECT_TRUE(r.not_done.empty());
}

TYPED_TEST(ExecutorContract, MapKeepsInputOrder) {
  auto ex = this->make(3);
  std::vector<int> in(200);
  std::iota(in.begin(), in.end(), 0);
  int i = 0;
  for (int v : ex->map(square, in)) {
    EXPECT_EQ(v, i * i);
    ++i;
  }
  EXPECT_EQ(i, 200);
}

TYPED_TEST(ExecutorContract, MapZipsToTheShortestRange) {
  auto ex = this->make(2);
  std::vector<int> a{1, 2, 3, 4};
  std::vector<std::string> b{"a", "b", "c"};
  std::vector<std::string> out;
  for (auto& s : ex->map([](int n, const std::string& t) { return std::string(n, t[0]); }, a, b,
                         {.buffersize = 2}))
    out.push_back(s);
  EXPECT_EQ(out, (std::vector<std::string>{"a", "bb", "ccc"}));
}

TYPED_TEST(ExecutorContract, MapWithBuffersizeTakesAnUnboundedInput) {
  auto ex = this->make(2);
  int n = 0;
  for (int v : ex->map(square, std::views::iota(0), {.buffersize = 4})) {
    EXPECT_EQ(v, n * n);
    if (++n == 50) break;
  }
  EXPECT_EQ(n, 50);
  EXPECT_THROW((void)ex->map(square, std::vector<int>{1}, {.buffersize = 0}), gilfree::ValueError);
}

TYPED_TEST(ExecutorContract, MapRethrowsAtTheFailingElement) {
  auto ex = this->make(2);
  std::vector<int> in{0, 1, 2, 3, 4};
  std::vector<int> got;
  try {
    for (int v : ex->map(
             [](int x) {
               if (x == 3) throw gilfree::ValueError("three");
               return x;
             },
             in))
      got.push_back(v);
    FAIL();
  } catch (const gilfree::ValueError& e) {
    EXPECT_STREQ(e.what(), "three");
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
}

TYPED_TEST(ExecutorContract, MapOfAVoidFunctionYieldsMonostate) {
  auto ex = this->make(2);
  std::vector<int> in{1, 2, 3};
  int n = 0;
  for (auto m : ex->map([](int) {}, in)) {
    static_assert(std::is_same_v<decltype(m), std::monostate>);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TYPED_TEST(ExecutorContract, MapTimeoutCountsFromTheCall) {
  auto ex = this->make(1);
  std::vector<int> ms{300, 300};
  auto r = ex->map([](int t) { return slow_identity(t, t); }, ms, {.timeout = 20ms});
  EXPECT_THROW(r.begin(), gilfree::TimeoutError);
}

TYPED_TEST(ExecutorContract, ShutdownWaitFinishesEverySubmittedCall) {
  auto ex = this->make(2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex->submit(square, i));
  ex->shutdown(true);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(fs[i].done());
    EXPECT_EQ(fs[i].result(), i * i);
  }
}

TYPED_TEST(ExecutorContract, SubmitAfterShutdownIsARuntimeError) {
  auto ex = this->make(1);
  ex->shutdown();
  try {
    (void)ex->submit(square, 1);
    FAIL();
  } catch (const gilfree::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
  ex->shutdown();  // idempotent
}

TYPED_TEST(ExecutorContract, ShutdownCancelFuturesCancelsQueuedCalls) {
  auto ex = this->make(1);
  auto busy = ex->submit(slow_identity, 1, 300);
  // Until the worker has taken it (bounded): a call not started would be cancelled too.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!busy.running() && !busy.done() && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  ASSERT_TRUE(busy.running() || busy.done());
  std::vector<Future<int>> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(ex->submit(square, i));
  ex->shutdown(true, true);
  EXPECT_EQ(busy.result(), 1);
  int cancelled = 0;
  for (auto& f : queued) {
    EXPECT_TRUE(f.done());
    cancelled += f.cancelled();
  }
  EXPECT_GT(cancelled, 0);  // the worker was busy for 300 ms: most never started
}

// ---- the Pool front over an executor that cannot run closures ---------------------------

class MessagePool : public gilfree::BasicPool<gilfree_test::MessageExecutor> {
 public:
  explicit MessagePool(int n)
      : BasicPool(std::make_unique<gilfree_test::MessageExecutor>(n), static_cast<std::size_t>(n),
                  "MessagePool") {}
};

TEST(PoolFront, RunsUnchangedOverAnExecutorThatShipsOnlyData) {
  MessagePool p(2);
  EXPECT_EQ(p.apply([](int a, int b) { return a * b; }, 6, 7), 42);
  std::vector<int> in(100);
  std::iota(in.begin(), in.end(), 0);
  auto out = p.map(square, in, 7);  // chunks of 7: ChunkCall<int(*)(int)> + vector<int>
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], i * i);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(p.starmap([](int a, int b) { return a + b; }, pairs), (std::vector<int>{3, 7}));
  int i = 0;
  for (int v : p.imap([](int x) { return x + 1; }, in, 10)) EXPECT_EQ(v, ++i);
  EXPECT_EQ(i, 100);
  // Callbacks are the parent's: they may capture anything, and run on its handler thread.
  std::string where;
  auto r = p.apply_async([](int x) { return x; }, std::tuple(5),
                         [&](const int&) { where = gilfree::current_thread().name(); });
  EXPECT_EQ(r.get(10s), 5);
  EXPECT_EQ(where, "MessagePool-result-handler");
  auto bad = p.map_async([](int x) -> int { throw gilfree::ValueError(std::to_string(x)); }, in, 50);
  EXPECT_THROW(bad.get(10s), gilfree::ValueError);
}

}  // namespace
