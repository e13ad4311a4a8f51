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


instantiate(globals(), SchedulerTests, CPYTHON_SCHED)

if __name__ == "__main__":
    unittest.main()
