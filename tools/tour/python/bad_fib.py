"""bad_fib from seed 000: the same job several times, sequentially, on threads, on a process pool.

    python3 bad_fib.py [n] [jobs] [workers]

The seed starts bad_fib(35) on 5 threads, then maps it over multiprocessing.Pool(1) and Pool(3).
"""
import multiprocessing
import threading

from _tour import arg, result, timed


def bad_fib(n):
    def recurse(n):
        if n == 0 or n == 1:
            return n
        else:
            return recurse(n - 1) + recurse(n - 2)
    return recurse(n)


def sequential(n, jobs):
    return [bad_fib(n) for _ in range(jobs)]


def threaded(n, jobs):
    out = []
    threads = [threading.Thread(target=lambda: out.append(bad_fib(n))) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


if __name__ == "__main__":
    n, jobs, workers = arg(1, 30), arg(2, 4), arg(3, 2)
    r, seq = timed(sequential, n, jobs)
    print(f"func:'bad_fib' x{jobs} sequential took: {seq:.4f} sec -> {r[0]}")
    r, thr = timed(threaded, n, jobs)
    print(f"func:'bad_fib' x{jobs} on {jobs} threads took: {thr:.4f} sec")
    with multiprocessing.Pool(workers) as p:
        r, prc = timed(p.map, bad_fib, [n] * jobs)
    print(f"func:'bad_fib' x{jobs} on Pool({workers}) took: {prc:.4f} sec")
    result("n", n)
    result("jobs", jobs)
    result("fib", r[0])
    result("sequential", seq)
    result("threads", thr)
    result("processes", prc)
