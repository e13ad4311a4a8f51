// bench_mp_objects — issue 10's process-shared objects side by side with their peers, in
// one run, repetitions interleaved (bench_side.hpp), best and median per operation:
//
//   Queue   mp::Queue<int>, parent → child, N items (1M), vs Boost.Interprocess
//           message_queue (sizeof(int) messages, the same 65536-item capacity) and CPython's
//           multiprocessing.Queue. Timed from after the child started until it is joined.
//   Lock    acquire/release of one lock in 1 process, then by 2 processes at once, vs a
//           process-shared robust pthread_mutex_t (the floor; target ≤ 1.2×) and CPython's
//           multiprocessing.Lock. The C++ loops bump a shared counter under the lock (checked
//           afterwards); CPython's body is `pass`.
//   Value   Value<int> += 1 under get_lock(), 2 processes, written as Python's
//           `with v.get_lock(): v.value += 1` (value() and set_value() re-enter the RLock),
//           vs CPython.
//
// Every C++ child is a fork of this process (the objects are inherited; that is also how
// CPython's fork children get theirs). Own main: each measurement forks.
//
// Run: build/release/bench/bench_mp_objects [--rounds=3] [--items=1000000]
//        [--py-items=1000000] [--lock-ops=2000000] [--py-lock-ops=200000] [--queue-only=0]
//   --queue-only=1 runs the Queue case alone (for before/after comparisons of queues.hpp).
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstdio>
#include <mutex>
#include <string>

#include <gilfree/multiprocessing/detail/shared_futex.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/queues.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>

#include "bench_side.hpp"

namespace mp = gilfree::mp;
namespace bip = boost::interprocess;
using bench_side::now;

