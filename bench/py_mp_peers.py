#!/usr/bin/env python3
"""CPython's side of bench_mp_objects (issue 10) and bench_mp_pools (issue 11): one timed
run of one case per call, so that the C++ program can interleave CPython's repetitions with
its own and print the ratios of one run.

    python3 bench/py_mp_peers.py CASE ARGS...   ->   RESULT seconds S

Cases (fork start method, as gilfree's side; the machine's python3, CPython 3.11 here):
  queue N            multiprocessing.Queue: the parent puts N ints, a child gets them; timed
                     from after the child started until it has been joined
  lock PROCS N       PROCS processes each do N `with lock:` (multiprocessing.Lock) at once
  value PROCS N      PROCS processes each do N `with v.get_lock(): v.value += 1` on a
                     Value('i') at once
  ppe_submit W N     ProcessPoolExecutor(W): submit N tiny tasks, wait for all (started pool)
  ppe_map W N        ProcessPoolExecutor(W).map(square, range(N), chunksize=1) (started pool)
  ppe_startup W K    K times: create ProcessPoolExecutor(W) and get the first result of a
                     tiny task (the total; one untimed start-up first loads the modules)
  pool_map W N C     multiprocessing.Pool(W).map(square, range(N), chunksize=C; 0 = default)
                     (started pool)
Run by hand: python3 bench/py_mp_peers.py queue 1000000
"""
import concurrent.futures as cf
import multiprocessing as mp
import sys
import time


def _queue_child(q, n):
    get = q.get
    for _ in range(n):
        get()


def queue_case(n):
    q = mp.Queue()
    p = mp.Process(target=_queue_child, args=(q, n))
    p.start()
    t0 = time.perf_counter()
    put = q.put
    for i in range(n):
        put(i)
    p.join()
    return time.perf_counter() - t0


def _lock_child(lock, n):
    for _ in range(n):
        with lock:
            pass


def _value_child(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def procs_case(target, obj, procs, n):
    t0 = time.perf_counter()
    ps = [mp.Process(target=target, args=(obj, n)) for _ in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return time.perf_counter() - t0


def value_case(procs, n):
    v = mp.Value("i", 0)
    t = procs_case(_value_child, v, procs, n)
    assert v.value == procs * n, v.value
    return t


def square(x):
    return x * x


def nothing():
    return None


def warm(ex, workers):
    # Start every worker before timing (CPython starts them lazily, on demand).
    list(ex.map(square, range(4 * workers)))


def ppe_submit(workers, n):
    with cf.ProcessPoolExecutor(workers) as ex:
        warm(ex, workers)
        t0 = time.perf_counter()
        fs = [ex.submit(square, i) for i in range(n)]
        cf.wait(fs)
        t = time.perf_counter() - t0
        assert fs[-1].result() == (n - 1) ** 2
    return t


def ppe_map(workers, n):
    with cf.ProcessPoolExecutor(workers) as ex:
        warm(ex, workers)
        t0 = time.perf_counter()
        total = sum(ex.map(square, range(n), chunksize=1))
        t = time.perf_counter() - t0
    assert total == sum(i * i for i in range(n))
    return t


def ppe_startup(workers, count):
    total = 0
    for i in range(count + 1):
        t0 = time.perf_counter()
        ex = cf.ProcessPoolExecutor(workers)
        ex.submit(nothing).result()
        t = time.perf_counter() - t0
        ex.shutdown()
        if i:  # the first loaded concurrent.futures.process (imported lazily): not timed
            total += t
    return total


def pool_map(workers, n, chunksize):
    with mp.Pool(workers) as pool:
        pool.map(square, range(4 * workers), chunksize=1)  # every worker up
        t0 = time.perf_counter()
        r = pool.map(square, range(n), chunksize=chunksize or None)
        t = time.perf_counter() - t0
    assert r[-1] == (n - 1) ** 2 and len(r) == n
    return t


if __name__ == "__main__":
    mp.set_start_method("fork")
    case, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    if case == "queue":
        t = queue_case(*args)
    elif case == "lock":
        t = procs_case(_lock_child, mp.Lock(), *args)
    elif case == "value":
        t = value_case(*args)
    elif case == "ppe_submit":
        t = ppe_submit(*args)
    elif case == "ppe_map":
        t = ppe_map(*args)
    elif case == "ppe_startup":
        t = ppe_startup(*args)
    elif case == "pool_map":
        t = pool_map(*args)
    else:
        sys.exit(f"unknown case {case}")
    print(f"RESULT seconds {t:.9f}", flush=True)
