// mp::Lock vs a process-shared robust pthread_mutex_t (the floor issue 10 compares with),
// and mp::Value<int> increments under its lock: uncontended in one process, and contended
// by 2 processes (fork) each doing N acquire/increment/release. CPython's side is
// bench/cpython_mp_sync.py. Prints ns per acquire/release pair. Own main (no Google
// Benchmark loop: each measurement forks).
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <gilfree/multiprocessing/detail/shared_futex.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gilfree/multiprocessing/synchronize.hpp>

namespace mp = gilfree::mp;

namespace {

struct Robust {
  pthread_mutex_t m;
  long counter;
};

// Runs body(n) in `procs` processes at once; returns ns per iteration per process.
template <class F>
double timed(int procs, long n, F body) {
  auto t0 = std::chrono::steady_clock::now();
  if (procs == 1) {
    body(n);
  } else {
    pid_t kids[8];
    for (int i = 0; i < procs; ++i) {
      kids[i] = ::fork();
      if (kids[i] == 0) {
        body(n);
        ::_exit(0);
      }
    }
    for (int i = 0; i < procs; ++i) ::waitpid(kids[i], nullptr, 0);
  }
  auto dt = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return dt / (double(n) * procs);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  auto robust = mp::detail::make_shared_block<Robust>();
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust->m, &a);
  mp::Lock lock;
  auto counter = mp::detail::make_shared_block<long>(0);
  mp::Value<int> value(0);

  for (int procs : {1, 2}) {
    double r = timed(procs, n, [&](long k) {
      for (long i = 0; i < k; ++i) {
        pthread_mutex_lock(&robust->m);
        ++robust->counter;
        pthread_mutex_unlock(&robust->m);
      }
    });
    double l = timed(procs, n, [&](long k) {
      for (long i = 0; i < k; ++i) {
        std::lock_guard<mp::Lock> g(lock);
        ++*counter;
      }
    });
    double v = timed(procs, n / 4, [&](long k) {
      for (long i = 0; i < k; ++i) {
        std::lock_guard<mp::RLock> g(value.get_lock());
        value.get_obj() += 1;
      }
    });
    std::printf("%d process(es): robust pthread_mutex %.1f ns, mp::Lock %.1f ns (%.2fx the mutex), "
                "Value<int> += 1 under get_lock() %.1f ns\n",
                procs, r, l, l / r, v);
  }
  if (robust->counter != 3 * n || *counter != 3 * n || value.value() != 3 * (n / 4)) {
    std::printf("COUNT MISMATCH\n");
    return 1;
  }
}