namespace {

constexpr unsigned kCapacity = 1u << 16;  // mp::Queue's default ring; Boost's the same

// Forks `procs` children running body(); returns the wall time until all are reaped, or -1
// if one failed (exit status != 0).
template <class F>
double forked(int procs, F body) {
  const double t0 = now();
  pid_t kids[8];
  for (int i = 0; i < procs; ++i) {
    kids[i] = ::fork();
    if (kids[i] == 0) ::_exit(body() ? 0 : 1);
  }
  bool ok = true;
  for (int i = 0; i < procs; ++i) {
    int status = 0;
    ::waitpid(kids[i], &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const double t = now() - t0;
  return ok ? t : -1;
}

// ---- Queue ------------------------------------------------------------------------------

double gilfree_queue(long n) {
  mp::Queue<int> q;
  mp::Process child(mp::ProcessOptions{.start_method = "fork"}, [q, n]() mutable {
    long sum = 0;
    for (long i = 0; i < n; ++i) sum += q.get();
    if (sum != n * (n - 1) / 2) throw std::runtime_error("wrong items");
  });
  child.start();
  const double t0 = now();
  for (long i = 0; i < n; ++i) q.put(static_cast<int>(i));
  child.join();
  const double t = now() - t0;
  return child.exitcode() == 0 ? t : -1;
}

double boost_queue(long n) {
  const std::string name = "gilfree_bench_mq_" + std::to_string(::getpid());
  bip::message_queue::remove(name.c_str());
  bip::message_queue mq(bip::create_only, name.c_str(), kCapacity, sizeof(int));
  const pid_t pid = ::fork();
  if (pid == 0) {
    bip::message_queue in(bip::open_only, name.c_str());
    long sum = 0;
    for (long i = 0; i < n; ++i) {
      int v;
      bip::message_queue::size_type got;
      unsigned prio;
      in.receive(&v, sizeof v, got, prio);
      sum += v;
    }
    ::_exit(sum == n * (n - 1) / 2 ? 0 : 1);
  }
  const double t0 = now();
  for (long i = 0; i < n; ++i) {
    const int v = static_cast<int>(i);
    mq.send(&v, sizeof v, 0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double t = now() - t0;
  bip::message_queue::remove(name.c_str());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

// ---- Lock and Value ---------------------------------------------------------------------

struct Robust {
  pthread_mutex_t m;
  long counter;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = static_cast<int>(bench_side::flag(argc, argv, "rounds", 3));
  const long items = bench_side::flag(argc, argv, "items", 1'000'000);
  const long py_items = bench_side::flag(argc, argv, "py-items", items);
  const long lock_ops = bench_side::flag(argc, argv, "lock-ops", 2'000'000);
  const long py_lock_ops = bench_side::flag(argc, argv, "py-lock-ops", 200'000);
  const bool queue_only = bench_side::flag(argc, argv, "queue-only", 0) != 0;
  bench_side::banner("bench_mp_objects");
  std::printf("%d rounds, variants interleaved in each; ratios from the best runs\n", rounds);

  // Queue<int>, parent -> child.
  const std::string qn = std::to_string(items), pqn = std::to_string(py_items);
  auto queue = bench_side::interleave(
      rounds, {{"gilfree mp::Queue<int>, " + qn + " items", double(items),
                [&] { return gilfree_queue(items); }},
               {"Boost.Interprocess message_queue, " + qn, double(items),
                [&] { return boost_queue(items); }},
               bench_side::cpython_variant("CPython multiprocessing.Queue, " + pqn,
                                           double(py_items), "queue " + pqn)});
  bench_side::report("Queue: parent puts N ints, a child gets them (per item)", queue);
  if (queue_only) {
    for (const auto& s : queue)
      if (s.failed) return 1;
    return 0;
  }

  // Lock, 1 and 2 processes.
  auto robust = mp::detail::make_shared_block<Robust>();
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust->m, &a);
  mp::Lock lock;
  auto counter = mp::detail::make_shared_block<long>(0);
  mp::Value<int> value(0);
  bool counts_ok = true;
  for (int procs : {1, 2}) {
    const double ops = double(lock_ops) * procs;
    auto series = bench_side::interleave(
        rounds,
        {{"gilfree mp::Lock", ops,
          [&] {
            *counter = 0;
            double t = forked(procs, [&] {
              for (long i = 0; i < lock_ops; ++i) {
                std::lock_guard<mp::Lock> g(lock);
                ++*counter;
              }
              return true;
            });
            counts_ok = counts_ok && *counter == lock_ops * procs;
            return t;
          }},
         {"robust process-shared pthread_mutex_t", ops,
          [&] {
            robust->counter = 0;
            double t = forked(procs, [&] {
              for (long i = 0; i < lock_ops; ++i) {
                pthread_mutex_lock(&robust->m);
                ++robust->counter;
                pthread_mutex_unlock(&robust->m);
              }
              return true;
            });
            counts_ok = counts_ok && robust->counter == lock_ops * procs;
            return t;
          }},
         bench_side::cpython_variant(
             "CPython multiprocessing.Lock (" + std::to_string(py_lock_ops) + "/process)",
             double(py_lock_ops) * procs,
             "lock " + std::to_string(procs) + " " + std::to_string(py_lock_ops))});
    bench_side::report("Lock: acquire + release, " + std::to_string(procs) +
                           (procs == 1 ? " process" : " processes at once") +
                           " (per acquire/release; the mutex's column is mp::Lock / mutex)",
                       series);
  }

  // Value<int> += 1 under its lock, 2 processes.
  const long value_ops = lock_ops / 2;
  auto vs = bench_side::interleave(
      rounds,
      {{"gilfree Value<int> += 1 under get_lock()", 2.0 * value_ops,
        [&] {
          value.set_value(0);
          double t = forked(2, [&] {
            for (long i = 0; i < value_ops; ++i) {
              std::lock_guard<mp::RLock> g(value.get_lock());  // with v.get_lock():
              value.set_value(value.value() + 1);               //     v.value += 1
            }
            return true;
          });
          counts_ok = counts_ok && value.value() == 2 * value_ops;
          return t;
        }},
       bench_side::cpython_variant("CPython Value('i') += 1 under get_lock()",
                                   2.0 * py_lock_ops, "value 2 " + std::to_string(py_lock_ops))});
  bench_side::report("Value: += 1 under its lock, 2 processes at once (per increment)", vs);

  if (!counts_ok) {
    std::printf("COUNT MISMATCH: a locked counter lost updates\n");
    return 1;
  }
  for (const auto* group : {&queue, &vs})
    for (const auto& s : *group)
      if (s.failed) return 1;
  return 0;
}
