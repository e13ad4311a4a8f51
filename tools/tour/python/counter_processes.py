"""Seed 000's shared counter on processes: a multiprocessing.Value incremented by several
processes, without and with its lock (the process twin of race.py).

    python3 counter_processes.py [processes] [increments per process]

`counter.value += 1` takes the Value's lock for the read and again for the write, so two
processes can read the same value: updates are lost. Under `with counter.get_lock():` the
read and the write are one step and the count is exact.
"""
import multiprocessing as mp

from _tour import arg, result, timed


def add_racy(counter, n):
    for _ in range(n):
        counter.value += 1


def add_locked(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


def run(work, processes, n):
    counter = mp.Value("l", 0)
    ps = [mp.Process(target=work, args=(counter, n)) for _ in range(processes)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    assert all(p.exitcode == 0 for p in ps)
    return counter.value


if __name__ == "__main__":
    mp.set_start_method("fork")  # as gilfree's side: the children inherit the Value
    procs = arg(1, 4)
    n = arg(2, 50000)
    total = procs * n
    racy, t = timed(run, add_racy, procs, n)
    print(f"without the lock: {racy} of {total} (lost {total - racy})")
    result("unlocked", racy)
    result("unlocked_seconds", t)
    locked, t = timed(run, add_locked, procs, n)
    print(f"with the lock: {locked} of {total}")
    result("locked", locked)
    result("locked_seconds", t)
