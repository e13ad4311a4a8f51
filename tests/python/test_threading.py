"""threading's synchronisation objects: every test runs on CPython's and on gilfree's."""
import gc
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import weakref

from _support import (Base, CPYTHON_THREADING, LONG, SHORT, gilfree, instantiate)

TIMEOUT_MAX = threading.TIMEOUT_MAX


class LockTests(Base):
    names = ("Lock",)

    def test_acquire_release_locked(self):
        lock = self.m.Lock()
        self.assertFalse(lock.locked())
        self.assertIs(lock.acquire(), True)
        self.assertTrue(lock.locked())
        self.assertIs(lock.acquire(False), False)
        self.assertIs(lock.acquire(blocking=False), False)
        lock.release()
        self.assertFalse(lock.locked())

    def test_timed_acquire_fails_after_timeout(self):
        lock = self.m.Lock()
        lock.acquire()
        t0 = time.monotonic()
        self.assertIs(lock.acquire(timeout=SHORT), False)
        self.assertGreaterEqual(time.monotonic() - t0, SHORT * 0.9)
        self.assertIs(lock.acquire(True, 0), False)
        lock.release()
        self.assertIs(lock.acquire(timeout=SHORT), True)
        lock.release()

    def test_release_by_another_thread_wakes_waiter(self):
        lock = self.m.Lock()
        lock.acquire()
        got = threading.Event()

        def waiter():
            if lock.acquire(timeout=LONG):
                got.set()

        t = self.thread(waiter)
        self.assertFalse(got.wait(SHORT))
        lock.release()
        self.assertTrue(got.wait(LONG))
        t.join(LONG)
        self.assertTrue(lock.locked())
        lock.release()  # a Lock has no owner: any thread may release it

    def test_release_unlocked(self):
        self.assertLikeCPython(lambda m: m.Lock().release())

    def test_timeout_errors(self):
        self.assertLikeCPython(lambda m: m.Lock().acquire(False, 1))
        self.assertLikeCPython(lambda m: m.Lock().acquire(blocking=False, timeout=0))
        self.assertLikeCPython(lambda m: m.Lock().acquire(True, -2))
        self.assertLikeCPython(lambda m: m.Lock().acquire(timeout=-0.5))
        self.assertLikeCPython(lambda m: m.Lock().acquire(timeout=float("nan")),
                               compare_message=False)
        self.assertLikeCPython(lambda m: m.Lock().acquire(timeout=TIMEOUT_MAX * 2),
                               compare_message=False)
        self.assertLikeCPython(lambda m: m.Lock().acquire(timeout=None), compare_message=False)

    def test_timeout_max_is_accepted(self):
        lock = self.m.Lock()
        self.assertTrue(lock.acquire(timeout=TIMEOUT_MAX))
        lock.release()

    def test_context_manager(self):
        lock = self.m.Lock()
        with lock as entered:
            self.assertTrue(lock.locked())
            self.assertIs(entered, True)
        self.assertFalse(lock.locked())
        with self.assertRaises(ZeroDivisionError):
            with lock:
                1 / 0
        self.assertFalse(lock.locked())

    def test_repr(self):
        lock = self.m.Lock()
        self.assertReprAddress(lock, r"<unlocked {name} object at {addr}>")
        lock.acquire()
        self.assertReprAddress(lock, r"<locked {name} object at {addr}>")
        lock.release()

    def test_weakref(self):
        lock = self.m.Lock()
        r = weakref.ref(lock)
        self.assertIs(r(), lock)
        del lock
        gc.collect()
        self.assertIsNone(r())

    def test_mutual_exclusion_stress(self):
        lock = self.m.Lock()
        state = {"n": 0, "inside": 0, "bad": 0}

        def work():
            for _ in range(2000):
                with lock:
                    state["inside"] += 1
                    if state["inside"] != 1:
                        state["bad"] += 1
                    state["n"] += 1
                    state["inside"] -= 1

        ts = [self.thread(work) for _ in range(4)]
        for t in ts:
            t.join(LONG)
        self.assertEqual(state, {"n": 8000, "inside": 0, "bad": 0})


