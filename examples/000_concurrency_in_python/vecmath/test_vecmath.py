"""unittest for the vecmath extension (seed 000): results against NumPy, every bad buffer,
concurrent callers, and C++ workers that outlive the caller's interest.

Run by ctest (python_vecmath) with PYTHONPATH=<build>/python and Debian's /usr/bin/python3
(the interpreter that has NumPy); without NumPy the comparisons use array.array and plain
Python instead, so the suite still checks the results.
"""
import array
import gc
import math
import sys
import threading
import unittest
import weakref

import vecmath

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the interpreter
    np = None

LONG = 30.0  # bounds every wait; a hang is a failure, not a stuck suite
EPS = sys.float_info.epsilon
CHUNK = vecmath.min_chunk()
# Sizes around the splitting rules: empty, tiny, just one chunk, just two, odd, several.
SIZES = [0, 1, 7, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 3, 5 * CHUNK + 13, 200_003]
THREADS = [1, 2, 3, 8]


def data(n, seed, lo=-2.0, hi=2.0):
    """n deterministic float64 values in [lo, hi) as an array.array (no NumPy needed)."""
    state = seed * 2654435761 % 2**32 or 1
    out = array.array("d", bytes(8 * n))
    for i in range(n):
        state = (1103515245 * state + 12345) % 2**31
        out[i] = lo + (hi - lo) * state / 2**31
    return out


def gamma(n):
    """Higham's bound factor for a sum of n terms in any order."""
    return n * EPS / (1 - n * EPS) if n else 0.0


class Results(unittest.TestCase):
    """Each kernel equals the plain definition within floating-point reassociation bounds."""

    @classmethod
    def setUpClass(cls):
        cls.x = {n: data(n, 1) for n in SIZES}
        cls.y = {n: data(n, 2) for n in SIZES}
        cls.pos = {n: data(n, 3, 0.0, 100.0) for n in SIZES}

    def test_dot(self):
        for n in SIZES:
            x, y = self.x[n], self.y[n]
            exact = math.fsum(a * b for a, b in zip(x, y))
            bound = gamma(n) * math.fsum(abs(a * b) for a, b in zip(x, y)) + 1e-300
            for t in THREADS:
                with self.subTest(n=n, threads=t):
                    self.assertLessEqual(abs(vecmath.dot(x, y, threads=t) - exact), bound)

    def test_norm_and_sum(self):
        for n in SIZES:
            x = self.x[n]
            ss = math.fsum(a * a for a in x)
            for t in THREADS:
                with self.subTest(n=n, threads=t):
                    self.assertLessEqual(abs(vecmath.norm(x, threads=t) ** 2 - ss),
                                         (gamma(n) + 4 * EPS) * ss + 1e-300)
                    s = vecmath.sum(x, threads=t)
                    self.assertLessEqual(abs(s - math.fsum(x)),
                                         gamma(n) * math.fsum(map(abs, x)) + 1e-300)

    def test_axpy(self):
        for n in SIZES:
            x, y = self.x[n], self.y[n]
            want = [2.5 * a + b for a, b in zip(x, y)]
            for t in THREADS:
                with self.subTest(n=n, threads=t):
                    out = array.array("d", bytes(8 * n))
                    self.assertIs(vecmath.axpy(2.5, x, y, out, threads=t), out)
                    # a*x + y may be fused into one rounding: within one ulp of the sum
                    for got, w in zip(out, want):
                        self.assertLessEqual(abs(got - w), 2 * EPS * abs(w) + 1e-300)
                    inplace = array.array("d", y)
                    self.assertIs(vecmath.axpy(2.5, x, inplace, threads=t), inplace)
                    self.assertEqual(inplace, out)

    def test_sincos_sqrt(self):
        for n in SIZES:
            x = self.pos[n]
            want = [math.sin(v) * math.cos(v) + math.sqrt(v) for v in x]
            for t in THREADS:
                with self.subTest(n=n, threads=t):
                    out = vecmath.sincos_sqrt(x, threads=t)
                    self.assertIsInstance(out, array.array)
                    self.assertEqual(len(out), n)
                    # libmvec's sin/cos are within 4 ulp; sqrt(x) dominates the magnitude
                    for got, w, v in zip(out, want, x):
                        self.assertLessEqual(abs(got - w), 16 * EPS * (1 + abs(w)), v)
                    inplace = array.array("d", x)
                    vecmath.sincos_sqrt(inplace, inplace, threads=t)
                    self.assertEqual(inplace, out)

    def test_memoryview_of_bytes(self):
        raw = bytearray(array.array("d", [1.0, 2.0, 3.0]).tobytes())
        self.assertEqual(vecmath.dot(memoryview(raw).cast("d"), memoryview(raw).cast("d")), 14.0)

    def test_threads_setting(self):
        old = vecmath.get_threads()
        try:
            vecmath.set_threads(3)
            self.assertEqual(vecmath.get_threads(), 3)
            with self.assertRaises(ValueError):
                vecmath.set_threads(0)
        finally:
            vecmath.set_threads(old)
        with self.assertRaises(ValueError):
            vecmath.dot(self.x[7], self.y[7], threads=0)


