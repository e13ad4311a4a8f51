"""queue's classes: every test runs on CPython's and on gilfree's."""
import gc
import heapq
import itertools
import queue
import signal
import threading
import time
import unittest
import weakref
from collections import deque

from _support import Base, CPYTHON_QUEUE, LONG, SHORT, gilfree, instantiate

TIMEOUT_MAX = threading.TIMEOUT_MAX


class QueueTests(Base):
    names = ("Queue", "LifoQueue", "PriorityQueue", "Empty", "Full")

    def test_orders(self):
        for cls, expect in ((self.m.Queue, [3, 1, 2]), (self.m.LifoQueue, [2, 1, 3]),
                            (self.m.PriorityQueue, [1, 2, 3])):
            q = cls()
            for x in (3, 1, 2):
                q.put(x)
            self.assertEqual([q.get() for _ in range(3)], expect, cls)

    def test_priority_tuples(self):
        q = self.m.PriorityQueue()
        for item in [(2, "b"), (1, "z"), (1, "a"), (3, "c")]:
            q.put(item)
        self.assertEqual([q.get_nowait() for _ in range(4)],
                         [(1, "a"), (1, "z"), (2, "b"), (3, "c")])

    def test_priority_uncomparable(self):
        def bad(m):
            q = m.PriorityQueue()
            q.put((1, object()))
            q.put((1, object()))
        self.assertLikeCPython(bad)

    def test_size_empty_full(self):
        q = self.m.Queue(2)
        self.assertEqual((q.qsize(), q.empty(), q.full(), q.maxsize), (0, True, False, 2))
        q.put(1)
        q.put_nowait(2)
        self.assertEqual((q.qsize(), q.empty(), q.full()), (2, False, True))
        self.assertFalse(self.m.Queue().full())
        self.assertEqual(self.m.Queue(maxsize=-1).maxsize, -1)
        self.assertEqual(self.m.Queue().maxsize, 0)

    def test_nonblocking_and_timeouts(self):
        q = self.m.Queue(1)
        with self.assertRaises(self.m.Empty):
            q.get(False)
        with self.assertRaises(self.m.Empty):
            q.get_nowait()
        t0 = time.monotonic()
        with self.assertRaises(self.m.Empty):
            q.get(timeout=SHORT)
        self.assertGreaterEqual(time.monotonic() - t0, SHORT * 0.9)
        with self.assertRaises(self.m.Empty):
            q.get(True, 0)
        q.put("a")
        with self.assertRaises(self.m.Full):
            q.put("b", False)
        with self.assertRaises(self.m.Full):
            q.put_nowait("b")
        with self.assertRaises(self.m.Full):
            q.put("b", block=True, timeout=SHORT)
        self.assertEqual(q.get(block=False, timeout=5), "a")  # timeout ignored when not blocking

    def test_timeout_errors(self):
        self.assertLikeCPython(lambda m: m.Queue().get(timeout=-1))
        self.assertLikeCPython(lambda m: m.Queue().get(True, -0.5))

        def put_neg(m):
            q = m.Queue(1)
            q.put(1)
            q.put(2, timeout=-1)
        self.assertLikeCPython(put_neg)

        def get_overflow(m):
            m.Queue().get(timeout=TIMEOUT_MAX * 2)
        self.assertLikeCPython(get_overflow, compare_message=False)

    def test_exception_classes(self):
        self.assertTrue(issubclass(self.m.Empty, Exception))
        self.assertTrue(issubclass(self.m.Full, Exception))
        if self.is_gilfree:  # drop-in: `except queue.Empty` catches gilfree's
            self.assertTrue(issubclass(self.m.Empty, queue.Empty))
            self.assertTrue(issubclass(self.m.Full, queue.Full))

    def test_blocking_hand_off(self):
        q = self.m.Queue(1)
        q.put(0)
        got = []

        def consumer():
            for _ in range(3):
                got.append(q.get(timeout=LONG))
        t = self.thread(consumer)
        q.put(1, timeout=LONG)  # blocks until the consumer made room
        q.put(2, timeout=LONG)
        t.join(LONG)
        self.assertEqual(got, [0, 1, 2])

    def test_task_done_join(self):
        q = self.m.Queue()
        q.join()  # nothing unfinished
        for i in range(5):
            q.put(i)
        done = []

        def worker():
            while True:
                item = q.get(timeout=LONG)
                if item is None:
                    q.task_done()
                    return
                done.append(item)
                q.task_done()
        t = self.thread(worker)
        q.join()
        self.assertEqual(sorted(done), list(range(5)))
        q.put(None)
        t.join(LONG)

    def test_task_done_too_many(self):
        self.assertLikeCPython(lambda m: m.Queue().task_done())

    def test_keyword_names(self):
        q = self.m.Queue(maxsize=3)
        q.put(item=1, block=True, timeout=None)
        self.assertEqual(q.get(block=True, timeout=None), 1)

    def test_objects_keep_identity_and_refcount(self):
        q = self.m.Queue()
        obj = object()
        base = _refcount(obj)
        q.put(obj)
        self.assertIs(q.get(), obj)
        self.assertEqual(_refcount(obj), base)

        class Marker:
            pass
        m = Marker()
        r = weakref.ref(m)
        q.put(m)
        del m
        gc.collect()
        self.assertIsNotNone(r())  # the queue holds a reference
        q.get()
        gc.collect()
        self.assertIsNone(r())

    def test_queue_dropped_with_items_releases_them(self):
        class Marker:
            pass
        for cls in (self.m.Queue, self.m.LifoQueue, self.m.PriorityQueue, self.m.SimpleQueue):
            m = Marker()
            r = weakref.ref(m)
            q = cls()
            q.put(m) if cls is not self.m.PriorityQueue else q.put((1, m))
            del m, q
            gc.collect()
            self.assertIsNone(r(), cls)

    def test_repr(self):
        for cls in (self.m.Queue, self.m.LifoQueue, self.m.PriorityQueue, self.m.SimpleQueue):
            q = cls()
            self.assertReprAddress(q, r"<{name} object at {addr}>")

    def test_weakref(self):
        for cls in (self.m.Queue, self.m.LifoQueue, self.m.PriorityQueue, self.m.SimpleQueue):
            q = cls()
            self.assertIs(weakref.ref(q)(), q)

    def test_stress_producers_consumers(self):
        for cls in (self.m.Queue, self.m.LifoQueue, self.m.PriorityQueue):
            q = cls(maxsize=8)
            n, pairs = 2000, 2
            got = []
            lock = threading.Lock()

            def prod(base):
                for i in range(n):
                    q.put(base + i, timeout=LONG)

            def cons():
                mine = []
                for _ in range(n):
                    mine.append(q.get(timeout=LONG))
                    q.task_done()
                with lock:
                    got.extend(mine)
            ts = [self.thread(prod, k * n) for k in range(pairs)]
            ts += [self.thread(cons) for _ in range(pairs)]
            for t in ts:
                t.join(LONG)
            q.join()
            self.assertEqual(sorted(got), list(range(n * pairs)), cls)
            self.assertTrue(q.empty())