class RLockTests(Base):
    names = ("RLock",)

    def test_recursion(self):
        lock = self.m.RLock()
        self.assertTrue(lock.acquire())
        self.assertTrue(lock.acquire(False))
        self.assertTrue(lock.acquire(timeout=0))
        lock.release()
        lock.release()
        result = []
        t = self.thread(lambda: result.append(lock.acquire(False)))
        t.join(LONG)
        self.assertEqual(result, [False])
        lock.release()
        t = self.thread(lambda: result.append(lock.acquire(False)) or lock.release())
        t.join(LONG)
        self.assertEqual(result, [False, True])

    def test_release_unowned(self):
        self.assertLikeCPython(lambda m: m.RLock().release())

        def other_thread_release(m):
            lock = m.RLock()
            lock.acquire()
            err = []

            def rel():
                try:
                    lock.release()
                except BaseException as e:  # noqa: B902
                    err.append(e)
            t = threading.Thread(target=rel)
            t.start()
            t.join()
            lock.release()
            raise err[0]
        self.assertLikeCPython(other_thread_release)

    def test_timeout_errors(self):
        self.assertLikeCPython(lambda m: m.RLock().acquire(False, 1))
        self.assertLikeCPython(lambda m: m.RLock().acquire(True, -2))
        self.assertLikeCPython(lambda m: m.RLock().acquire(timeout=TIMEOUT_MAX * 2),
                               compare_message=False)

    def test_timed_acquire_from_other_thread(self):
        lock = self.m.RLock()
        lock.acquire()
        result = []
        t = self.thread(lambda: result.append(lock.acquire(timeout=SHORT)))
        t.join(LONG)
        self.assertEqual(result, [False])
        lock.release()

    def test_context_manager(self):
        lock = self.m.RLock()
        with lock:
            with lock:
                self.assertIn("count=2", repr(lock))
        self.assertIn("count=0", repr(lock))

    def test_repr(self):
        lock = self.m.RLock()
        self.assertReprAddress(lock, r"<unlocked {name} object owner=0 count=0 at {addr}>")
        lock.acquire()
        lock.acquire()
        self.assertReprAddress(
            lock, r"<locked {name} object owner=%d count=2 at {addr}>" % threading.get_ident())
        lock.release()
        lock.release()

    def test_repr_from_other_thread(self):
        self._check_repr_from_other_thread()

    def _check_repr_from_other_thread(self):
        lock = self.m.RLock()
        lock.acquire()
        lock.acquire()
        seen = []
        t = self.thread(lambda: seen.append(repr(lock)))
        t.join(LONG)
        lock.release()
        lock.release()
        self.assertRegex(seen[0], r"^<locked \S+ object owner=%d count=2 at 0x[0-9a-f]+>$"
                         % threading.get_ident())

    def test_weakref(self):
        lock = self.m.RLock()
        self.assertIs(weakref.ref(lock)(), lock)