@unittest.skipIf(np is None, "NumPy is not installed for this interpreter")
class AgainstNumPy(unittest.TestCase):
    """Same arrays through NumPy and through vecmath."""

    N = 1_000_003

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(14)
        cls.x = rng.uniform(-1, 1, cls.N)
        cls.y = rng.uniform(-1, 1, cls.N)
        cls.pos = rng.uniform(0, 1000, cls.N)

    def test_reductions(self):
        x, y = self.x, self.y
        bound = gamma(self.N) * float(np.sum(np.abs(x * y)))
        for t in THREADS:
            self.assertLessEqual(abs(vecmath.dot(x, y, threads=t) - float(np.dot(x, y))), 2 * bound)
            self.assertAlmostEqual(vecmath.norm(x, threads=t), float(np.linalg.norm(x)),
                                   delta=2 * gamma(self.N) * float(np.linalg.norm(x)))

    def test_maps(self):
        out = np.empty_like(self.x)
        vecmath.axpy(-0.5, self.x, self.y, out)
        np.testing.assert_allclose(out, -0.5 * self.x + self.y, rtol=2 * EPS, atol=2 * EPS)
        vecmath.sincos_sqrt(self.pos, out)
        p = self.pos
        np.testing.assert_allclose(out, np.sin(p) * np.cos(p) + np.sqrt(p), rtol=16 * EPS, atol=16 * EPS)

    def test_multidimensional_c_contiguous(self):
        a = self.x[: 1000 * 1000].reshape(1000, 1000)
        self.assertAlmostEqual(vecmath.dot(a, a), float(np.dot(a.ravel(), a.ravel())),
                               delta=gamma(a.size) * float(np.sum(a * a)))


