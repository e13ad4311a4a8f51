"""sched.scheduler: every test runs on CPython's and on gilfree's."""
import threading
import time
import unittest
import weakref

from _support import Base, CPYTHON_SCHED, LONG, instantiate


class FakeClock:
    """A timefunc/delayfunc pair: delays advance the clock instead of sleeping."""

    def __init__(self):
        self.now = 100.0
        self.delays = []

    def time(self):
        return self.now

    def sleep(self, d):
        self.delays.append(d)
        self.now += d


class SchedulerTests(Base):
    names = ("scheduler",)

    def test_order_by_time_then_priority_then_sequence(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        s.enterabs(105, 2, out.append, ("b",))
        s.enterabs(105, 1, out.append, ("a",))
        s.enterabs(101, 9, out.append, argument=("first",))
        s.enterabs(105, 2, out.append, ("c",))
        s.enter(10, 0, lambda object: out.append(object), kwargs={"object": "last"})
        self.assertFalse(s.empty())
        self.assertIsNone(s.run())
        self.assertEqual(out, ["first", "a", "b", "c", "last"])
        self.assertTrue(s.empty())
        self.assertEqual(clock.now, 110.0)
        self.assertEqual(sum(clock.delays), 10.0)

    def test_event_fields(self):
        clock = FakeClock()
        s = self.m.scheduler(timefunc=clock.time, delayfunc=clock.sleep)
        ev = s.enter(5, 3, print, ("x",), {"sep": ","})
        self.assertEqual((ev.time, ev.priority, ev.action, ev.argument, ev.kwargs),
                         (105.0, 3, print, ("x",), {"sep": ","}))
        ev2 = s.enterabs(time=1, priority=0, action=print)
        self.assertEqual((ev2.argument, ev2.kwargs), ((), {}))
        self.assertLess(ev2, ev)  # events order like their (time, priority, sequence)
        self.assertEqual(s.queue, [ev2, ev])
        self.assertIsInstance(s.queue, list)

    def test_cancel(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        e1 = s.enter(1, 1, out.append, (1,))
        s.enter(2, 1, out.append, (2,))
        s.cancel(e1)
        self.assertEqual(len(s.queue), 1)
        s.run()
        self.assertEqual(out, [2])

    def test_cancel_unknown(self):
        def bad(m):
            s = m.scheduler()
            ev = s.enter(1, 1, print)
            s.cancel(ev)
            s.cancel(ev)
        self.assertLikeCPython(bad)

    def test_run_nonblocking_returns_next_delay(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        s.enterabs(100, 1, out.append, ("due",))
        s.enterabs(107.5, 1, out.append, ("later",))
        self.assertEqual(s.run(blocking=False), 7.5)
        self.assertEqual(out, ["due"])
        self.assertEqual(clock.delays, [0])  # CPython yields with delayfunc(0) after an action
        self.assertEqual(len(s.queue), 1)
        self.assertIsNone(self.m.scheduler(clock.time, clock.sleep).run(False))

    def test_action_exception_propagates_and_keeps_rest(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        s.enter(1, 1, lambda: 1 / 0)
        s.enter(2, 1, out.append, ("after",))
        with self.assertRaises(ZeroDivisionError):
            s.run()
        self.assertEqual(len(s.queue), 1)  # the failed event is gone, the next one stays
        s.run()
        self.assertEqual(out, ["after"])

    def test_action_can_enter_and_cancel(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        later = s.enter(5, 1, out.append, ("cancelled",))

        def first():
            out.append("first")
            s.enter(1, 1, out.append, ("chained",))
            s.cancel(later)
        s.enter(1, 1, first)
        s.run()
        self.assertEqual(out, ["first", "chained"])

    def test_real_clock(self):
        s = self.m.scheduler()  # time.monotonic / time.sleep
        out = []
        t0 = time.monotonic()
        s.enter(0.02, 1, out.append, ("a",))
        s.enter(0, 1, out.append, ("b",))
        s.run()
        self.assertEqual(out, ["b", "a"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.018)

    def test_enter_from_another_thread(self):
        s = self.m.scheduler()
        out = []
        done = threading.Event()
        s.enter(0.05, 1, out.append, ("main",))
        t = self.thread(lambda: s.enter(0, 1, out.append, ("thread",)) and done.set())
        t.join(LONG)
        self.assertTrue(done.wait(LONG))
        s.run()
        self.assertEqual(sorted(out), ["main", "thread"])

    def test_repr_and_weakref(self):
        s = self.m.scheduler()
        self.assertReprAddress(s, r"<{name} object at {addr}>")
        self.assertIs(weakref.ref(s)(), s)



class Ranked:
    """A priority ordered by Python code (its __lt__/__eq__ run on whichever thread compares)."""

    def __init__(self, rank, owner=None):
        self.rank = rank
        self.owner = owner  # lets a test make a cycle through the priority

    def __eq__(self, other):
        return self.rank == other.rank

    def __lt__(self, other):
        return self.rank < other.rank

    __hash__ = None


class PriorityObjectTests(Base):
    """Priorities are any objects, ordered as CPython's Event tuples order them."""
    names = ("scheduler",)

    def order(self, entries):
        """Runs (time, priority, tag) entries on a fake clock; returns the tags in run order."""
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        for t, prio, tag in entries:
            s.enterabs(t, prio, out.append, (tag,))
        s.run()
        return out

    def test_string_priorities(self):
        self.assertEqual(self.order([(1, "b", 1), (1, "a", 2), (0, "z", 3), (1, "ab", 4),
                                     (1, "a", 5)]), [3, 2, 5, 4, 1])

    def test_tuple_priorities(self):
        self.assertEqual(self.order([(1, (1, "b"), 1), (1, (0, "z"), 2), (1, (1, "a"), 3),
                                     (1, (1, "a"), 4), (1, (), 5)]), [5, 2, 3, 4, 1])

    def test_float_and_mixed_numeric_priorities(self):
        self.assertEqual(self.order([(1, 1.5, 1), (1, 1, 2), (1, -0.5, 3), (1, True, 4),
                                     (1, 10**30, 5), (1, float("-inf"), 6)]),
                         [6, 3, 2, 4, 1, 5])

    def test_objects_ordered_by_their_own_lt(self):
        a, b, c = Ranked(2), Ranked(1), Ranked(2)
        self.assertEqual(self.order([(1, a, "a"), (1, b, "b"), (1, c, "c")]), ["b", "a", "c"])

    def test_event_keeps_the_priority_object(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        prio = Ranked(3)
        ev = s.enter(1, prio, print)
        self.assertIs(ev.priority, prio)
        self.assertIs(s.queue[0].priority, prio)
        s.cancel(ev)
        self.assertTrue(s.empty())

    def test_equal_unorderable_priorities_do_not_raise(self):
        # A tuple compares its elements with == first, so the same object (or equal dicts)
        # never reaches `<`: sequence decides, in CPython and in gilfree.
        token = object()
        self.assertEqual(self.order([(1, token, 1), (1, token, 2), (1, token, 3)]), [1, 2, 3])
        self.assertEqual(self.order([(1, {"k": 1}, 1), (1, {"k": 1}, 2)]), [1, 2])
        self.assertEqual(self.order([(1, None, 1), (2, "x", 2), (0, 3, 3)]), [3, 1, 2])

    def test_unorderable_priorities_raise_type_error(self):
        def mixed(m):
            s = m.scheduler(FakeClock().time)
            s.enterabs(1, 1, print)
            s.enterabs(1, "one", print)
        self.assertLikeCPython(mixed, compare_message=False)

        def objects(m):
            s = m.scheduler(FakeClock().time)
            s.enter(1, object(), print)
            s.enter(1, object(), print)
        self.assertLikeCPython(objects, compare_message=False)

    def test_unorderable_priority_leaves_gilfree_queue_usable(self):
        clock = FakeClock()
        s = self.m.scheduler(clock.time, clock.sleep)
        out = []
        s.enterabs(101, 2, out.append, ("two",))
        s.enterabs(101, 1, out.append, ("one",))
        with self.assertRaises(TypeError):
            s.enterabs(101, "x", out.append, ("bad",))
        if not self.is_gilfree:
            return  # CPython keeps the bad event at the heap's end; its queue now raises
        self.assertEqual([e.priority for e in s.queue], [1, 2])
        s.run()
        self.assertEqual(out, ["one", "two"])

    def test_comparison_that_raises_its_own_error(self):
        class Boom(Ranked):
            def __lt__(self, other):
                raise KeyError("boom")

        def boom(m):
            s = m.scheduler(FakeClock().time)
            s.enter(1, Boom(1), print)
            s.enter(1, Boom(2), print)
        err = self.assertLikeCPython(boom)
        self.assertEqual(err.args, ("boom",))

    def test_threads_enter_object_priorities_while_another_runs(self):
        # Comparisons (Python code) run on threads that released the GIL, under the
        # scheduler's lock, while the runner sleeps on the real clock.
        s = self.m.scheduler()
        out = []
        lock = threading.Lock()
        start = time.monotonic() + 0.2  # after every thread has entered its events

        def record(rank):
            with lock:
                out.append(rank)
        gate = threading.Barrier(4)
        errors = []

        def enter(offset):
            try:
                gate.wait(LONG)
                for i in range(50):
                    rank = i * 4 + offset
                    s.enterabs(start, Ranked(rank), record, (rank,))
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)
        threads = [self.thread(enter, k) for k in range(4)]
        for t in threads:
            t.join(LONG)
        self.assertEqual(errors, [])
        self.assertEqual(len(s.queue), 200)
        runner = self.thread(s.run)
        runner.join(LONG)
        self.assertFalse(runner.is_alive())
        self.assertEqual(out, list(range(200)))

    def test_cycle_through_a_priority_is_collected(self):
        import gc
        s = self.m.scheduler()
        prio = Ranked(1, owner=s)
        s.enter(3600, prio, print)
        s.enter(3600, Ranked(0, owner=s), print)
        ref = weakref.ref(prio)
        del s, prio
        gc.collect()
        self.assertIsNone(ref())


instantiate(globals(), SchedulerTests, CPYTHON_SCHED)
instantiate(globals(), PriorityObjectTests, CPYTHON_SCHED)

if __name__ == "__main__":
    unittest.main()
