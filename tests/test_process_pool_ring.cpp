// ProcessPoolExecutor's reply rings (src/process_pool.cpp): replies travel through shared
// memory, batched, yet a worker's death still blames exactly the call it died in. A
// worker that SIGKILLs itself in the middle of a deep batch: only that call fails, every
// other call's result is there and right, and no call ran twice (each run is counted in a
// file). Replies that take the socket (too large for the ring, or the ring full) keep
// their place in the call order. Every wait is bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <ranges>
#include <thread>
#include <string>
#include <tuple>
#include <vector>

#include "gilfree/futures.hpp"
#include "gilfree/futures/process.hpp"
#include "gilfree/multiprocessing/pool.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Future;
using gilfree::ProcessPoolExecutor;
using gilfree::WorkerDeathPolicy;
namespace mp = gilfree::mp;

constexpr int kItems = 1000;
// While the queue is deep the manager sends calls 64 at a time, [64m, 64m + 64) to one
// worker: the victim and the 20 calls before it run in one worker, one after another.
constexpr int kVictim = 64 * 9 + 37;

// Records that call i ran (one line "i pid", appended atomically), then dies if i is the
// victim.
int run_once(int i, int victim, std::string path) {
  const std::string line = std::to_string(i) + " " + std::to_string(::getpid()) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return -1;
  const bool wrote = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (i == victim) ::raise(SIGKILL);
  return wrote ? 3 * i + 1 : -1;
}

// A file of run records, removed with the test.
class RunLog {
 public:
  RunLog() {
    char name[] = "/tmp/gilfree-ring-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    path_ = name;
  }
  ~RunLog() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  // How many times each call ran.
  std::map<int, int> counts() const {
    std::map<int, int> n;
    std::ifstream in(path_);
    for (int i, pid; in >> i >> pid;) ++n[i];
    return n;
  }
  // The pid that ran call `i` (0 if none did).
  pid_t pid_of(int i) const {
    std::ifstream in(path_);
    for (int j, pid; in >> j >> pid;)
      if (j == i) return pid;
    return 0;
  }

 private:
  std::string path_;
};

// The result of call i, whose reply goes through the 64 KiB ring (kRingBytes in
// src/process_pool.cpp), except for a multiple of 3: 40 000 bytes, more than a quarter of
// the ring, so through the socket. Sized so that a few of them fill the ring while the
// manager is busy: replies then overflow to the socket too.
std::string blob(int i) {
  const std::size_t size = i % 3 == 0 ? 40000 : 9000 + static_cast<std::size_t>(i);
  std::string s(size, static_cast<char>('a' + i % 26));
  const std::string tag = std::to_string(i) + ":";
  s.replace(0, tag.size(), tag);
  return s;
}

// Waits (bounded, 10 s) until call `victim` has run and its process has died (a zombie:
// this process has not reaped it yet).
void until_victim_dead(const RunLog& log, int victim) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  pid_t pid = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (pid == 0) pid = log.pid_of(victim);
    if (pid != 0) {
      std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
      std::string all;
      std::getline(st, all);
      const auto close = all.rfind(')');
      if (!st || close == std::string::npos || all.size() < close + 3) return;  // gone
      const char state = all[close + 2];
      if (state == 'Z' || state == 'X') return;
    }
    std::this_thread::sleep_for(1ms);
  }
}

class Ring : public ::testing::TestWithParam<std::string> {};

TEST_P(Ring, RespawnBlamesExactlyTheCallAWorkerDiedIn) {
  RunLog log;
  ProcessPoolExecutor ex({.max_workers = 2,
                          .mp_context = mp::get_context(GetParam()),
                          .on_worker_death = WorkerDeathPolicy::respawn});
  std::vector<Future<int>> fs;
  fs.reserve(kItems);
  for (int i = 0; i < kItems; ++i) fs.push_back(ex.submit(run_once, i, kVictim, log.path()));
  // Hold the manager (callbacks run on its thread) from a call 20 before the victim's
  // until the victim's worker is dead: the calls between finish while nobody reads their
  // replies, so the manager learns of the death with those still unread.
  fs[kVictim - 20].add_done_callback([&log](Future<int>) { until_victim_dead(log, kVictim); });
  for (int i = 0; i < kItems; ++i) {
    if (i == kVictim) {
      try {
        (void)fs[i].result(30s);
        ADD_FAILURE() << "the victim's call returned";
      } catch (const gilfree::WorkerLostError& e) {
        EXPECT_EQ(e.exitcode(), -SIGKILL) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "the victim's call raised another error: " << e.what();
      }
      continue;
    }
    try {
      ASSERT_EQ(fs[i].result(30s), 3 * i + 1) << "call " << i;
    } catch (const std::exception& e) {
      FAIL() << "call " << i << " (not the victim) failed: " << e.what();
    }
  }
  ex.shutdown(true);
  const auto runs = log.counts();
  EXPECT_EQ(runs.size(), static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i) {
    auto it = runs.find(i);
    ASSERT_NE(it, runs.end()) << "call " << i << " never ran";
    EXPECT_EQ(it->second, 1) << "call " << i << " ran " << it->second << " times";
  }
}

