"""CPython's multiprocessing.Lock acquire/release and Value increments under get_lock(),
in 1 and 2 processes (fork), ns per operation: the peer of bench/bench_mp_sync.cpp."""
import multiprocessing as mp
import sys
import time


def lock_loop(lock, counter, n):
    for _ in range(n):
        with lock:
            counter.value += 1


def value_loop(value, n):
    for _ in range(n):
        with value.get_lock():
            value.value += 1


def timed(procs, target, args):
    t0 = time.perf_counter()
    ps = [mp.Process(target=target, args=args) for _ in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return time.perf_counter() - t0


if __name__ == "__main__":
    mp.set_start_method("fork")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for procs in (1, 2):
        lock = mp.Lock()
        raw = mp.RawValue("l", 0)
        t = timed(procs, lock_loop, (lock, raw, n))
        v = mp.Value("i", 0)
        tv = timed(procs, value_loop, (v, n))
        print(f"{procs} process(es): CPython multiprocessing.Lock {t / (n * procs) * 1e9:.1f} ns, "
              f"Value('i') += 1 under get_lock() {tv / (n * procs) * 1e9:.1f} ns")
