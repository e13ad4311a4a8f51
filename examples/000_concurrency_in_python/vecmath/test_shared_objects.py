"""unittest for <gilfree/python.hpp> through the vecmath extension: the `gilfree` module and
an author's extension loaded together, sharing one libgilfree_shared.so; C++ threads of the
extension on gilfree objects that Python threads use at the same time; objects made in C++
and handed to Python; the producer/consumer pipeline.

Every wait is bounded (LONG); a C++ thread that does not finish is a failure, not a hang.
"""
import array
import gc
import os
import threading
import unittest
import weakref

import gilfree
import vecmath

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the interpreter
    np = None

LONG = 30.0
O = vecmath.objects


def finish(test, worker):
    """Joins a C++ worker within LONG and returns its result."""
    test.assertTrue(worker.join(LONG), "a C++ worker did not finish")
    return worker.result()


class OneLibraryPerProcess(unittest.TestCase):
    """Both modules link libgilfree_shared.so, and the process maps it once."""

    def test_one_copy_of_the_library(self):
        with open("/proc/self/maps") as f:
            maps = f.read().splitlines()
        paths = {line.split()[-1] for line in maps if "libgilfree_shared.so" in line}
        self.assertEqual(len(paths), 1, paths)
        inodes = {line.split()[4] for line in maps if "libgilfree_shared.so" in line}
        self.assertEqual(len(inodes), 1, inodes)

    def test_both_modules_need_it(self):
        for mod in (gilfree, vecmath):
            with open(mod.__file__, "rb") as f:
                self.assertIn(b"libgilfree_shared.so", f.read(), mod.__file__)

    def test_capsule(self):
        self.assertIn("gilfree._C_API", repr(gilfree._C_API))


class Locks(unittest.TestCase):
    """A C++ thread holds a lock that Python threads then cannot take, and gives it back."""

    def check_hold(self, lock, probe):
        acquired, release = gilfree.Event(), gilfree.Event()
        w = O.hold(lock, acquired, release, LONG)
        self.assertTrue(acquired.wait(LONG))
        self.assertFalse(probe(), "Python took a lock the C++ thread holds")
        release.set()
        self.assertIs(finish(self, w), True)
        self.assertTrue(probe(), "the C++ thread did not release the lock")

    def test_lock(self):
        lock = gilfree.Lock()

        def probe():
            got = lock.acquire(timeout=0.01)
            if got:
                lock.release()
            return got
        self.check_hold(lock, probe)

    def test_rlock_from_another_thread(self):
        lock = gilfree.RLock()
        results = []

        def probe():
            t = threading.Thread(target=lambda: results.append(lock.acquire(timeout=0.01)) or
                                 (results[-1] and lock.release()))
            t.start()
            t.join(LONG)
            return results[-1]
        self.check_hold(lock, probe)

    def test_semaphore_and_bounded(self):
        for sem in (gilfree.Semaphore(1), gilfree.BoundedSemaphore(1)):
            with self.subTest(sem=sem):
                def probe(sem=sem):
                    got = sem.acquire(timeout=0.01)
                    if got:
                        sem.release()
                    return got
                self.check_hold(sem, probe)

    def test_condition_lock(self):
        cond = gilfree.Condition(gilfree.Lock())

        def probe():
            got = cond.acquire(timeout=0.01)
            if got:
                cond.release()
            return got
        self.check_hold(cond, probe)

    def test_wrong_kind_is_type_error(self):
        for bad in (gilfree.Event(), object(), None, threading.Lock()):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                O.hold(bad, gilfree.Event(), gilfree.Event(), LONG)
        with self.assertRaises(TypeError):  # a threading.Event is not a gilfree one
            O.hold(gilfree.Lock(), threading.Event(), gilfree.Event(), LONG)
        with self.assertRaises(TypeError):  # CPython's condition over a foreign lock
            O.set_value(gilfree.Condition(threading.Lock()), O.Box(), 1)
        with self.assertRaisesRegex(TypeError, "over a gilfree Lock or RLock"):
            O.made_with_condition(gilfree.Condition(threading.Lock()))


class Conditions(unittest.TestCase):
    """C++ and Python threads wait for and notify each other on one gilfree.Condition."""

    def test_cpp_waits_python_notifies(self):
        for lock in (gilfree.Lock(), gilfree.RLock()):
            cond, box = gilfree.Condition(lock), O.Box()
            w = O.wait_value(cond, box, 3, LONG)
            for v in (1, 2, 3):  # the C++ waiter must keep waiting until 3
                with cond:
                    box.value = v
                    cond.notify_all()
            self.assertIs(finish(self, w), True)

    def test_python_waits_cpp_notifies(self):
        cond, box = gilfree.Condition(), O.Box()
        with cond:
            w = O.set_value(cond, box, 7)  # blocks on the lock until wait() releases it
            self.assertTrue(cond.wait_for(lambda: box.value == 7, LONG))
        finish(self, w)

    def test_cpp_wait_times_out(self):
        cond, box = gilfree.Condition(), O.Box()
        self.assertIs(finish(self, O.wait_value(cond, box, 1, 0.05)), False)


