"""Thread-count scaling for gilfree-tour --scaling: the integration of x**2 (seed 002) and
bad_fib (seed 000), on k threads and on a multiprocessing.Pool(k), for each k given.

    python3 scaling.py integrate N K1,K2,...
    python3 scaling.py bad_fib n JOBS K1,K2,...

Prints RESULT sequential, threads_K and processes_K (seconds) for each K.
"""
import multiprocessing
import sys
import threading

from _tour import result, timed
from bad_fib import bad_fib
from integrate import chunks, f, integrate, integrate_chunk, threading_integrate


def fib_threads(n, jobs, k):
    """jobs calls of bad_fib(n) shared among k threads (each takes every k-th job)."""
    def worker(i):
        for _ in range(i, jobs, k):
            bad_fib(n)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    what = sys.argv[1]
    counts = [int(x) for x in sys.argv[-1].split(",")]
    if what == "integrate":
        N = int(sys.argv[2])
        _, seq = timed(integrate, f, 0.0, 10.0, N)
        result("sequential", seq)
        for k in counts:
            _, t = timed(threading_integrate, f, 0.0, 10.0, N, k)
            result(f"threads_{k}", t)
            with multiprocessing.Pool(k) as pool:
                _, t = timed(pool.map, integrate_chunk, chunks(0.0, 10.0, N, k))
            result(f"processes_{k}", t)
    else:
        n, jobs = int(sys.argv[2]), int(sys.argv[3])
        _, seq = timed(lambda: [bad_fib(n) for _ in range(jobs)])
        result("sequential", seq)
        for k in counts:
            _, t = timed(fib_threads, n, jobs, k)
            result(f"threads_{k}", t)
            with multiprocessing.Pool(k) as pool:
                _, t = timed(pool.map, bad_fib, [n] * jobs)
            result(f"processes_{k}", t)