class SubclassHookTests(Base):
    """Subclasses overriding _init/_qsize/_put/_get, as queue.Queue allows."""
    names = ("Queue", "LifoQueue", "PriorityQueue", "Empty", "Full")

    def test_own_container(self):
        class Stack(self.m.Queue):
            def _init(self, maxsize):
                self.stack = []

            def _qsize(self):
                return len(self.stack)

            def _put(self, item):
                self.stack.append(item)

            def _get(self):
                return self.stack.pop()

        q = Stack(2)
        q.put(1)
        q.put(2)
        self.assertEqual(q.qsize(), 2)
        self.assertTrue(q.full())
        with self.assertRaises(self.m.Full):
            q.put(3, block=False)
        self.assertEqual(q.stack, [1, 2])
        self.assertEqual([q.get(), q.get()], [2, 1])
        with self.assertRaises(self.m.Empty):
            q.get(timeout=SHORT)

    def test_partial_override_uses_base_hooks(self):
        log = []

        class Logging(self.m.Queue):
            def _put(self, item):
                log.append(("put", item))
                super()._put(item)

            def _get(self):
                item = super()._get()
                log.append(("get", item))
                return item

        q = Logging()
        q.put("a")
        q.put("b")
        self.assertEqual(q.get(), "a")
        self.assertEqual(q.qsize(), 1)
        self.assertEqual(log, [("put", "a"), ("put", "b"), ("get", "a")])
        self.assertEqual(list(q.queue), ["b"])  # the base _init's container

    def test_priority_subclass_default_hooks(self):
        class Reversed(self.m.PriorityQueue):
            def _put(self, item):
                super()._put(-item)

            def _get(self):
                return -super()._get()

        q = Reversed()
        for x in (1, 3, 2):
            q.put(x)
        self.assertEqual([q.get() for _ in range(3)], [3, 2, 1])

    def test_hook_exception_propagates_and_queue_survives(self):
        class Failing(self.m.Queue):
            fail_put = fail_get = False

            def _put(self, item):
                if self.fail_put:
                    raise OSError("put failed")
                super()._put(item)

            def _get(self):
                if self.fail_get:
                    raise OSError("get failed")
                return super()._get()

        q = Failing(1)
        q.fail_put = True
        with self.assertRaisesRegex(OSError, "put failed"):
            q.put(1)
        q.fail_put = False
        q.put(2)
        q.fail_get = True
        with self.assertRaisesRegex(OSError, "get failed"):
            q.get()
        q.fail_get = False
        self.assertEqual(q.get(), 2)
        self.assertTrue(q.empty())

    def test_blocking_with_hooks_across_threads(self):
        class Deq(self.m.Queue):
            def _init(self, maxsize):
                self.d = deque()

            def _qsize(self):
                return len(self.d)

            def _put(self, item):
                self.d.append(item)

            def _get(self):
                return self.d.popleft()

        q = Deq(2)
        got = []
        t = self.thread(lambda: got.extend(q.get(timeout=LONG) for _ in range(200)))
        for i in range(200):
            q.put(i, timeout=LONG)
        t.join(LONG)
        self.assertEqual(got, list(range(200)))

    def test_plain_subclass_is_fine(self):
        class Named(self.m.Queue):
            def __init__(self, name, maxsize=0):
                super().__init__(maxsize)
                self.name = name

        q = Named("jobs", 1)
        q.put(1)
        self.assertEqual((q.name, q.get(), q.maxsize), ("jobs", 1, 1))


