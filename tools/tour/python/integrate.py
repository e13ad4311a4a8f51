"""Integrate x**2 on [0, 10], from seed 002: sequential, threads through a Queue, a process Pool.

    python3 integrate.py [N] [thread counts, comma separated] [pool size]

The chunks are the seed's: thread i integrates [dx*i, dx*(i+1)] with N // thread_count steps.
Chunk results are summed in chunk order so that every split gives the same bits as gilfree's.
"""
import multiprocessing
import queue
import threading

from _tour import arg, result, timed


def f(x):
    return x**2


def integrate(f, a, b, N):
    s = 0
    dx = (b - a) / N
    for i in range(N):
        s += f(a + i * dx)
    return s * dx


def chunks(a, b, N, count):
    N_chunk = int(float(N) / count)
    dx = float(b - a) / count
    return [(f, dx * i, dx * i + dx, N_chunk) for i in range(count)]  # the seed's x0, x1


def threading_integrate(f, a, b, N, thread_count=2):
    """break work into N chunks"""
    results = queue.Queue()

    def worker(i, *args):
        results.put((i, integrate(*args)))

    for i, c in enumerate(chunks(a, b, N, thread_count)):
        thread = threading.Thread(target=worker, args=(i,) + c)
        thread.start()
    parts = sorted(results.get() for i in range(thread_count))
    return sum(p for _, p in parts)


def integrate_chunk(c):
    return integrate(*c)


def pool_integrate(pool, a, b, N, count):
    return sum(pool.map(integrate_chunk, chunks(a, b, N, count)))


if __name__ == "__main__":
    a, b = 0.0, 10.0
    N = arg(1, 10**7)
    counts = [int(x) for x in arg(2, "1,2", str).split(",")]
    procs = arg(3, 2)
    x, seq = timed(integrate, f, a, b, N)
    print(f"Numerical solution with N={N} : {x:f}  (sequential, {seq:.3f}s)")
    result("N", N)
    result("value", repr(x))
    result("sequential", seq)
    for tc in counts:
        x, t = timed(threading_integrate, f, a, b, N, tc)
        print(f"Numerical solution with N={N} : {x:f}  ({tc} threads, {t:.3f}s)")
        result(f"threads_{tc}", t)
        result(f"threads_{tc}_value", repr(x))
    with multiprocessing.Pool(procs) as pool:
        x, t = timed(pool_integrate, pool, a, b, N, procs)
    print(f"Numerical solution with N={N} : {x:f}  (Pool({procs}), {t:.3f}s)")
    result(f"processes_{procs}", t)
    result(f"processes_{procs}_value", repr(x))