class ConditionTests(Base):
    names = ("Condition", "Lock", "RLock")

    def test_wait_notify(self):
        cond = self.m.Condition()
        ready = []
        woke = []

        def waiter():
            with cond:
                ready.append(1)
                cond.notify()  # tell the main thread we are about to wait
                woke.append(cond.wait(LONG))

        with cond:
            t = self.thread(waiter)
            self.assertTrue(cond.wait_for(lambda: ready, LONG))
        with cond:  # the waiter is now inside wait(): it released the lock to get here
            cond.notify()
        t.join(LONG)
        self.assertEqual(woke, [True])

    def test_wait_timeout(self):
        cond = self.m.Condition()
        with cond:
            t0 = time.monotonic()
            self.assertIs(cond.wait(SHORT), False)
            self.assertGreaterEqual(time.monotonic() - t0, SHORT * 0.9)
            self.assertIs(cond.wait(0), False)
            self.assertIs(cond.wait(-1), False)  # CPython: a negative timeout polls
            self.assertIs(cond.wait(timeout=0), False)

    def test_wait_overflow(self):
        def overflow(m):
            cond = m.Condition()
            with cond:
                cond.wait(TIMEOUT_MAX * 2)
        self.assertLikeCPython(overflow, compare_message=False)

    def test_wait_for(self):
        cond = self.m.Condition(self.m.Lock())
        with cond:
            self.assertIs(cond.wait_for(lambda: True), True)
            self.assertEqual(cond.wait_for(lambda: 42), 42)  # the predicate's value
            self.assertEqual(cond.wait_for(lambda: 0, SHORT), 0)
            self.assertEqual(cond.wait_for(predicate=lambda: [], timeout=0), [])
        state = []

        def setter():
            with cond:
                state.append(1)
                cond.notify_all()
        with cond:
            self.thread(setter)
            self.assertTrue(cond.wait_for(lambda: state, LONG))

    def test_wait_for_predicate_exception_keeps_lock(self):
        cond = self.m.Condition(self.m.Lock())
        with cond:
            with self.assertRaises(ZeroDivisionError):
                cond.wait_for(lambda: 1 / 0)
            self.assertFalse(cond.acquire(False))  # still held by us
        self.assertTrue(cond.acquire(False))
        cond.release()

    def test_notify_n_and_all(self):
        cond = self.m.Condition()
        waiting = [0]
        woke = []

        def waiter(i):
            with cond:
                waiting[0] += 1
                if cond.wait(LONG):
                    woke.append(i)

        def settle(pred):
            # Polls under the lock: once a waiter counted itself it is inside wait().
            deadline = time.monotonic() + LONG
            while time.monotonic() < deadline:
                with cond:
                    if pred():
                        return True
                time.sleep(0.001)
            return False

        ts = [self.thread(waiter, i) for i in range(4)]
        self.assertTrue(settle(lambda: waiting[0] == 4))
        with cond:
            cond.notify(2)
        self.assertTrue(settle(lambda: len(woke) == 2))
        time.sleep(SHORT)  # a third wake-up would show now
        with cond:
            self.assertEqual(len(woke), 2)
            cond.notify(n=1)
        self.assertTrue(settle(lambda: len(woke) == 3))
        with cond:
            self.assertEqual(len(woke), 3)
            cond.notify_all()
        for t in ts:
            t.join(LONG)
        self.assertEqual(sorted(woke), [0, 1, 2, 3])

    def test_notify_without_waiters_is_noop(self):
        cond = self.m.Condition()
        with cond:
            cond.notify()
            cond.notify(5)
            cond.notify_all()

    def test_unowned_errors(self):
        self.assertLikeCPython(lambda m: m.Condition().wait())
        self.assertLikeCPython(lambda m: m.Condition().wait(0))
        self.assertLikeCPython(lambda m: m.Condition().notify())
        self.assertLikeCPython(lambda m: m.Condition().notify_all())
        self.assertLikeCPython(lambda m: m.Condition(m.Lock()).wait_for(lambda: False, 0))

    def test_rlock_recursion_restored_by_wait(self):
        lock = self.m.RLock()
        cond = self.m.Condition(lock)
        with cond:
            with cond:
                self.assertIs(cond.wait(0.01), False)
                self.assertIn("count=2", repr(lock))
        self.assertIn("count=0", repr(lock))

    def test_condition_is_a_lock(self):
        lock = self.m.Lock()
        cond = self.m.Condition(lock)
        self.assertTrue(cond.acquire())
        self.assertTrue(lock.locked())
        self.assertFalse(cond.acquire(blocking=False))
        cond.release()
        self.assertFalse(lock.locked())
        with cond:
            self.assertTrue(lock.locked())
        self.assertFalse(lock.locked())

    def test_foreign_locks(self):
        # Any lock object works, as with threading.Condition (CPython's own locks here).
        for lock in (threading.Lock(), threading.RLock()):
            cond = self.m.Condition(lock)
            state = []

            def setter():
                with cond:
                    state.append(1)
                    cond.notify()
            with cond:
                self.thread(setter)
                self.assertTrue(cond.wait_for(lambda: state, LONG))
                self.assertIs(cond.wait(0.01), False)
                cond.notify_all()
            self.assertRegex(repr(cond), r"^<Condition\(<unlocked _thread\.\S*[lL]ock object")
            self.assertLikeCPython(lambda m: m.Condition(threading.Lock()).notify())

    def test_repr(self):
        cond = self.m.Condition()
        self.assertRegex(repr(cond), r"^<Condition\(<unlocked \S+\.RLock object owner=0 "
                                     r"count=0 at 0x[0-9a-f]+>, 0\)>$")
        cond = self.m.Condition(self.m.Lock())
        self.assertRegex(repr(cond), r"^<Condition\(<unlocked \S+ object at 0x[0-9a-f]+>, 0\)>$")
        if self.is_gilfree:
            self.assertIn("gilfree.", repr(cond))

    def test_weakref(self):
        cond = self.m.Condition()
        self.assertIs(weakref.ref(cond)(), cond)