class Barriers(unittest.TestCase):
    def test_cpp_and_python_threads_meet(self):
        b = gilfree.Barrier(4)
        w = O.barrier_wait(b, 2)  # two C++ threads
        got = []
        t = threading.Thread(target=lambda: got.append(b.wait(LONG)))
        t.start()
        got.append(b.wait(LONG))
        t.join(LONG)
        got += finish(self, w)
        self.assertEqual(sorted(got), [0, 1, 2, 3])


class Queues(unittest.TestCase):
    def test_echo_keeps_identity_and_order(self):
        kinds = [gilfree.Queue, gilfree.SimpleQueue, gilfree.LifoQueue]
        for inq_t in (gilfree.Queue, gilfree.SimpleQueue):
            for outq_t in kinds:
                with self.subTest(inq=inq_t.__name__, outq=outq_t.__name__):
                    inq, outq = inq_t(), outq_t()
                    items = [object() for _ in range(50)]
                    w = O.echo(inq, outq, len(items), LONG)
                    producers = [threading.Thread(target=lambda part=items[k::2]: [inq.put(i) for i in part])
                                 for k in range(2)]
                    for p in producers:
                        p.start()
                    for p in producers:
                        p.join(LONG)
                    self.assertIs(finish(self, w), True)
                    got = [outq.get(timeout=LONG) for _ in items]
                    self.assertEqual(sorted(map(id, got)), sorted(map(id, items)))
                    if inq_t is gilfree.Queue:
                        inq.join()  # the C++ side called task_done for each item

    def test_bounded_queue_blocks_cpp_producer(self):
        inq, outq = gilfree.SimpleQueue(), gilfree.Queue(maxsize=2)
        w = O.echo(inq, outq, 5, LONG)
        for i in range(5):
            inq.put(i)
        got = [outq.get(timeout=LONG) for _ in range(5)]  # the C++ thread waits for room
        self.assertEqual(got, list(range(5)))
        finish(self, w)

    def test_cpp_get_times_out(self):
        w = O.echo(gilfree.Queue(), gilfree.Queue(), 1, 0.05)
        self.assertTrue(w.join(LONG))
        with self.assertRaisesRegex(ValueError, "worker failed"):
            w.result()  # gilfree::Empty inside the C++ thread

    def test_cpp_put_times_out_on_a_full_queue(self):
        inq, outq = gilfree.SimpleQueue(), gilfree.Queue(maxsize=1)
        outq.put("occupant")
        inq.put("item")
        w = O.echo(inq, outq, 1, 0.05)
        self.assertTrue(w.join(LONG))
        with self.assertRaisesRegex(ValueError, "worker failed"):
            w.result()  # gilfree::Full inside the C++ thread
        self.assertEqual(outq.get_nowait(), "occupant")

    def test_shutdown_reaches_cpp_threads(self):
        for side in ("in", "out"):
            with self.subTest(side=side):
                inq, outq = gilfree.Queue(), gilfree.Queue()
                (inq if side == "in" else outq).shutdown()
                if side == "out":
                    inq.put("item")
                w = O.echo(inq, outq, 1, LONG)  # ShutDown ends the wait at once
                self.assertTrue(w.join(LONG))
                with self.assertRaisesRegex(ValueError, "worker failed"):
                    w.result()

    def test_refused_queues(self):
        class Hooked(gilfree.Queue):
            def _put(self, item):
                super()._put(item)
        for bad in (gilfree.PriorityQueue(), Hooked(), gilfree.Event()):
            with self.subTest(bad=type(bad).__name__), self.assertRaises(TypeError):
                O.echo(bad, gilfree.Queue(), 1, LONG)

    def test_collector_runs_while_cpp_moves_items(self):
        # Items are containers (tracked by the cycle collector) moving through C++ without
        # the GIL while Python runs full collections: the module must not show the
        # collector a queue whose items a C++ thread may be moving (the handle's lease).
        inq, outq = gilfree.Queue(), gilfree.SimpleQueue()
        n = 3000
        w = O.echo(inq, outq, n, LONG)
        for i in range(n):
            inq.put([i])
            if i % 100 == 0:
                gc.collect()
        got = [outq.get(timeout=LONG) for _ in range(n)]
        gc.collect()
        self.assertEqual(sorted(x[0] for x in got), list(range(n)))
        finish(self, w)

    def test_items_are_released(self):
        class Item:
            pass
        inq, outq = gilfree.Queue(), gilfree.SimpleQueue()
        item = Item()
        ref = weakref.ref(item)
        inq.put(item)
        del item
        finish(self, O.echo(inq, outq, 1, LONG))
        self.assertIsNotNone(ref())  # now in outq
        outq.get(timeout=LONG)
        gc.collect()
        self.assertIsNone(ref())  # no reference leaked on the way through C++