class SimpleQueueTests(Base):
    names = ("SimpleQueue", "Empty")

    def test_basic(self):
        q = self.m.SimpleQueue()
        self.assertTrue(q.empty())
        self.assertEqual(q.qsize(), 0)
        q.put(1)
        q.put(2, False)
        q.put(3, block=True, timeout=-5)  # put never blocks: block/timeout ignored
        q.put_nowait(4)
        self.assertEqual(q.qsize(), 4)
        self.assertEqual([q.get(), q.get(False), q.get(timeout=1), q.get_nowait()],
                         [1, 2, 3, 4])
        with self.assertRaises(self.m.Empty):
            q.get(False)
        with self.assertRaises(self.m.Empty):
            q.get_nowait()
        t0 = time.monotonic()
        with self.assertRaises(self.m.Empty):
            q.get(timeout=SHORT)
        self.assertGreaterEqual(time.monotonic() - t0, SHORT * 0.9)

    def test_errors(self):
        self.assertLikeCPython(lambda m: m.SimpleQueue().get(timeout=-1))
        self.assertLikeCPython(lambda m: m.SimpleQueue().get(timeout=TIMEOUT_MAX * 2),
                               compare_message=False)

    def test_blocking_get(self):
        q = self.m.SimpleQueue()
        got = []
        t = self.thread(lambda: got.extend(q.get(timeout=LONG) for _ in range(100)))
        for i in range(100):
            q.put(i)
        t.join(LONG)
        self.assertEqual(got, list(range(100)))

    def test_put_from_del_is_reentrant(self):
        # bpo-14976: put() may be called reentrantly from __del__, which the cyclic GC
        # can run at any allocation, including one inside put() itself.
        q = self.m.SimpleQueue()
        gen = itertools.count()
        n = 3000
        results = []

        class Circular:
            def __init__(self):
                self.circular = self

            def __del__(self):
                q.put(next(gen))

        while True:
            o = Circular()
            q.put(next(gen))
            del o
            results.append(q.get())
            if results[-1] >= n:
                break
        self.assertEqual(results, list(range(n + 1)))

    def test_put_from_del_during_gc_in_other_thread(self):
        q = self.m.SimpleQueue()
        stop = threading.Event()

        class Circular:
            def __init__(self):
                self.circular = self

            def __del__(self):
                q.put("del")

        def churn():
            while not stop.is_set():
                Circular()
                gc.collect(0)
        self.thread(churn)
        count = 0
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            q.put("main")
            q.get(timeout=LONG)
            count += 1
        stop.set()
        self.assertGreater(count, 0)


