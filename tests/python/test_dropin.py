"""Issue 15's drop-in semantics: each test runs on CPython's objects and on gilfree's."""
import os
import gc
import os
import signal
import threading
import time
import unittest
import weakref

from _support import (Base, ChildBase, CPYTHON_QUEUE, CPYTHON_SCHED, CPYTHON_THREADING, LONG,
                      SHORT, gilfree, instantiate)


class EventSetClearTests(Base):
    names = ("Event",)

    def test_set_then_clear_wakes_waiters_with_true(self):
        # bpo-13502: waiters woken by set() return True even though clear() follows at once.
        evt = self.m.Event()
        results = []
        started = threading.Semaphore(0)

        def waiter():
            started.release()
            results.append(evt.wait(LONG))

        threads = [self.thread(waiter) for _ in range(5)]
        for _ in threads:
            started.acquire()
        time.sleep(SHORT)  # let them block: a waiter that has not yet waited would see "unset"
        evt.set()
        evt.clear()
        for t in threads:
            t.join(LONG)
        self.assertEqual(results, [True] * 5)

    def test_nan_timeout_polls(self):
        self.assertIs(self.m.Event().wait(float("nan")), False)

    def test_non_numeric_timeout_is_type_error(self):
        with self.assertRaises(TypeError):
            self.m.Event().wait("1")

    def test_at_fork_reinit_keeps_flag(self):
        evt = self.m.Event()
        evt.set()
        evt._at_fork_reinit()
        self.assertTrue(evt.is_set())


class PrivateHookTests(Base):
    names = ("Lock", "RLock", "Condition")

    def test_lock_at_fork_reinit(self):
        lock = self.m.Lock()
        lock.acquire()
        lock._at_fork_reinit()
        self.assertFalse(lock.locked())

    def test_rlock_hooks(self):
        lock = self.m.RLock()
        self.assertRaises(RuntimeError, lock._release_save)
        lock.acquire()
        lock.acquire()
        self.assertEqual(lock._recursion_count(), 2)
        self.assertTrue(lock._is_owned())
        state = lock._release_save()
        self.assertFalse(lock._is_owned())
        self.assertEqual(lock._recursion_count(), 0)
        lock._acquire_restore(state)
        self.assertEqual(lock._recursion_count(), 2)
        lock.release()
        lock.release()

    def test_cpython_condition_over_rlock(self):
        # threading.Condition takes the lock's _release_save/_acquire_restore/_is_owned.
        lock = self.m.RLock()
        cond = threading.Condition(lock)
        with cond:
            with cond:
                self.assertFalse(cond.wait(SHORT))
                self.assertEqual(lock._recursion_count(), 2)

    def test_condition_hooks(self):
        cond = self.m.Condition()
        self.assertFalse(cond._is_owned())
        self.assertRaises(RuntimeError, cond._release_save)
        with cond:
            self.assertTrue(cond._is_owned())
            cond._acquire_restore(cond._release_save())
            self.assertTrue(cond._is_owned())

    def test_notify_negative_is_noop(self):
        cond = self.m.Condition()
        with cond:
            cond.notify(-1)
            cond.notify(0)


class BarrierActionTests(ChildBase):
    names = ("Barrier",)

    def test_action_reads_state_without_deadlock(self):
        code = """
seen = []
b = T.Barrier(2, action=lambda: seen.append((b.n_waiting, b.broken, b.parties, repr(b))))
t = threading.Thread(target=b.wait)
t.start()
b.wait()
t.join()
assert len(seen) == 1 and seen[0][1:3] == (False, 2), seen
"""
        self.assertChildrenExitCleanly(code, timeout=30)


class BigSemaphoreTests(Base):
    names = ("Semaphore", "BoundedSemaphore")

    def test_huge_initial_value(self):
        for cls in (self.m.Semaphore, self.m.BoundedSemaphore):
            sem = cls(10 ** 20)
            self.assertTrue(sem.acquire(False))
            sem.release()
        with self.assertRaises(ValueError):
            self.m.Semaphore(-10 ** 20)


class ForkTests(ChildBase):
    """CPython's own modules reinitialise their locks in a forked child through the private
    _at_fork_reinit hook; with gilfree's locks in threading's place, they still do."""
    names = ("RLock",)

    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_logging_handler_lock_after_fork(self):
        code = """
import os
threading.RLock = T.RLock  # what logging's handlers make their locks with
import logging
h = logging.StreamHandler()
held, release = threading.Event(), threading.Event()
def holder():
    with h.lock:
        held.set()
        release.wait(10)
t = threading.Thread(target=holder)
t.start()
held.wait(10)
pid = os.fork()
if pid == 0:  # the holder does not exist here; logging reinitialised the lock
    os._exit(0 if h.lock.acquire(timeout=5) else 3)
release.set()
t.join()
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
"""
        self.assertChildrenExitCleanly(code, timeout=60)


class TimerArgsTests(Base):
    names = ("Timer",)

    def test_fresh_defaults(self):
        a, b = self.m.Timer(1, print), self.m.Timer(1, print)
        self.assertEqual(a.args, [])
        self.assertEqual(a.kwargs, {})
        self.assertIsNot(a.args, b.args)
        self.assertIsNot(a.kwargs, b.kwargs)


class InterruptMoreTests(Base):
    """Ctrl-C (a signal handler's exception) interrupts these waits in the main thread."""
    names = ("Barrier",)

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
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            blocking_call()
        self.assertLess(time.monotonic() - t0, LONG)

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_barrier_wait(self):
        b = self.m.Barrier(2)
        self.interrupted(b.wait)
        self.assertFalse(b.broken)  # as CPython: the barrier stays usable
        self.assertEqual(b.n_waiting, 0)
        t = self.thread(b.wait)
        self.assertIn(b.wait(LONG), (0, 1))
        t.join(LONG)


