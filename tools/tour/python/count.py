"""Beazley's count(n), from seed 001 ("Unraveled Threads"): sequential, 2 threads, 2 processes.

    python3 count.py [n]

Sequential : count(n); count(n)
Threaded   : two threading.Thread(target=count, args=(n,)) started together
Processes  : the same with multiprocessing.Process (no GIL to share)
"""
import multiprocessing
import threading

from _tour import arg, result, timed


def count(n):
    while n > 0:
        n -= 1


def sequential(n):
    count(n)
    count(n)


def threaded(n, make=threading.Thread):
    t1 = make(target=count, args=(n,))
    t1.start()
    t2 = make(target=count, args=(n,))
    t2.start()
    t1.join()
    t2.join()


if __name__ == "__main__":
    n = arg(1, 10_000_000)
    _, seq = timed(sequential, n)
    print(f"Sequential : {seq:.3f}s")
    _, thr = timed(threaded, n)
    print(f"Threaded   : {thr:.3f}s ({thr / seq:.1f}X the sequential time)")
    _, prc = timed(threaded, n, multiprocessing.Process)
    print(f"Processes  : {prc:.3f}s")
    result("n", n)
    result("sequential", seq)
    result("threads", thr)
    result("processes", prc)
