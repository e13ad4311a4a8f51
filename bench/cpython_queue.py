#!/usr/bin/env python3
"""CPython's queue.Queue(1024), measured the way bench/bench_queue.cpp measures gilfree.

Moves N ints (default 2,000,000) through queue.Queue(1024) with 1 producer/1 consumer and
2 producers/2 consumers (blocking put/get), checks a checksum, and prints items/s.

    python3 bench/cpython_queue.py [--items N] [--repeat R]
"""
import argparse
import queue
import sys
import threading
import time


def transfer(producers: int, consumers: int, items: int) -> float:
    """Returns items/s for one run; raises if an item is lost or duplicated."""
    q = queue.Queue(1024)
    sums = [0] * consumers

    def consume(index: int, count: int) -> None:
        get = q.get
        total = 0
        for _ in range(count):
            total += get()
        sums[index] = total

    def produce(first: int) -> None:
        put = q.put
        for value in range(first, items + 1, producers):
            put(value)

    threads = [
        threading.Thread(target=consume, args=(c, items // consumers + (c < items % consumers)))
        for c in range(consumers)
    ]
    threads += [threading.Thread(target=produce, args=(1 + p,)) for p in range(producers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if sum(sums) != items * (items + 1) // 2:
        raise SystemExit("checksum mismatch: items lost or duplicated")
    return items / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]} queue.Queue(1024), {args.items:,} items")
    for shape in ((1, 1), (2, 2)):
        for _ in range(args.repeat):
            rate = transfer(*shape, args.items)
            print(f"cpython/P:{shape[0]}/C:{shape[1]}  {rate / 1e6:.3f} M items/s")


if __name__ == "__main__":
    main()
