// bench_process — gilfree's multiprocessing beside the raw system calls, in one run
// (issue 9, part 4). CPython's figures come from bench/cpython_process.py (same make bench).
//
//   StartJoin   start + join of a Process running a no-op, per start method, with a raw
//               fork()+_exit+waitpid and a raw posix_spawn of this binary as the floors.
//               The `faults` counter is page faults per start, this process's and its
//               reaped children's (not a fork server's workers): on a VM each costs ~13 us,
//               and unlike time it does not move with the machine's load.
//   RoundTrip   a small value to a child and back: Connection::send/recv<int> vs a raw
//               one-byte ping-pong over a socketpair.
//   SendBytes   1 MiB messages one way with send_bytes/recv_bytes (bytes/s).
//
// Run: build/release/bench/bench_process [--benchmark_repetitions=3 ...]
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <string>

namespace mp = gilfree::mp;
extern char** environ;

namespace {

void noop() {}

// Minor page faults so far, this process's and its reaped children's.
long faults_so_far() {
  rusage self{}, kids{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &kids);
  return self.ru_minflt + kids.ru_minflt;
}

void count_faults(benchmark::State& state, long before) {
  state.counters["faults"] = benchmark::Counter(static_cast<double>(faults_so_far() - before),
                                                benchmark::Counter::kAvgIterations);
}

void BM_StartJoin_RawFork(benchmark::State& state) {
  const long before = faults_so_far();
  for (auto _ : state) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
  }
  count_faults(state, before);
}
BENCHMARK(BM_StartJoin_RawFork)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_StartJoin_RawPosixSpawnSelf(benchmark::State& state) {
  char arg0[] = "bench_process", arg1[] = "--exit-now";
  char* argv[] = {arg0, arg1, nullptr};
  for (auto _ : state) {
    pid_t pid;
    if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0)
      state.SkipWithError("posix_spawn failed");
    ::waitpid(pid, nullptr, 0);
  }
}
BENCHMARK(BM_StartJoin_RawPosixSpawnSelf)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_StartJoin_Process(benchmark::State& state, const char* method) {
  {  // the fork server starts once, as CPython's does; not part of the steady state
    mp::Process p({.start_method = method}, noop);
    p.start();
    p.join();
  }
  const long before = faults_so_far();
  for (auto _ : state) {
    mp::Process p({.start_method = method}, noop);
    p.start();
    p.join();
    if (p.exitcode() != 0) state.SkipWithError("child failed");
  }
  count_faults(state, before);
}
BENCHMARK_CAPTURE(BM_StartJoin_Process, fork, "fork")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_StartJoin_Process, forkserver, "forkserver")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_StartJoin_Process, spawn, "spawn")->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_RoundTrip_RawSocketpair(benchmark::State& state) {
  int sv[2];
  ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    char c;
    while (::read(sv[1], &c, 1) == 1) ::write(sv[1], &c, 1);
    ::_exit(0);
  }
  ::close(sv[1]);
  char c = 'x';
  for (auto _ : state) {
    ::write(sv[0], &c, 1);
    ::read(sv[0], &c, 1);
  }
  ::close(sv[0]);
  ::waitpid(pid, nullptr, 0);
}
BENCHMARK(BM_RoundTrip_RawSocketpair)->UseRealTime();

void echo_ints(mp::Connection& c) {
  try {
    for (;;) c.send(c.recv<int>());
  } catch (const mp::EOFError&) {
  }
}

void BM_RoundTrip_PipeSendRecv(benchmark::State& state) {
  auto [a, b] = mp::Pipe();
  auto child = mp::get_context("fork").Process({}, [&] {
    a.close();
    echo_ints(b);
  });
  child.start();
  b.close();
  int i = 0;
  for (auto _ : state) {
    a.send(i);
    benchmark::DoNotOptimize(i = a.recv<int>() + 1);
  }
  a.close();
  child.join();
}
BENCHMARK(BM_RoundTrip_PipeSendRecv)->UseRealTime();

void BM_SendBytes_1MiB(benchmark::State& state) {
  auto [a, b] = mp::Pipe();
  auto child = mp::get_context("fork").Process({}, [&] {
    a.close();
    try {
      for (;;) benchmark::DoNotOptimize(b.recv_bytes().size());
    } catch (const mp::EOFError&) {
    }
  });
  child.start();
  b.close();
  std::string msg(1 << 20, 'm');
  for (auto _ : state) a.send_bytes(msg);
  a.close();
  child.join();  // every byte was read
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_SendBytes_1MiB)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--exit-now") == 0) return 0;  // the posix_spawn floor
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
