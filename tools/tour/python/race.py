"""The JobQueue race from seed 000: two producers enqueue 100000 jobs each, without and with a Lock.

    python3 race.py [jobs per producer]

len(j.q) counts what list.append (atomic under the GIL) really stored; j.nq is the `+= 1`
bookkeeping. Without the lock the two can disagree: that difference is the lost updates.
"""
import threading

from _tour import arg, result, timed


class JobQueue:
    def __init__(self):
        self.nq = 0
        self.q = []

    def enqueue(self, job):
        self.nq += 1
        self.q.append(job)

    def dequeue(self):
        if self.q:
            self.nq -= 1
            return self.q.pop(-1)


class LockedJobQueue:
    def __init__(self):
        self.nq = 0
        self.q = []
        self.lock = threading.Lock()

    def enqueue(self, job):
        with self.lock:
            self.nq += 1
            self.q.append(job)

    def dequeue(self):
        with self.lock:
            if self.q:
                self.nq -= 1
                return self.q.pop(-1)


class PrintJob:
    def __init__(self, s):
        self.s = s

    def work(self):
        return self.s


def run(j, n):
    def producer():
        jobs = [PrintJob(str(i)) for i in range(10)]
        for i in range(n):
            j.enqueue(jobs[i % 10])

    t1 = threading.Thread(target=producer)
    t1.start()
    t2 = threading.Thread(target=producer)
    t2.start()
    t1.join()
    t2.join()
    return len(j.q), j.nq


if __name__ == "__main__":
    n = arg(1, 100000)
    (length, nq), t = timed(run, JobQueue(), n)
    print(f"without a lock: len(j.q) = {length}, j.nq = {nq}")
    result("n", n)
    result("unlocked_len", length)
    result("unlocked_nq", nq)
    result("unlocked_seconds", t)
    (length, nq), t = timed(run, LockedJobQueue(), n)
    print(f"with a lock:    len(j.q) = {length}, j.nq = {nq}")
    result("locked_len", length)
    result("locked_nq", nq)
    result("locked_seconds", t)
