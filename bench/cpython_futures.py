#!/usr/bin/env python3
"""CPython's side of bench_futures: the same workloads with concurrent.futures and
multiprocessing.pool.ThreadPool, printed as rates to compare with bench_futures.

    python3 bench/cpython_futures.py            # default sizes (about a minute)
    python3 bench/cpython_futures.py --quick    # a tenth of the sizes

Counts are smaller than the C++ side's 1,000,000 where CPython would take minutes; the
rates (tasks per second) are what the comparison uses.
"""
import argparse
import concurrent.futures as cf
import inspect
import sys
import time
from multiprocessing.pool import ThreadPool


def timed(label, n, fn, reps=2):
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(f"{label:<48} {n:>9} items  {best * 1e3:9.1f} ms  {n / best / 1e3:10.1f} k/s")
    return n / best


def empty():
    return None


def double(x):
    return x * 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    print(f"CPython {sys.version.split()[0]}")

    n = 200_000 // scale
    with cf.ThreadPoolExecutor(max_workers=2) as ex:
        def empty_tasks():
            fs = [ex.submit(empty) for _ in range(n)]
            for f in fs:
                f.result()
        timed("ThreadPoolExecutor(2) empty tasks submit+wait", n, empty_tasks)

    with cf.ThreadPoolExecutor(max_workers=1) as ex:
        ex.submit(empty).result()
        rt = 20_000 // scale
        def round_trips():
            for _ in range(rt):
                ex.submit(empty).result()
        rate = timed("submit+result round trip (1 worker)", rt, round_trips)
        print(f"{'  = per round trip':<48} {1e6 / rate:9.1f} us")

    m = 1_000_000 // scale
    data = list(range(m))
    has_buffersize = "buffersize" in inspect.signature(cf.Executor.map).parameters
    mm = 200_000 // scale
    with cf.ThreadPoolExecutor(max_workers=2) as ex:
        if has_buffersize:
            timed("Executor.map ints buffersize=1000", mm,
                  lambda: sum(ex.map(double, data[:mm], buffersize=1000)), reps=1)
        else:
            timed("Executor.map ints (no buffersize before 3.14)", mm,
                  lambda: sum(ex.map(double, data[:mm])), reps=1)

    with ThreadPool(2) as pool:
        k = 200_000 // scale
        timed("ThreadPool(2).imap chunksize=1", k,
              lambda: sum(pool.imap(double, data[:k], chunksize=1)), reps=1)
        timed("ThreadPool(2).imap chunksize=1000", m,
              lambda: sum(pool.imap(double, data, chunksize=1000)), reps=1)


if __name__ == "__main__":
    main()