class SemaphoreTests(Base):
    names = ("Semaphore", "BoundedSemaphore")

    def test_counting(self):
        sem = self.m.Semaphore(2)
        self.assertTrue(sem.acquire())
        self.assertTrue(sem.acquire(blocking=True))
        self.assertFalse(sem.acquire(False))
        self.assertFalse(sem.acquire(timeout=SHORT))
        sem.release(2)
        self.assertTrue(sem.acquire(timeout=0))
        self.assertTrue(sem.acquire(True, None))
        self.assertFalse(sem.acquire(timeout=-1))  # CPython: negative polls
        sem.release(n=1)
        self.assertTrue(self.m.Semaphore().acquire(False))  # default value=1
        self.assertFalse(self.m.Semaphore(value=0).acquire(False))

    def test_release_wakes_waiters(self):
        sem = self.m.Semaphore(0)
        got = []
        ts = [self.thread(lambda: got.append(sem.acquire(timeout=LONG))) for _ in range(3)]
        sem.release(3)
        for t in ts:
            t.join(LONG)
        self.assertEqual(got, [True] * 3)

    def test_errors(self):
        self.assertLikeCPython(lambda m: m.Semaphore(-1))
        self.assertLikeCPython(lambda m: m.BoundedSemaphore(-1))
        self.assertLikeCPython(lambda m: m.Semaphore(1).acquire(False, 1))
        self.assertLikeCPython(lambda m: m.Semaphore(1).release(0))
        self.assertLikeCPython(lambda m: m.BoundedSemaphore(1).release())

        def over(m):
            s = m.BoundedSemaphore(2)
            s.acquire()
            s.release(2)
        self.assertLikeCPython(over)

        def overflow(m):
            m.Semaphore(0).acquire(timeout=TIMEOUT_MAX * 2)
        self.assertLikeCPython(overflow, compare_message=False)

    def test_context_manager(self):
        sem = self.m.BoundedSemaphore(1)
        with sem as entered:
            self.assertIs(entered, True)
            self.assertFalse(sem.acquire(False))
        self.assertTrue(sem.acquire(False))
        sem.release()

    def test_repr(self):
        sem = self.m.Semaphore(3)
        self.assertReprAddress(sem, r"<{name} at {addr}: value=3>")
        bs = self.m.BoundedSemaphore(2)
        bs.acquire()
        self.assertReprAddress(bs, r"<{name} at {addr}: value=1/2>")

    def test_weakref(self):
        for s in (self.m.Semaphore(), self.m.BoundedSemaphore()):
            self.assertIs(weakref.ref(s)(), s)

    def test_stress_bounded(self):
        sem = self.m.BoundedSemaphore(2)
        state = {"inside": 0, "max": 0}
        guard = threading.Lock()

        def work():
            for _ in range(500):
                with sem:
                    with guard:
                        state["inside"] += 1
                        state["max"] = max(state["max"], state["inside"])
                    with guard:
                        state["inside"] -= 1

        ts = [self.thread(work) for _ in range(4)]
        for t in ts:
            t.join(LONG)
        self.assertLessEqual(state["max"], 2)
        self.assertEqual(state["inside"], 0)
        self.assertTrue(sem.acquire(False) and sem.acquire(False))
        self.assertFalse(sem.acquire(False))


