"""Interpreter exit while daemon threads block in (or wake from) threading / queue calls.

CPython ends such threads quietly; gilfree must too: a thread that asks for the GIL after
finalization began must never unwind through a noexcept frame (which aborts the process).
Each case runs in many fresh interpreters (several at a time), since the race it probes is
one of timing: GILFREE_EXIT_RUNS (default 8) runs per case and module.
"""
import os

from _support import ChildBase, CPYTHON_THREADING, instantiate

RUNS = int(os.environ.get("GILFREE_EXIT_RUNS", "8"))

# Each case: setup code (main thread), then the body each of N daemon workers runs after
# signalling `ready`, then what the main thread does last, just before exiting.
_CASES = {
    "event_wait_loop": ("e = T.Event()", "while True: e.wait(0.01)", ""),
    "event_wait": ("e = T.Event()", "e.wait()", ""),
    "event_set_at_exit": ("e = T.Event()", "while True:\n        e.wait(); e.clear()",
                          "e.set()"),
    "queue_get": ("q = Q.Queue()", "q.get()", ""),
    "queue_get_timeout": ("q = Q.Queue()",
                          "while True:\n        try: q.get(timeout=0.01)\n"
                          "        except Q.Empty: pass", ""),
    "queue_wake_getters": ("q = Q.Queue()", "while True: q.get()", "for _ in range(N): q.put(1)"),
    "queue_put_full": ("q = Q.Queue(1); q.put(0)", "q.put(1)", ""),
    "lifo_priority_simple": ("l = Q.LifoQueue(); p = Q.PriorityQueue(); s = Q.SimpleQueue()",
                             "while True:\n        for x in (l, p, s): x.put(i); x.get()", ""),
    "lock_acquire": ("l = T.Lock(); l.acquire()", "l.acquire()", ""),
    "lock_acquire_timeout": ("l = T.Lock(); l.acquire()", "while True: l.acquire(timeout=0.01)",
                             ""),
    "lock_wake": ("l = T.Lock(); l.acquire()", "while True: l.acquire()",
                  "l.release()"),
    "rlock_acquire": ("l = T.RLock(); l.acquire()", "l.acquire()", ""),
    "condition_wait": ("c = T.Condition()", "with c: c.wait()", ""),
    "condition_wait_timeout": ("c = T.Condition()",
                               "with c:\n        while True: c.wait(0.01)", ""),
    "condition_notify_at_exit": ("c = T.Condition()", "with c:\n        while True: c.wait()",
                                 "with c: c.notify_all()"),
    "semaphore_acquire": ("s = T.Semaphore(0)", "while True: s.acquire()",
                          "s.release(N)"),
    "barrier_wait": ("b = T.Barrier(N + 1)", "b.wait()", ""),
}

_TEMPLATE = """
N = 8
ready = threading.Semaphore(0)
{setup}
def worker(i):
    ready.release()
    {body}
for i in range(N):
    threading.Thread(target=worker, args=(i,), daemon=True).start()
for _ in range(N):
    ready.acquire()
{last}
"""


class ExitTests(ChildBase):
    names = ("Event", "Lock", "Condition")


def _make(case):
    setup, body, last = _CASES[case]

    def test(self):
        self.assertChildrenExitCleanly(_TEMPLATE.format(setup=setup, body=body, last=last),
                                       runs=RUNS, timeout=30)
    test.__name__ = "test_" + case
    return test


for _case in _CASES:
    setattr(ExitTests, "test_" + _case, _make(_case))

instantiate(globals(), ExitTests, CPYTHON_THREADING)