class ShutDownTests(Base):
    names = ("Queue", "ShutDown")

    def test_shutdown(self):
        q = self.m.Queue()
        q.put(1)
        q.shutdown()
        with self.assertRaises(self.m.ShutDown):
            q.put(2)
        self.assertEqual(q.get(), 1)  # items already in stay gettable
        with self.assertRaises(self.m.ShutDown):
            q.get()

    def test_shutdown_immediate_wakes_getter(self):
        q = self.m.Queue()
        errs = []

        def getter():
            try:
                q.get(timeout=LONG)
            except self.m.ShutDown:
                errs.append(1)
        t = self.thread(getter)
        time.sleep(SHORT)  # let it block (the test passes either way)
        q.shutdown(immediate=True)
        t.join(LONG)
        self.assertEqual(errs, [1])


class InterruptTests(Base):
    """A signal handler's exception interrupts a get() blocked in the main thread."""
    names = ("Queue", "PriorityQueue", "SimpleQueue")

    class Alarm(Exception):
        pass

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_blocked_get(self):
        def handler(signum, frame):
            raise self.Alarm()
        old = signal.signal(signal.SIGALRM, handler)
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)
        for q in (self.m.Queue(), self.m.PriorityQueue(), self.m.SimpleQueue()):
            with self.assertRaises(self.Alarm):
                signal.setitimer(signal.ITIMER_REAL, 0.05)  # armed inside: may fire early
                q.get()
            q.put(1)  # still usable afterwards
            self.assertEqual(q.get(), 1)


def _refcount(obj):
    import sys
    return sys.getrefcount(obj)


for _mixin in (QueueTests, SubclassHookTests, SimpleQueueTests, ShutDownTests, InterruptTests):
    instantiate(globals(), _mixin, CPYTHON_QUEUE)


@unittest.skipIf(gilfree is None, "gilfree not importable")
class MixedCppPythonTests(unittest.TestCase):
    """A C++ thread and a Python thread hand items through one gilfree queue."""

    def setUp(self):
        if not hasattr(gilfree, "_testing") or not hasattr(gilfree, "Queue"):
            self.skipTest("gilfree._testing / gilfree.Queue not built")

    def test_cpp_consumer_python_producer(self):
        q = gilfree.Queue(4)
        items = [("item", i) for i in range(500)]
        consumer = gilfree._testing.cpp_consume(q, len(items))  # starts a C++ thread
        for it in items:
            q.put(it, timeout=LONG)  # blocks (GIL released) while the C++ side catches up
        got = consumer.join()
        self.assertEqual(got, items)
        self.assertTrue(all(a is b for a, b in zip(got, items)))

    def test_cpp_producer_python_consumer(self):
        q = gilfree.Queue(4)
        items = [object() for _ in range(500)]
        producer = gilfree._testing.cpp_produce(q, items)  # C++ thread puts each item
        got = [q.get(timeout=LONG) for _ in items]
        producer.join()
        self.assertTrue(all(a is b for a, b in zip(got, items)))

    def test_python_thread_blocks_while_cpp_thread_runs(self):
        # The Python consumer blocks in get() with the GIL released, so the main thread
        # keeps running Python code meanwhile.
        q = gilfree.Queue()
        got = []
        t = threading.Thread(target=lambda: got.append(q.get(timeout=LONG)))
        t.start()
        spins = sum(1 for _ in range(10000))
        producer = gilfree._testing.cpp_produce(q, ["late"])
        producer.join()
        t.join(LONG)
        self.assertEqual((got, spins), (["late"], 10000))

    def test_stress_two_python_producers_one_cpp_consumer(self):
        q = gilfree.Queue(2)  # tiny bound: both sides block often, GIL released
        n = 2000
        consumer = gilfree._testing.cpp_consume(q, 2 * n)
        ts = [threading.Thread(target=lambda base=base: [q.put(base + i, timeout=LONG)
                                                         for i in range(n)])
              for base in (0, n)]
        for t in ts:
            t.start()
        got = consumer.join()
        for t in ts:
            t.join(LONG)
        self.assertEqual(sorted(got), list(range(2 * n)))
        # each producer's items arrive in its own order (FIFO)
        self.assertEqual([x for x in got if x < n], list(range(n)))
        self.assertTrue(q.empty())

    def test_simplequeue_hand_off(self):
        q = gilfree.SimpleQueue()
        items = list(range(300))
        consumer = gilfree._testing.cpp_consume(q, len(items))
        for i in items:
            q.put(i)
        self.assertEqual(consumer.join(), items)


if __name__ == "__main__":
    unittest.main()
