"""Shared by the CPython side of gilfree-tour: argument parsing and the result protocol.

Each experiment script prints what the seed program printed, then one line per figure:
    RESULT <key> <value>
which gilfree-tour reads. Run any script by hand to see the seed program at work.
"""
import sys
import time


def result(key, value):
    """Report one figure to gilfree-tour (and to a human reading along)."""
    print(f"RESULT {key} {value}", flush=True)


def timed(f, *args, **kw):
    """Run f(*args, **kw) and return (result, seconds), the seeds' my_timeit without the print."""
    ts = time.perf_counter()
    r = f(*args, **kw)
    return r, time.perf_counter() - ts


def arg(i, default, conv=int):
    """Positional command-line argument i (1-based), or default."""
    return conv(sys.argv[i]) if len(sys.argv) > i else default
