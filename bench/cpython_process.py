#!/usr/bin/env python3
"""CPython's multiprocessing figures, the reference rows beside bench_process (issue 9).

Measures, on whatever python3 is on PATH:
  - start + join of a Process running a no-op, per start method (fork, forkserver, spawn;
    the fork server is started before timing, as bench_process does)
  - a small value to a child and back: Connection.send / recv between two processes
  - send_bytes of 1 MiB messages one way (bytes/s)

Each figure is the best of REPEATS timed runs, with the median beside it.
Run: python3 bench/cpython_process.py
"""
import multiprocessing as mp
import statistics
import time

REPEATS = 3


def noop():
    pass


def timed(fn, repeats=REPEATS):
    runs = [fn() for _ in range(repeats)]
    return min(runs), statistics.median(runs)


def start_join(ctx, n):
    def run():
        t0 = time.perf_counter()
        for _ in range(n):
            p = ctx.Process(target=noop)
            p.start()
            p.join()
        return (time.perf_counter() - t0) / n
    return run


def echo(conn, other):
    other.close()  # the parent's end, inherited by fork: else EOF never comes
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def drain(conn, other):
    other.close()
    try:
        while True:
            conn.recv_bytes()
    except EOFError:
        pass


def round_trip(n=20000):
    a, b = mp.Pipe()
    p = mp.get_context("fork").Process(target=echo, args=(b, a))
    p.start()
    b.close()
    t0 = time.perf_counter()
    for i in range(n):
        a.send(i)
        a.recv()
    dt = (time.perf_counter() - t0) / n
    a.close()
    p.join()
    return dt


def send_bytes(n=2000):
    a, b = mp.Pipe()
    p = mp.get_context("fork").Process(target=drain, args=(b, a))
    p.start()
    b.close()
    msg = b"m" * (1 << 20)
    t0 = time.perf_counter()
    for _ in range(n):
        a.send_bytes(msg)
    a.close()
    p.join()
    return (time.perf_counter() - t0) / (n * (1 << 20))  # seconds per byte


if __name__ == "__main__":
    print(f"CPython {'.'.join(map(str, __import__('sys').version_info[:3]))}")
    for method, n in (("fork", 50), ("forkserver", 50), ("spawn", 10)):
        ctx = mp.get_context(method)
        warm = ctx.Process(target=noop)
        warm.start()
        warm.join()
        best, med = timed(start_join(ctx, n))
        print(f"StartJoin_Process/{method:<11} {best * 1e3:8.2f} ms (median {med * 1e3:.2f} ms)")
    best, med = timed(round_trip)
    print(f"RoundTrip_PipeSendRecv       {best * 1e6:8.2f} us (median {med * 1e6:.2f} us)")
    best, med = timed(send_bytes)
    print(f"SendBytes_1MiB               {1 / best / 1e9:8.2f} GB/s (median {1 / med / 1e9:.2f} GB/s)")
