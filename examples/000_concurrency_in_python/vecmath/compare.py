#!/usr/bin/env python3
"""Seed 000's comparison: the same float64 arrays through four routes.

  numpy      NumPy itself, single-threaded (its BLAS is pinned to one thread below)
  python     a pure-Python loop, on a smaller slice (scaled per element; the GIL makes
             threads useless for it)
  np-threads Python threads calling NumPy on slices (NumPy releases the GIL in its loops)
  vecmath    this extension: gilfree ThreadPoolExecutor, GIL released, libmvec SIMD

Kernels: dot, norm, a*x+y (into a preallocated out), sin(x)*cos(x)+sqrt(x) (into a
preallocated out; NumPy with preallocated temporaries). The memory bandwidth reference
is measured in the same run: vecmath.sum over the same array with every thread (a pure
read), and the dot product is reported against it.

  PYTHONPATH=<build>/python /usr/bin/python3 compare.py [--n 10000000] [--repeat 7]

Prints a Markdown table: median and best of --repeat runs after one warm-up; the
dot/bandwidth ratio compares best with best.
"""
import argparse
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # NumPy single-threaded, as the comparison says

import numpy as np  # noqa: E402

import vecmath  # noqa: E402


def timed(fn, repeat):
    fn()  # warm-up: page faults, pool start
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000, help="elements per array")
    ap.add_argument("--python-n", type=int, default=200_000, help="elements for the pure-Python loop")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for np-threads and vecmath")
    args = ap.parse_args()
    n, T, R = args.n, args.threads, args.repeat
    pn = min(args.python_n, n)

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 100.0, n)
    y = rng.uniform(-1.0, 1.0, n)
    out = np.empty_like(x)
    t1 = np.empty_like(x)
    t2 = np.empty_like(x)
    a = 2.5
    xl, yl = x[:pn].tolist(), y[:pn].tolist()
    pool = ThreadPoolExecutor(T)
    bounds = [(i * n // T, (i + 1) * n // T) for i in range(T)]

    def np_threads(fn):
        return list(pool.map(lambda b: fn(*b), bounds))

    def np_map(lo=0, hi=n):
        xs, o, s = x[lo:hi], out[lo:hi], t2[lo:hi]
        np.sin(xs, out=o)
        np.cos(xs, out=s)
        o *= s
        np.sqrt(xs, out=s)
        o += s

    def np_axpy(lo=0, hi=n):
        np.multiply(x[lo:hi], a, out=out[lo:hi])
        out[lo:hi] += y[lo:hi]

    rows = []  # (kernel, route, seconds for n elements)

    def add(kernel, route, secs):  # secs: (median, best)
        rows.append((kernel, route, secs))

    def scaled(t):  # the pure-Python loop ran on pn elements
        return (t[0] * n / pn, t[1] * n / pn)

    # dot
    add("dot", "numpy", timed(lambda: np.dot(x, y), R))
    add("dot", "python", scaled(timed(lambda: sum(p * q for p, q in zip(xl, yl)), max(1, R // 3))))
    add("dot", "np-threads", timed(lambda: sum(np_threads(lambda lo, hi: np.dot(x[lo:hi], y[lo:hi]))), R))
    # dot and the read reference get 3x the runs: their best times make the bandwidth ratio
    add("dot", "vecmath 1 thread", timed(lambda: vecmath.dot(x, y, threads=1), 3 * R))
    add("dot", f"vecmath {T} threads", timed(lambda: vecmath.dot(x, y, threads=T), 3 * R))
    # norm
    add("norm", "numpy", timed(lambda: np.linalg.norm(x), R))
    add("norm", "python", scaled(timed(lambda: math.sqrt(sum(p * p for p in xl)), max(1, R // 3))))
    add("norm", "np-threads", timed(
        lambda: math.sqrt(sum(np_threads(lambda lo, hi: np.dot(x[lo:hi], x[lo:hi])))), R))
    add("norm", "vecmath 1 thread", timed(lambda: vecmath.norm(x, threads=1), R))
    add("norm", f"vecmath {T} threads", timed(lambda: vecmath.norm(x, threads=T), R))
    # axpy
    add("a*x+y", "numpy", timed(np_axpy, R))
    add("a*x+y", "python", scaled(timed(lambda: [a * p + q for p, q in zip(xl, yl)], max(1, R // 3))))
    add("a*x+y", "np-threads", timed(lambda: np_threads(np_axpy), R))
    add("a*x+y", "vecmath 1 thread", timed(lambda: vecmath.axpy(a, x, y, out, threads=1), R))
    add("a*x+y", f"vecmath {T} threads", timed(lambda: vecmath.axpy(a, x, y, out, threads=T), R))
    # the compute-heavy map
    sin, cos, sqrt = math.sin, math.cos, math.sqrt
    add("sin*cos+sqrt", "numpy", timed(np_map, R))
    add("sin*cos+sqrt", "python",
        scaled(timed(lambda: [sin(p) * cos(p) + sqrt(p) for p in xl], max(1, R // 3))))
    add("sin*cos+sqrt", "np-threads", timed(lambda: np_threads(np_map), R))
    add("sin*cos+sqrt", "vecmath 1 thread", timed(lambda: vecmath.sincos_sqrt(x, out, threads=1), R))
    add("sin*cos+sqrt", f"vecmath {T} threads", timed(lambda: vecmath.sincos_sqrt(x, out, threads=T), R))
    # bandwidth reference: the fastest read of x (same array, same run)
    # (best of each: on a shared machine the fastest run is the one least disturbed)
    read_1 = timed(lambda: vecmath.sum(x, threads=1), 3 * R)[1]
    read_T = timed(lambda: vecmath.sum(x, threads=T), 3 * R)[1]
    bw = 8 * n / min(read_1, read_T)

    # check the routes agree before printing anything
    ref = np.sin(x) * np.cos(x) + np.sqrt(x)
    vecmath.sincos_sqrt(x, out)
    assert np.allclose(out, ref, rtol=1e-13, atol=1e-13)
    assert math.isclose(vecmath.dot(x, y), float(np.dot(x, y)), rel_tol=1e-9, abs_tol=1e-6)

    print(f"n = {n:,} float64; {T} threads; {os.cpu_count()} CPUs ({cpu_name()}); "
          f"Python {platform.python_version()}, NumPy {np.__version__}; pure Python on {pn:,} "
          f"elements, scaled")
    print(f"memory bandwidth reference (vecmath.sum, a pure read): {bw / 1e9:.1f} GB/s "
          f"(1 thread {8 * n / read_1 / 1e9:.1f}, {T} threads {8 * n / read_T / 1e9:.1f})")
    print()
    print("| kernel | route | median (ms) | best (ms) | vs NumPy (median) | note |")
    print("|---|---|---:|---:|---:|---|")
    base = {k: t[0] for k, r, t in rows if r == "numpy"}
    for k, r, (med, best) in rows:
        note = ""
        if k == "dot" and r.startswith("vecmath"):
            note = (f"best {16 * n / best / 1e9:.1f} GB/s = {16 * n / best / bw:.0%} of the best "
                    f"read bandwidth")
        print(f"| {k} | {r} | {med * 1e3:.2f} | {best * 1e3:.2f} | {base[k] / med:.2f}× | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