TEST_P(Ring, PoolMapWithChunksizeOneFailsOnlyTheVictim) {
  RunLog log;
  mp::Pool pool({.processes = 2, .context = mp::get_context(GetParam())});
  std::vector<std::tuple<int, int, std::string>> args;
  for (int i = 0; i < kItems; ++i) args.emplace_back(i, kVictim, log.path());
  // Each item its own task, as map(chunksize=1) makes them; each result on its own.
  std::vector<mp::AsyncResult<int>> rs;
  for (auto& a : args) rs.push_back(pool.apply_async(run_once, a));
  for (int i = 0; i < kItems; ++i) {
    if (i == kVictim) {
      EXPECT_THROW((void)rs[i].get(30s), gilfree::WorkerLostError);
      continue;
    }
    ASSERT_EQ(rs[i].get(30s), 3 * i + 1) << "call " << i;
  }
  // starmap with chunksize 1 raises the victim's error (a second victim, the same item).
  EXPECT_THROW((void)pool.starmap(run_once, args, 1), gilfree::WorkerLostError);
  pool.close();
  pool.join();
  const auto runs = log.counts();
  for (int i = 0; i < kItems; ++i) {
    auto it = runs.find(i);
    ASSERT_NE(it, runs.end()) << "call " << i << " never ran";
    // Once by apply_async; starmap's run is at most once more (after its failure the
    // rest may or may not have run), and never twice.
    EXPECT_GE(it->second, 1) << "call " << i;
    EXPECT_LE(it->second, 2) << "call " << i << " ran " << it->second << " times";
  }
  EXPECT_EQ(runs.at(kVictim), 2);
}

TEST_P(Ring, RepliesKeepTheirOrderAcrossRingAndSocket) {
  ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mp::get_context(GetParam())});
  constexpr int n = 300;
  std::vector<Future<std::string>> fs;
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit(blob, i));
  for (int i = 0; i < n; ++i) {
    const std::string got = fs[i].result(30s);
    ASSERT_EQ(got.size(), blob(i).size()) << "call " << i;
    ASSERT_TRUE(got == blob(i)) << "call " << i << " got another call's reply: "
                                << got.substr(0, 8);
  }
  // And through map, chunk by chunk.
  int i = 0;
  for (const std::string& s : ex.map(blob, std::views::iota(0, n), {.chunksize = 1})) {
    ASSERT_TRUE(s == blob(i)) << "map item " << i;
    ++i;
  }
  EXPECT_EQ(i, n);
}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// A reply published just before a long call in the same batch reaches its future while the
// long call runs (the manager looks for replies not yet announced), not at its end.
TEST_P(Ring, AResultBeforeALongCallIsNotHeldBack) {
  ProcessPoolExecutor ex({.max_workers = 1,
                          .mp_context = mp::get_context(GetParam()),
                          .on_worker_death = WorkerDeathPolicy::respawn});
  auto busy = ex.submit(sleep_ms, 400);
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!busy.running() && !busy.done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(busy.running());
  // Queued behind a single running call, these three go to the worker as one batch.
  auto quick = ex.submit(sleep_ms, 1);
  auto slow = ex.submit(sleep_ms, 8000);
  auto after = ex.submit(sleep_ms, 2);
  EXPECT_EQ(busy.result(20s), 400);
  EXPECT_EQ(quick.result(4s), 1) << "held back until the long call behind it ended";
  EXPECT_FALSE(slow.done());
  EXPECT_FALSE(after.done());
  ex.kill_workers();
}

INSTANTIATE_TEST_SUITE_P(StartMethods, Ring, ::testing::Values("fork", "forkserver", "spawn"),
                         [](const auto& info) { return info.param; });

}  // namespace