class SchedInterruptTests(InterruptMoreTests):
    names = ("scheduler",)

    def test_barrier_wait(self):
        pass  # not a sched test

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_scheduler_run(self):
        s = self.m.scheduler()
        event = s.enter(LONG * 2, 1, print)
        self.interrupted(s.run)
        self.assertEqual(s.queue, [event])  # still pending, as in CPython
        s.cancel(event)
        self.assertIsNone(s.run())


class QueueInterruptTests(InterruptMoreTests):
    names = ("Queue",)

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_queue_join(self):
        q = self.m.Queue()
        q.put(1)
        self.interrupted(q.join)
        q.get()
        q.task_done()
        q.join()

    def test_barrier_wait(self):
        pass  # not a queue test

    def test_non_numeric_timeout_is_type_error(self):
        q = self.m.Queue()
        with self.assertRaises(TypeError):
            q.get(True, "1")
        with self.assertRaises(TypeError):
            self.m.SimpleQueue().get(True, "1")


class QueueMaxsizeTests(Base):
    names = ("Queue", "LifoQueue")

    def test_shrink_then_grow_back(self):
        q = self.m.Queue(3)
        for i in range(3):
            q.put(i)
        q.maxsize = 2
        self.assertTrue(q.full())
        self.assertRaises(self.m.Full, q.put_nowait, 3)
        q.get()
        q.get()
        q.put_nowait(3)
        q.maxsize = 3
        q.put_nowait(4)
        self.assertEqual(q.qsize(), 3)

    def test_raising_the_bound(self):
        q = self.m.LifoQueue(1)
        q.put(1)
        self.assertRaises(self.m.Full, q.put_nowait, 2)
        q.maxsize = 0  # unbounded
        q.put_nowait(2)
        self.assertEqual(q.qsize(), 2)

    def test_subclass_hooks_run_under_the_library(self):
        calls = []

        class Logged(self.m.PriorityQueue):
            def _put(self, item):
                calls.append(("put", item))
                super()._put(item)

        q = Logged(2)
        q.put(3)
        q.put(1)
        self.assertRaises(self.m.Full, q.put_nowait, 2)
        self.assertEqual([q.get(), q.get()], [1, 3])
        self.assertEqual(calls, [("put", 3), ("put", 1)])
        self.assertEqual(len(q.queue), 0)


class _Node:
    """Something that can refer back to the object holding it."""

    def __call__(self, *args):
        pass


class CycleTests(Base):
    """A reference cycle through an object and its function, arguments or items is
    collected, as the cycle collector collects CPython's (Python) objects."""

    def assertCollected(self, make):
        node = _Node()
        make(node)
        ref = weakref.ref(node)
        del node
        gc.collect()
        self.assertIsNone(ref(), "the cycle was not collected")


class ThreadingCycleTests(CycleTests):
    names = ("Timer", "Barrier")

    def test_timer_function(self):
        def make(node):
            node.t = self.m.Timer(LONG, node)
        self.assertCollected(make)

    def test_timer_args_and_kwargs(self):
        def make(node):
            node.t = self.m.Timer(LONG, print, args=[node], kwargs={"n": node})
        self.assertCollected(make)

    def test_barrier_action(self):
        def make(node):
            node.b = self.m.Barrier(1, action=node)
            node.b.wait()
        self.assertCollected(make)

    def test_pending_timer_still_fires(self):
        fired = threading.Event()
        node = _Node()
        node.__class__ = type("Firing", (_Node,), {"__call__": lambda self: fired.set()})
        node.t = self.m.Timer(SHORT, node)
        node.t.start()
        del node
        gc.collect()
        self.assertTrue(fired.wait(LONG))


class QueueCycleTests(CycleTests):
    names = ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue")

    def test_item_refers_to_its_queue(self):
        for make_queue in (self.m.Queue, self.m.LifoQueue, self.m.PriorityQueue,
                           self.m.SimpleQueue, lambda: self.m.LifoQueue(4)):
            with self.subTest(queue=make_queue):
                def make(node):
                    node.q = make_queue()
                    node.q.put((1, node))
                self.assertCollected(make)

    def test_subclass_with_hooks(self):
        class Hooked(self.m.Queue):
            def _put(self, item):
                super()._put(item)

        def make(node):
            node.q = Hooked()
            node.q.put(node)
        self.assertCollected(make)


class SchedCycleTests(CycleTests):
    names = ("scheduler",)

    def test_scheduled_action_and_argument(self):
        def make(node):
            node.s = self.m.scheduler()
            node.s.enter(LONG, 1, node)
            node.s.enter(LONG, 1, print, (node,), {"n": node})
        self.assertCollected(make)


for _mixin in (ForkTests, BigSemaphoreTests, ThreadingCycleTests, EventSetClearTests, PrivateHookTests, BarrierActionTests, TimerArgsTests,
               InterruptMoreTests):
    instantiate(globals(), _mixin, CPYTHON_THREADING)
instantiate(globals(), QueueInterruptTests, CPYTHON_QUEUE)
instantiate(globals(), QueueMaxsizeTests, CPYTHON_QUEUE)
instantiate(globals(), QueueCycleTests, CPYTHON_QUEUE)
instantiate(globals(), SchedCycleTests, CPYTHON_SCHED)
instantiate(globals(), SchedInterruptTests, CPYTHON_SCHED)
