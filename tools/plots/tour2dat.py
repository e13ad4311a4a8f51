#!/usr/bin/env python3
"""Turns gilfree-tour's --json output into the whitespace tables tour.gp plots.

    python3 tour2dat.py TOUR.json OUTDIR

Writes OUTDIR/speedup.dat (per experiment: the best speed-up of gilfree's parallel rows, of
CPython's thread rows and of CPython's process rows; "-" where a side has none),
OUTDIR/sequential.dat (each side's sequential seconds, for the experiments both sides ran
at the same size) and
OUTDIR/integrate.dat (thread count -> speed-up for the integration) and, for a --scaling
run, OUTDIR/scale_integrate.dat and OUTDIR/scale_fib.dat (k -> the three speed-ups).
"""
import json
import os
import sys


def best(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def same_work(size):
    """The size without the "best of 3" / "one run" remark."""
    return size.split(",")[0].split(" (")[0].strip()


def fmt(v):
    return "-" if v is None else f"{v:.4g}"


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tour = json.load(open(src))
    with open(os.path.join(out, "speedup.dat"), "w") as f:
        f.write("# experiment gilfree_threads cpython_threads cpython_processes gilfree_processes\n")
        for e in tour["experiments"]:
            rows = e["rows"][1:]
            if not rows or e["key"].startswith("scale_"):
                continue
            is_proc = [("process" in r["variant"] or r["cpython_text"] == "processes") for r in rows]
            g = best(r["gilfree_speedup"] for r, p in zip(rows, is_proc) if not p)
            gp = best(r["gilfree_speedup"] for r, p in zip(rows, is_proc) if p)
            pt = best(r["cpython_speedup"] for r, p in zip(rows, is_proc) if not p)
            pp = best(r["cpython_speedup"] for r, p in zip(rows, is_proc) if p)
            if g is None and pt is None and pp is None and gp is None:
                continue
            f.write(f"{e['key']} {fmt(g)} {fmt(pt)} {fmt(pp)} {fmt(gp)}\n")
    with open(os.path.join(out, "sequential.dat"), "w") as f:
        f.write("# experiment gilfree_seconds cpython_seconds\n")
        for e in tour["experiments"]:
            if not e["rows"] or e["rows"][0]["variant"] != "sequential" or e["key"].startswith("scale_"):
                continue
            if same_work(e["gilfree_size"]) != same_work(e["cpython_size"]):
                continue  # each side ran its own size: times do not compare
            r = e["rows"][0]
            f.write(f"{e['key']} {fmt(r['gilfree_seconds'])} {fmt(r['cpython_seconds'])}\n")
    with open(os.path.join(out, "integrate.dat"), "w") as f:
        f.write("# threads gilfree_speedup cpython_threads_speedup\n")
        for e in tour["experiments"]:
            if e["key"] != "integrate":
                continue
            for r in e["rows"]:
                v = r["variant"]
                if v.endswith("thread") or v.endswith("threads"):
                    f.write(f"{v.split()[0]} {fmt(r['gilfree_speedup'])} {fmt(r['cpython_speedup'])}\n")

    # --scaling runs: k -> speed-up of gilfree threads, CPython threads, CPython processes.
    for e in tour["experiments"]:
        if not e["key"].startswith("scale_"):
            continue
        by_k = {}
        for r in e["rows"][1:]:
            k, kind = r["variant"].split()
            col = by_k.setdefault(int(k), [None, None, None, None])
            if kind.startswith("thread"):
                col[0], col[1] = r["gilfree_speedup"], r["cpython_speedup"]
            else:
                col[2], col[3] = r["cpython_speedup"], r["gilfree_speedup"]
        with open(os.path.join(out, e["key"] + ".dat"), "w") as f:
            f.write("# k gilfree_threads cpython_threads cpython_processes gilfree_processes\n")
            for k in sorted(by_k):
                f.write(f"{k} " + " ".join(fmt(v) for v in by_k[k]) + "\n")


if __name__ == "__main__":
    main()
