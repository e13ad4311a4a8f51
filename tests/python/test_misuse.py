"""Objects whose __init__ never ran: every method raises a Python exception or works.

`Cls.__new__(Cls)` (as copy.copy and pickle do) and a subclass whose __init__ skips the
base's leave an object without its state. CPython's C types then raise or work; its
Python classes raise AttributeError. Nothing may crash, hang, or read uninitialised memory.
Each case runs in a child interpreter, so a crash or a hang fails the test instead of the run.
"""
from _support import ChildBase, CPYTHON_THREADING, instantiate

_SCRIPT = """
import gc, sys

CLASSES = {
    "Lock": T.Lock, "RLock": T.RLock, "Condition": T.Condition, "Semaphore": T.Semaphore,
    "BoundedSemaphore": T.BoundedSemaphore, "Event": T.Event, "Barrier": T.Barrier,
    "Timer": T.Timer, "Queue": Q.Queue, "LifoQueue": Q.LifoQueue,
    "PriorityQueue": Q.PriorityQueue, "SimpleQueue": Q.SimpleQueue, "scheduler": S.scheduler,
}
# Calls that cannot block on a working object either (CPython's Lock.__new__ works).
CALLS = [
    ("acquire", (False,)), ("acquire", (True, 0.01)), ("release", ()), ("locked", ()),
    ("_is_owned", ()), ("__enter__", ()), ("__exit__", (None, None, None)),
    ("wait", (0.01,)), ("wait_for", (lambda: False, 0.01)), ("notify", ()),
    ("notify_all", ()), ("is_set", ()), ("set", ()), ("clear", ()), ("reset", ()),
    ("abort", ()), ("put", (1, False)), ("get", (False,)), ("put_nowait", (1,)),
    ("get_nowait", ()), ("qsize", ()), ("empty", ()), ("full", ()), ("task_done", ()),
    ("cancel", ()), ("is_alive", ()), ("join", (0.01,)), ("enter", (10, 1, print)),
    ("enterabs", (10, 1, print)), ("run", (False,)),
]
ATTRS = ["parties", "n_waiting", "broken", "maxsize", "queue", "name", "daemon", "ident",
         "interval", "function", "args", "kwargs", "unfinished_tasks"]


def exercise(label, obj):
    print(label, file=sys.stderr, flush=True)  # the last label names a crash
    for fn in (repr, str):
        try:
            fn(obj)
        except Exception:
            pass
    for name in ATTRS:
        try:
            getattr(obj, name)
        except Exception:
            pass
    for name, args in CALLS:
        if name in ("wait", "join") and isinstance(obj, (Q.Queue, Q.SimpleQueue)):
            continue  # Queue.join() takes no timeout
        method = getattr(type(obj), name, None)
        if method is None:
            continue
        try:
            method(obj, *args)
        except Exception:
            pass


for cname, cls in CLASSES.items():
    if not isinstance(cls, type):  # CPython's Lock and RLock are factory functions
        cls = type(cls())
    try:
        bare = cls.__new__(cls)
    except Exception:
        pass  # refusing to make one is fine too (CPython 3.11's _thread.lock)
    else:
        exercise(cname + ".__new__", bare)
        del bare
    try:
        class Sub(cls):
            def __init__(self, *args, **kwargs):
                pass  # never calls the base's __init__
        sub = Sub()
    except Exception:
        pass  # refusing the subclass or the object is fine too
    else:
        exercise(cname + " subclass", sub)
        del Sub, sub
    gc.collect()
print("done", file=sys.stderr, flush=True)
"""


class UninitialisedTests(ChildBase):
    names = ("Lock",)

    def test_every_method_raises_or_works(self):
        [(rc, err)] = self.run_children_script()
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(err.split()[-1], "done", err[-3000:])

    def run_children_script(self):
        from _support import run_children
        return run_children(_SCRIPT, self.child_module, runs=1, timeout=60)


instantiate(globals(), UninitialisedTests, CPYTHON_THREADING)
