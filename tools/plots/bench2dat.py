"""Turns Google Benchmark JSON (bench_queue, bench_futures) and the CPython scripts' lines
into the gnuplot tables bench.gp draws: queue.dat (M items/s per peer, 1P/1C and 2P/2C)
and pool.dat (M tasks/s per peer, 1,000,000 empty tasks)."""
import json
import re
import sys
from pathlib import Path

d = Path(sys.argv[1])


def rates(path):
    """{benchmark name: items per second} from a Google Benchmark JSON file."""
    out = {}
    for b in json.loads((d / path).read_text())["benchmarks"]:
        if "items_per_second" in b:
            out[b["name"]] = b["items_per_second"]
    return out


queue = rates("queue.json")
cpy_q = {}
for m in re.finditer(r"cpython/P:(\d)/C:\d\s+([\d.]+) M items/s", (d / "cpython_queue.txt").read_text()):
    cpy_q[m.group(1)] = float(m.group(2)) * 1e6
with open(d / "queue.dat", "w") as f:
    f.write("# peer  1P/1C  2P/2C   (M items/s)\n")
    for peer in ["gilfree", "moodycamel", "tbb", "textbook", "atomic_queue"]:
        one = next((v for k, v in queue.items() if k.startswith(peer + "/P:1/")), None)
        two = next((v for k, v in queue.items() if k.startswith(peer + "/P:2/")), None)
        f.write(f"{peer} {one / 1e6 if one else '-'} {two / 1e6 if two else '-'}\n")
    f.write(f"CPython {cpy_q.get('1', 0) / 1e6 or '-'} {cpy_q.get('2', 0) / 1e6 or '-'}\n")

pool = rates("pool.json")
names = {"gilfree": "gilfree", "tbb": "tbb::task_group", "asio": "asio", "textbook": "textbook"}
m = re.search(r"empty tasks submit\+wait.*?([\d.]+) k/s", (d / "cpython_futures.txt").read_text())
with open(d / "pool.dat", "w") as f:
    f.write("# peer  M tasks/s (1,000,000 empty tasks, 2 workers)\n")
    for key, label in names.items():
        v = next((v for k, v in pool.items() if f"EmptyTasks_{key}" in k), None)
        f.write(f'"{label}" {v / 1e6 if v else "-"}\n')
    f.write(f'"CPython" {float(m.group(1)) / 1e3 if m else "-"}\n')
