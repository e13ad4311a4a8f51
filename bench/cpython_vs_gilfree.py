#!/usr/bin/env python3
"""gilfree's Python objects against CPython's own, side by side in one run (issue 3).

Measures, for each of CPython's object and gilfree's drop-in replacement:
  - Lock acquire()+release(), uncontended (bound methods, so only the calls are timed)
  - the call floor: lock.locked(), a call that does no work (what a call costs by itself)
  - Queue put/get: 1 and 2 producer/consumer thread pairs through one Queue(maxsize=1024)
  - SimpleQueue put/get: 1 producer/consumer pair
  - Event ping-pong: a round trip between two threads (two Events, set/wait/clear)

Each figure is the best of REPEATS runs, median beside it (the machine is shared). The
ratio column is CPython's time / gilfree's time: above 1, gilfree is faster.

Run (module built in a release build dir):
  PYTHONPATH=build/release/python python3 bench/cpython_vs_gilfree.py
Without PYTHONPATH it looks in build/release/python, then build/debug/python; if gilfree
is not built it says so and exits 0 (bench/run_all.sh runs every cpython_*.py).
"""
import os
import queue
import statistics
import sys
import threading
import time

REPEATS = 5
HERE = os.path.dirname(os.path.abspath(__file__))


def import_gilfree():
    try:
        import gilfree
        return gilfree
    except ImportError:
        pass
    for sub in ("release", "debug"):
        path = os.path.join(HERE, "..", "build", sub, "python")
        if os.path.isdir(path):
            sys.path.insert(0, path)
            try:
                import gilfree
                return gilfree
            except ImportError:
                sys.path.pop(0)
    return None


def timed(fn, *args):
    runs = [fn(*args) for _ in range(REPEATS)]
    return min(runs), statistics.median(runs)


def lock_acquire_release(Lock, n=500_000):
    lock = Lock()
    acquire, release = lock.acquire, lock.release
    t0 = time.perf_counter()
    for _ in range(n):
        acquire()
        release()
    return (time.perf_counter() - t0) / n


def call_floor(Lock, n=500_000):
    locked = Lock().locked
    t0 = time.perf_counter()
    for _ in range(n):
        locked()
    return (time.perf_counter() - t0) / n


def queue_pairs(Queue, pairs, n=100_000, maxsize=1024):
    """Seconds per item: `pairs` producers put n items each, `pairs` consumers get them."""
    q = Queue(maxsize) if maxsize is not None else Queue()
    per = n // pairs
    start = threading.Barrier(2 * pairs + 1)

    def produce():
        put = q.put
        start.wait()
        for i in range(per):
            put(i)

    def consume():
        get = q.get
        start.wait()
        for _ in range(per):
            get()

    threads = [threading.Thread(target=produce) for _ in range(pairs)]
    threads += [threading.Thread(target=consume) for _ in range(pairs)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) / (per * pairs)


def simple_queue_pair(SimpleQueue, n=100_000):
    return queue_pairs(lambda _max: SimpleQueue(), 1, n)


def event_ping_pong(Event, n=20_000):
    """Seconds per round trip: main sets ping, the peer waits, clears, sets pong."""
    ping, pong = Event(), Event()

    def peer():
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    t = threading.Thread(target=peer)
    t.start()
    t0 = time.perf_counter()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    elapsed = time.perf_counter() - t0
    t.join()
    return elapsed / n


def main():
    gilfree = import_gilfree()
    if gilfree is None:
        print("cpython_vs_gilfree: skipped, the gilfree module is not built "
              "(set PYTHONPATH=<build>/python)")
        return 0
    print("python %s, gilfree from %s, %d CPUs, switch interval %.3f s"
          % (sys.version.split()[0], gilfree.__file__, os.cpu_count(), sys.getswitchinterval()))
    cases = [
        ("Lock acquire+release (uncontended)", lock_acquire_release,
         threading.Lock, gilfree.Lock),
        ("call floor: lock.locked()", call_floor, threading.Lock, gilfree.Lock),
        ("Queue put/get, 1 pair", lambda Q: queue_pairs(Q, 1), queue.Queue, gilfree.Queue),
        ("Queue put/get, 2 pairs", lambda Q: queue_pairs(Q, 2), queue.Queue, gilfree.Queue),
        ("SimpleQueue put/get, 1 pair", simple_queue_pair, queue.SimpleQueue,
         gilfree.SimpleQueue),
        ("Event ping-pong round trip", event_ping_pong, threading.Event, gilfree.Event),
    ]
    print()
    print("%-36s %22s %22s %8s" % ("ns per op (best / median of %d)" % REPEATS,
                                   "CPython", "gilfree", "ratio"))
    for name, fn, ours, theirs in cases:
        c_best, c_med = timed(fn, ours)
        g_best, g_med = timed(fn, theirs)
        print("%-36s %11.0f / %8.0f %11.0f / %8.0f %8.2f"
              % (name, c_best * 1e9, c_med * 1e9, g_best * 1e9, g_med * 1e9, c_best / g_best))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