class EventTests(Base):
    names = ("Event",)

    def test_set_clear_wait(self):
        ev = self.m.Event()
        self.assertFalse(ev.is_set())
        self.assertIs(ev.wait(0), False)
        self.assertIs(ev.wait(-1), False)  # CPython: negative polls
        t0 = time.monotonic()
        self.assertIs(ev.wait(timeout=SHORT), False)
        self.assertGreaterEqual(time.monotonic() - t0, SHORT * 0.9)
        ev.set()
        self.assertTrue(ev.is_set())
        self.assertIs(ev.wait(), True)
        self.assertIs(ev.wait(0), True)
        ev.clear()
        self.assertFalse(ev.is_set())

    def test_wakes_all_waiters(self):
        ev = self.m.Event()
        got = []
        ts = [self.thread(lambda: got.append(ev.wait(LONG))) for _ in range(4)]
        ev.set()
        for t in ts:
            t.join(LONG)
        self.assertEqual(got, [True] * 4)

    def test_overflow(self):
        self.assertLikeCPython(lambda m: m.Event().wait(TIMEOUT_MAX * 2), compare_message=False)

    def test_repr(self):
        ev = self.m.Event()
        self.assertReprAddress(ev, r"<{name} at {addr}: unset>")
        ev.set()
        self.assertReprAddress(ev, r"<{name} at {addr}: set>")

    def test_weakref(self):
        ev = self.m.Event()
        self.assertIs(weakref.ref(ev)(), ev)


class BarrierTests(Base):
    names = ("Barrier", "BrokenBarrierError")

    def test_properties_and_indexes(self):
        b = self.m.Barrier(3)
        self.assertEqual((b.parties, b.n_waiting, b.broken), (3, 0, False))
        out = []
        ts = [self.thread(lambda: out.append(b.wait(LONG))) for _ in range(2)]
        out.append(b.wait(LONG))
        for t in ts:
            t.join(LONG)
        self.assertEqual(sorted(out), [0, 1, 2])
        self.assertFalse(b.broken)

    def test_action_runs_once_per_cycle(self):
        calls = []
        b = self.m.Barrier(2, action=lambda: calls.append(1))
        for _ in range(3):
            t = self.thread(b.wait, LONG)
            b.wait(LONG)
            t.join(LONG)
        self.assertEqual(calls, [1, 1, 1])

    def test_action_exception_breaks(self):
        b = self.m.Barrier(1, action=lambda: 1 / 0)
        with self.assertRaises(ZeroDivisionError):
            b.wait()
        self.assertTrue(b.broken)
        with self.assertRaises(self.m.BrokenBarrierError):
            b.wait()

    def test_timeout_breaks(self):
        b = self.m.Barrier(2)
        with self.assertRaises(self.m.BrokenBarrierError):
            b.wait(SHORT)
        self.assertTrue(b.broken)
        b.reset()
        self.assertFalse(b.broken)
        b2 = self.m.Barrier(2, timeout=SHORT)  # the default timeout
        with self.assertRaises(self.m.BrokenBarrierError):
            b2.wait()
        b3 = self.m.Barrier(2)
        with self.assertRaises(self.m.BrokenBarrierError):
            b3.wait(-1)  # CPython: a negative timeout breaks at once

    def test_abort_wakes_waiters(self):
        b = self.m.Barrier(3)
        errs = []

        def w():
            try:
                b.wait(LONG)
            except self.m.BrokenBarrierError:
                errs.append(1)
        ts = [self.thread(w) for _ in range(2)]
        while b.n_waiting < 2:
            time.sleep(0.001)
        b.abort()
        for t in ts:
            t.join(LONG)
        self.assertEqual(errs, [1, 1])
        self.assertTrue(b.broken)

    def test_exception_class(self):
        self.assertTrue(issubclass(self.m.BrokenBarrierError, RuntimeError))
        if self.is_gilfree:  # drop-in: `except threading.BrokenBarrierError` catches it
            self.assertTrue(issubclass(self.m.BrokenBarrierError,
                                       threading.BrokenBarrierError))

    def test_repr(self):
        b = self.m.Barrier(2)
        self.assertReprAddress(b, r"<{name} at {addr}: waiters=0/2>")
        b.abort()
        self.assertReprAddress(b, r"<{name} at {addr}: broken>")

    def test_weakref(self):
        b = self.m.Barrier(1)
        self.assertIs(weakref.ref(b)(), b)