class MadeInCpp(unittest.TestCase):
    def test_each_kind(self):
        d = O.made_in_cpp()
        for name, obj in d.items():
            with self.subTest(name=name):
                self.assertIs(type(obj), getattr(gilfree, name))
        self.assertTrue(d["Semaphore"].acquire(timeout=0) and d["Semaphore"].acquire(timeout=0))
        self.assertFalse(d["Semaphore"].acquire(timeout=0))
        with d["Condition"]:
            self.assertFalse(d["Lock"].acquire(timeout=0))  # the condition's lock
        self.assertEqual(d["Queue"].maxsize, 3)

    def test_countdown(self):
        q, done, w = O.countdown(100)
        got = [q.get(timeout=LONG) for _ in range(100)]
        self.assertEqual(got, list(range(100, 0, -1)))
        self.assertTrue(done.wait(LONG))
        finish(self, w)


class Pipeline(unittest.TestCase):
    """Python threads produce, C++ workers compute without the GIL, Python collects."""

    def test_producer_consumer(self):
        tasks, results = gilfree.Queue(maxsize=8), gilfree.Queue()
        workers = vecmath.serve(tasks, results, 3)
        n_items = 40

        def produce(start):
            for k in range(start, n_items, 2):
                x = array.array("d", [float(k)] * (1000 + k))
                tasks.put((k, x), timeout=LONG)
        producers = [threading.Thread(target=produce, args=(s,)) for s in range(2)]
        for p in producers:
            p.start()
        got = {}
        for _ in range(n_items):
            key, norm, mapped = results.get(timeout=LONG)
            got[key] = (norm, mapped)
        for p in producers:
            p.join(LONG)
        tasks.put(("bad", b"1234"))
        key, err = results.get(timeout=LONG)
        self.assertEqual(key, "bad")
        self.assertIsInstance(err, TypeError)
        for _ in workers:
            tasks.put(None)
        for w in workers:
            finish(self, w)
        tasks.join()
        self.assertEqual(sorted(got), list(range(n_items)))
        import math
        for k, (norm, mapped) in got.items():
            n = 1000 + k
            self.assertAlmostEqual(norm, math.sqrt(n) * k, delta=1e-9 * max(1, norm))
            want = n * (math.sin(k) * math.cos(k) + math.sqrt(k))
            self.assertAlmostEqual(mapped, want, delta=1e-9 * max(1.0, abs(want)))

    def test_shutdown_stops_workers(self):
        tasks = gilfree.Queue()
        workers = vecmath.serve(tasks, gilfree.SimpleQueue(), 2)
        tasks.shutdown()
        for w in workers:
            finish(self, w)

    def test_dropped_workers_do_not_block(self):
        # Dropping the Worker handles neither stops nor waits for the threads; the
        # queue's shutdown ends them (join_orphans joins them at exit).
        tasks = gilfree.Queue()
        vecmath.serve(tasks, gilfree.SimpleQueue(), 2)
        gc.collect()
        tasks.shutdown()


@unittest.skipIf(np is None, "needs weak references to arrays (NumPy)")
class OutlivedInterest(unittest.TestCase):
    """An async job whose caller dropped everything keeps its arrays alive until it ends."""

    def test_gated_job(self):
        start, done = gilfree.Event(), gilfree.Event()
        x = np.linspace(0.0, 9.0, 4 * vecmath.min_chunk() + 1)
        out = np.empty_like(x)
        vecmath.sincos_sqrt_async(x, out, start=start, done=done)  # the Job is dropped
        wx, wout = weakref.ref(x), weakref.ref(out)
        del x, out
        gc.collect()
        # The workers wait for `start` (a gilfree.Event, without the GIL): nothing ended.
        self.assertIsNotNone(wx())
        self.assertIsNotNone(wout())
        self.assertFalse(done.is_set())
        start.set()
        self.assertTrue(done.wait(LONG))
        gc.collect()
        self.assertIsNone(wx())
        self.assertIsNone(wout())

    def test_result_written(self):
        start, done = gilfree.Event(), gilfree.Event()
        x = np.linspace(0.0, 9.0, 3 * vecmath.min_chunk())
        out = np.zeros_like(x)
        job = vecmath.sincos_sqrt_async(x, out, start=start, done=done)
        self.assertFalse(job.wait(0.01))
        start.set()
        self.assertTrue(job.wait(LONG))
        np.testing.assert_allclose(out, np.sin(x) * np.cos(x) + np.sqrt(x), rtol=1e-14, atol=1e-14)


if __name__ == "__main__":
    unittest.main()
