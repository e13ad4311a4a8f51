#!/usr/bin/env python3
"""Producer/consumer across the GIL line: Python threads put work into a gilfree.Queue,
the vecmath extension's C++ workers take it without the GIL, compute, and put results into
another gilfree.Queue, which the main thread drains.

  PYTHONPATH=<build>/python python3 producer_consumer.py [--items 200] [--size 100000]

Each work item is (key, array of float64); each result is (key, norm, sum(sin*cos+sqrt)),
or (key, exception) for a bad item, which the demo sends on purpose.
"""
import argparse
import array
import math
import sys
import threading

import gilfree
import vecmath


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    tasks = gilfree.Queue(maxsize=16)  # bounded: producers wait for the C++ side
    results = gilfree.SimpleQueue()
    workers = vecmath.serve(tasks, results, args.workers)

    def produce(first):
        for k in range(first, args.items, args.producers):
            value = 1.0 + k % 7
            tasks.put((k, array.array("d", [value]) * args.size))

    producers = [threading.Thread(target=produce, args=(p,)) for p in range(args.producers)]
    for p in producers:
        p.start()
    tasks.put(("not an array", b"12345678"))  # a bad item comes back as an exception

    bad = 0
    ok = 0
    for _ in range(args.items + 1):
        key, *rest = results.get(timeout=60)
        if len(rest) == 1:
            bad += 1
            print(f"item {key!r} failed: {type(rest[0]).__name__}: {rest[0]}")
            continue
        norm, mapped = rest
        value = 1.0 + key % 7
        assert math.isclose(norm, value * math.sqrt(args.size), rel_tol=1e-12), key
        want = args.size * (math.sin(value) * math.cos(value) + math.sqrt(value))
        assert math.isclose(mapped, want, rel_tol=1e-9), key
        ok += 1
    for p in producers:
        p.join(60)
    for _ in workers:
        tasks.put(None)  # one stop per worker
    tasks.join()
    for w in workers:
        if not w.join(60):
            print("a C++ worker did not stop")
            return 1
    print(f"{ok} items computed by {args.workers} C++ workers, fed by {args.producers} "
          f"Python threads; {bad} bad item reported as an exception")
    return 0 if ok == args.items and bad == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