class TimerTests(Base):
    names = ("Timer",)

    def test_fires_with_args(self):
        got = []
        done = threading.Event()

        def fn(a, b, c=None):
            got.append((a, b, c))
            done.set()
        t = self.m.Timer(0.01, fn, args=(1, 2), kwargs={"c": 3})
        t.start()
        self.assertTrue(done.wait(LONG))
        t.join(LONG)
        self.assertFalse(t.is_alive())
        self.assertEqual(got, [(1, 2, 3)])

    def test_positional_args(self):
        got = []
        t = self.m.Timer(0, got.append, [7])
        t.start()
        t.join(LONG)
        self.assertEqual(got, [7])

    def test_cancel(self):
        got = []
        t = self.m.Timer(LONG, got.append, ["x"])
        t.start()
        self.assertTrue(t.is_alive())
        t.cancel()
        t.join(LONG)
        self.assertFalse(t.is_alive())
        self.assertEqual(got, [])

    def test_cancel_before_start(self):
        got = []
        t = self.m.Timer(0, got.append, ["x"])
        t.cancel()
        t.start()
        t.join(LONG)
        self.assertEqual(got, [])

    def test_start_twice(self):
        def twice(m):
            t = m.Timer(0, lambda: None)
            t.start()
            try:
                t.start()
            finally:
                t.join()
        self.assertLikeCPython(twice)

    def test_repr_and_name(self):
        t = self.m.Timer(0, lambda: None)
        self.assertIsInstance(t.name, str)
        self.assertEqual(repr(t), "<Timer(%s, initial)>" % t.name)
        t.start()
        t.join(LONG)
        self.assertRegex(repr(t), r"^<Timer\(%s, stopped( daemon)? \d+\)>$" % t.name)

    def test_weakref(self):
        t = self.m.Timer(1, lambda: None)
        self.assertIs(weakref.ref(t)(), t)


class InterruptTests(Base):
    """A signal handler runs while the main thread blocks, and its exception propagates,
    as with CPython's locks (Ctrl-C is SIGINT's handler raising KeyboardInterrupt)."""
    names = ("Lock", "Event", "Condition", "Semaphore")

    class Alarm(Exception):
        pass

    def interrupted(self, blocking_call):
        def handler(signum, frame):
            raise self.Alarm()
        old = signal.signal(signal.SIGALRM, handler)
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)
        t0 = time.monotonic()
        with self.assertRaises(self.Alarm):
            signal.setitimer(signal.ITIMER_REAL, 0.1)  # armed inside: it may fire early
            blocking_call()
        self.assertLess(time.monotonic() - t0, LONG)

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_lock_acquire(self):
        lock = self.m.Lock()
        lock.acquire()
        self.interrupted(lambda: lock.acquire(timeout=LONG * 2))
        self.interrupted(lock.acquire)  # forever
        lock.release()

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_event_semaphore_condition(self):
        self.interrupted(lambda: self.m.Event().wait())
        self.interrupted(lambda: self.m.Semaphore(0).acquire())
        cond = self.m.Condition()
        with cond:
            self.interrupted(cond.wait)
            self.assertIn("count=1", repr(cond))  # the lock is held again after the raise


_EXIT_SCRIPT = """
import sys, time, {mod} as m
t0 = time.monotonic()
m.Timer(1.0, lambda: print("fired", flush=True)).start()   # no reference kept
m.Timer(0.5, lambda: 1 / 0).start()
print("dropped in %.2f" % (time.monotonic() - t0), flush=True)
"""


class TimerExitTests(Base):
    names = ("Timer",)

    def test_unreferenced_timer_fires_and_exit_waits(self):
        mod = "threading" if self.m is CPYTHON_THREADING else "gilfree"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        r = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT.format(mod=mod)],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        self.assertEqual(lines[0], "dropped")
        self.assertLess(float(lines[2]), 0.5)  # dropping a Timer neither blocks nor joins
        self.assertIn("fired", r.stdout)  # the interpreter waited for the non-daemon timer
        self.assertRegex(r.stderr, r"Exception in thread .+:")
        self.assertIn("ZeroDivisionError", r.stderr)


for _mixin in (InterruptTests, TimerExitTests, LockTests, RLockTests, ConditionTests, SemaphoreTests, EventTests,
               BarrierTests, TimerTests):
    instantiate(globals(), _mixin, CPYTHON_THREADING)


class ModuleTests(unittest.TestCase):
    @unittest.skipIf(gilfree is None, "gilfree not importable")
    def test_timeout_max(self):
        self.assertEqual(gilfree.TIMEOUT_MAX, threading.TIMEOUT_MAX)


if __name__ == "__main__":
    unittest.main()