class BadBuffers(unittest.TestCase):
    """Every bad argument is a Python exception raised before anything is written."""

    def setUp(self):
        self.x = array.array("d", [1.0, 2.0, 3.0, 4.0])
        self.out = array.array("d", [9.0] * 4)

    def assert_untouched(self):
        self.assertEqual(list(self.out), [9.0] * 4)

    def test_not_a_buffer(self):
        for bad in ([1.0, 2.0, 3.0, 4.0], None, 3.0, "abcd"):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                vecmath.dot(bad, self.x)

    def test_wrong_dtype(self):
        bads = [array.array("f", [1, 2, 3, 4]), array.array("q", [1, 2, 3, 4]), b"x" * 32,
                memoryview(bytearray(32))]
        if np is not None:
            bads += [np.ones(4, np.float32), np.ones(4, np.int64), np.ones(4, ">f8"),
                     np.ones(4, np.complex128)]
        for bad in bads:
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(TypeError, "float64"):
                    vecmath.dot(bad, self.x)
                with self.assertRaisesRegex(TypeError, "float64"):
                    vecmath.sincos_sqrt(self.x, bad)

    def test_non_contiguous(self):
        strided = memoryview(array.array("d", [0.0] * 8))[::2]
        with self.assertRaisesRegex(ValueError, "contiguous"):
            vecmath.dot(strided, self.x)
        with self.assertRaisesRegex(ValueError, "contiguous"):
            vecmath.sincos_sqrt(self.x, strided)
        if np is not None:
            f = np.ones((4, 3), order="F")
            with self.assertRaisesRegex(ValueError, "contiguous"):
                vecmath.norm(f)
            with self.assertRaisesRegex(ValueError, "contiguous"):
                vecmath.norm(np.ones(8)[::2])

    def test_length_mismatch(self):
        short = array.array("d", [1.0] * 3)
        with self.assertRaisesRegex(ValueError, "length mismatch"):
            vecmath.dot(self.x, short)
        with self.assertRaisesRegex(ValueError, "length mismatch"):
            vecmath.axpy(1.0, self.x, short, self.out)
        with self.assertRaisesRegex(ValueError, "length mismatch"):
            vecmath.axpy(1.0, self.x, self.x, short)
        with self.assertRaisesRegex(ValueError, "length mismatch"):
            vecmath.sincos_sqrt(self.x, short)
        with self.assertRaisesRegex(ValueError, "length mismatch"):
            vecmath.sincos_sqrt_async(self.x, short)
        self.assert_untouched()

    def test_read_only_output(self):
        ro = memoryview(array.array("d", [0.0] * 4).tobytes()).cast("d")  # bytes: read-only
        with self.assertRaisesRegex(ValueError, "read-only"):
            vecmath.sincos_sqrt(self.x, ro)
        with self.assertRaisesRegex(ValueError, "read-only"):
            vecmath.axpy(1.0, self.x, ro)  # in place into a read-only y
        with self.assertRaisesRegex(ValueError, "read-only"):
            vecmath.sincos_sqrt_async(self.x, ro)
        vecmath.axpy(1.0, self.x, ro, self.out)  # a read-only y is fine with an out
        self.assertEqual(list(self.out), [1.0, 2.0, 3.0, 4.0])
        if np is not None:
            a = np.zeros(4)
            a.flags.writeable = False
            with self.assertRaisesRegex(ValueError, "read-only"):
                vecmath.sincos_sqrt(self.x, a)

    def test_partial_overlap(self):
        buf = array.array("d", [1.0] * 8)
        m = memoryview(buf)
        with self.assertRaisesRegex(ValueError, "overlaps"):
            vecmath.sincos_sqrt(m[0:4], m[2:6])
        with self.assertRaisesRegex(ValueError, "overlaps"):
            vecmath.axpy(1.0, m[0:4], m[4:8], m[1:5])
        self.assertEqual(list(buf), [1.0] * 8)

    def test_errors_leave_no_buffer_held(self):
        # A failed call must release what it acquired: a bytearray with an export
        # cannot be resized.
        raw = bytearray(32)
        with self.assertRaises(ValueError):
            vecmath.dot(memoryview(raw).cast("d"), array.array("d", [1.0]))
        gc.collect()
        raw.extend(b"\0" * 8)  # BufferError if an export were still alive
        self.assertEqual(len(raw), 40)


class Concurrency(unittest.TestCase):
    """Python threads calling vecmath at once share the pool and get their own results."""

    def test_threads_calling_at_once(self):
        n = 3 * CHUNK + 5
        inputs = [data(n, 10 + k, 0.0, 10.0) for k in range(4)]
        expected = [vecmath.sincos_sqrt(x, threads=1) for x in inputs]
        dots = [vecmath.dot(x, x, threads=1) for x in inputs]
        start = threading.Barrier(len(inputs))
        errors = []

        def work(k):
            try:
                start.wait(LONG)
                for _ in range(10):
                    out = vecmath.sincos_sqrt(inputs[k], threads=3)
                    if out != expected[k]:
                        errors.append(f"thread {k}: sincos_sqrt differs")
                    d = vecmath.dot(inputs[k], inputs[k], threads=3)
                    if abs(d - dots[k]) > gamma(n) * dots[k]:
                        errors.append(f"thread {k}: dot {d} != {dots[k]}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(LONG)
            self.assertFalse(t.is_alive(), "a caller hung")
        self.assertEqual(errors, [])


class Async(unittest.TestCase):
    """sincos_sqrt_async: the pool keeps working after the caller lost interest."""

    def test_job_result(self):
        x = data(3 * CHUNK, 5, 0.0, 4.0)
        out = array.array("d", bytes(8 * len(x)))
        job = vecmath.sincos_sqrt_async(x, out)
        self.assertTrue(job.wait(LONG))
        self.assertTrue(job.done())
        self.assertEqual(out, vecmath.sincos_sqrt(x))

    def test_job_keeps_its_arrays_alive(self):
        if np is None:
            self.skipTest("needs weak references to arrays (NumPy)")
        x = np.linspace(0.0, 4.0, 4 * CHUNK)
        out = np.empty_like(x)
        job = vecmath.sincos_sqrt_async(x, out)
        wx, wout = weakref.ref(x), weakref.ref(out)
        del x, out
        gc.collect()
        self.assertTrue(job.wait(LONG))
        gc.collect()
        self.assertIsNone(wx())  # released by the job once done
        self.assertIsNone(wout())


if __name__ == "__main__":
    unittest.main()
