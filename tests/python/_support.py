"""Shared helpers for the gilfree unittest suites.

Every test is written once, as a mixin that reads the names under test from ``self.m``, and
is instantiated twice: against CPython's own objects (``threading``, ``queue``, ``sched``) and
against ``gilfree``. The CPython run proves the test itself is right, so a test that passes
against CPython and fails against gilfree is a gilfree bug.

Environment:
  GILFREE_TEST_REQUIRE=1   ``import gilfree`` must succeed (set by ctest); otherwise the
                           gilfree half of every suite is skipped when the module is absent.
"""
import builtins
import os
import queue
import re
import sched
import threading
import types
import unittest

REQUIRE = os.environ.get("GILFREE_TEST_REQUIRE") == "1"

try:
    import gilfree  # noqa: F401
    GILFREE_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the build
    if REQUIRE:
        raise
    gilfree = None
    GILFREE_IMPORT_ERROR = e

# Short waits keep the suite fast; long ones only bound how long a broken test can hang.
SHORT = 0.05
LONG = 10.0

CPYTHON_THREADING = types.SimpleNamespace(
    __name__="threading",
    Lock=threading.Lock, RLock=threading.RLock, Condition=threading.Condition,
    Semaphore=threading.Semaphore, BoundedSemaphore=threading.BoundedSemaphore,
    Event=threading.Event, Barrier=threading.Barrier,
    BrokenBarrierError=threading.BrokenBarrierError, Timer=threading.Timer,
    TIMEOUT_MAX=threading.TIMEOUT_MAX)

CPYTHON_QUEUE = types.SimpleNamespace(
    __name__="queue",
    Queue=queue.Queue, LifoQueue=queue.LifoQueue, PriorityQueue=queue.PriorityQueue,
    SimpleQueue=queue.SimpleQueue, Empty=queue.Empty, Full=queue.Full,
    TIMEOUT_MAX=threading.TIMEOUT_MAX)
if hasattr(queue, "ShutDown"):  # Python 3.13+
    CPYTHON_QUEUE.ShutDown = queue.ShutDown

CPYTHON_SCHED = types.SimpleNamespace(__name__="sched", scheduler=sched.scheduler,
                                      Event=sched.Event)


class Base:
    """Mixin base: ``m`` is the namespace under test, ``ref`` CPython's namespace."""

    m = None
    ref = None
    names = ()  # the names a test class needs; missing ones skip (see require())

    @property
    def is_gilfree(self):
        return self.m is gilfree

    def setUp(self):
        if self.m is None:
            self.skipTest("gilfree not importable: %s" % GILFREE_IMPORT_ERROR)
        missing = [n for n in self.names if not hasattr(self.m, n)]
        if missing:
            self.skipTest("%s does not export %s" % (self.m.__name__, ", ".join(missing)))

    def thread(self, target, *args, **kwargs):
        """Start a Python daemon thread running target; joined (bounded) at cleanup."""
        t = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        t.start()
        self.addCleanup(t.join, LONG)
        return t

    def assertLikeCPython(self, call, compare_message=True):
        """call(ns) must raise in the module under test what it raises against CPython.

        The expected exception is found by running call against CPython's namespace; the
        module under test must raise the class of the same name (its own, e.g. gilfree.Full,
        or the builtin one) with the same message.
        """
        try:
            call(self.ref)
        except BaseException as e:  # noqa: B902 - we want whatever CPython raises
            expected = e
        else:
            self.fail("the test is wrong: CPython raised nothing")
        name = type(expected).__name__
        cls = getattr(self.m, name, None) or getattr(builtins, name)
        with self.assertRaises(cls) as cm:
            call(self.m)
        if compare_message:
            self.assertEqual(str(cm.exception), str(expected))
        return cm.exception

    def assertReprAddress(self, obj, pattern):
        """repr(obj) matches pattern, where {name} is module.qualname and {addr} id(obj)."""
        cls = type(obj)
        name = "%s.%s" % (cls.__module__, cls.__qualname__)
        if self.is_gilfree:
            self.assertTrue(name.startswith("gilfree."), name)
        regex = pattern.format(name=re.escape(name), addr=re.escape("%#x" % id(obj)))
        self.assertRegex(repr(obj), "^" + regex + "$")


def instantiate(namespace, mixin, cpython_ns):
    """Define <Mixin>_CPython and <Mixin>_gilfree TestCase classes in namespace."""
    base = mixin.__name__
    where = namespace["__name__"]
    namespace[base + "_CPython"] = type(base + "_CPython", (mixin, unittest.TestCase),
                                        {"m": cpython_ns, "ref": cpython_ns,
                                         "__module__": where})
    namespace[base + "_gilfree"] = type(base + "_gilfree", (mixin, unittest.TestCase),
                                        {"m": gilfree, "ref": cpython_ns, "__module__": where})


# ---- child interpreters: crashes and hangs ---------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

# The prelude of every child program: T, Q and S name the threading, queue and sched objects
# under test (CPython's modules, or gilfree for all three), chosen by argv[1].
CHILD_PRELUDE = """
import sys, threading
if sys.argv[1] == "gilfree":
    import gilfree as T, gilfree as Q, gilfree as S
else:
    import threading as T, queue as Q, sched as S
"""


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_children(code, module, runs=1, timeout=LONG, parallel=6, args=()):
    """Runs CHILD_PRELUDE + code in `runs` fresh interpreters, `parallel` at a time.

    Returns one (returncode, stderr) per run; a run that outlives `timeout` seconds is killed
    and reported as returncode "hang". `module` is "gilfree" or "cpython".
    """
    env = child_env()

    def one(_):
        try:
            r = subprocess.run([sys.executable, "-c", CHILD_PRELUDE + code, module, *args],
                               capture_output=True, text=True, timeout=timeout, env=env)
            return r.returncode, r.stderr
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
            return "hang", err or ""

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(runs)))


class ChildBase(Base):
    """Base for tests that run their case in child interpreters."""

    @property
    def child_module(self):
        return "gilfree" if self.is_gilfree else "cpython"

    def assertChildrenExitCleanly(self, code, runs=1, timeout=LONG, args=()):
        """Every run exits 0 within timeout with nothing on stderr."""
        results = run_children(code, self.child_module, runs, timeout, args=args)
        bad = [(rc, err) for rc, err in results if rc != 0 or err.strip()]
        if bad:
            self.fail("%d of %d runs failed; first: rc=%s stderr=%s"
                      % (len(bad), runs, bad[0][0], bad[0][1][-2000:]))
