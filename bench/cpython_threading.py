#!/usr/bin/env python3
"""CPython's threading figures, the reference row beside bench_threading (issue 2, part 6).

Measures, on whatever python3 is on PATH:
  - threading.Lock acquire()+release(), uncontended, and the same through `with lock:`
  - 2 threads incrementing one counter under a Lock (items/s; the GIL serialises them)
  - threading.Event ping-pong round trip between two threads (two Events, set/wait/clear),
    the same shape as BM_PingPong_RoundTrip in bench_threading.cpp

Each figure is the best of REPEATS timed runs (the machine is shared and noisy); the
median is printed beside it. Run: python3 bench/cpython_threading.py
"""
import statistics
import sys
import threading
import time

REPEATS = 5


def timed(fn, repeats=REPEATS):
    """Runs fn() `repeats` times; returns (best, median) of its returned per-op seconds."""
    runs = [fn() for _ in range(repeats)]
    return min(runs), statistics.median(runs)


def lock_acquire_release(n=1_000_000):
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release
    t0 = time.perf_counter()
    for _ in range(n):
        acquire()
        release()
    return (time.perf_counter() - t0) / n


def lock_with(n=1_000_000):
    lock = threading.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    return (time.perf_counter() - t0) / n


def lock_contended2(n=200_000):
    """Seconds per increment, 2 threads x n increments of one counter under one Lock."""
    lock = threading.Lock()
    counter = [0]
    go = threading.Event()

    def work():
        go.wait()
        for _ in range(n):
            with lock:
                counter[0] += 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert counter[0] == 2 * n, "lost increments"
    return elapsed / (2 * n)


def event_ping_pong(n=20_000):
    """Seconds per round trip: this thread sets ping and waits for pong; the partner
    waits for ping, clears it and sets pong."""
    ping, pong = threading.Event(), threading.Event()
    stop = [False]

    def partner():
        while True:
            ping.wait()
            ping.clear()
            if stop[0]:
                return
            pong.set()

    t = threading.Thread(target=partner)
    t.start()
    t0 = time.perf_counter()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    elapsed = time.perf_counter() - t0
    stop[0] = True
    ping.set()
    t.join()
    return elapsed / n


def main():
    print(f"CPython {sys.version.split()[0]} threading (best and median of {REPEATS} runs)")
    rows = [
        ("Lock acquire()+release(), uncontended", lock_acquire_release, 1e9, "ns"),
        ("Lock `with lock: pass`, uncontended", lock_with, 1e9, "ns"),
        ("Event ping-pong round trip (2 threads)", event_ping_pong, 1e6, "us"),
    ]
    for name, fn, scale, unit in rows:
        best, median = timed(fn)
        print(f"  {name:<44} best {best * scale:9.1f} {unit}   median {median * scale:9.1f} {unit}")
    best, median = timed(lock_contended2)
    print(f"  {'Lock contended, 2 threads x 1 counter':<44} best {1e-6 / best:9.2f} M ops/s"
          f"   median {1e-6 / median:9.2f} M ops/s")


if __name__ == "__main__":
    main()
