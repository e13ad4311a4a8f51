# The peer of mpi_futures_bench.cpp: the same three measurements with mpi4py.futures.
# Run: mpirun -n 4 /usr/bin/python3 -m mpi4py.futures mpi4py_futures_bench.py [N] [M]
import statistics
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def square(x):
    return x * x


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    with MPIPoolExecutor() as ex:
        ex.submit(square, 1).result()
        t = time.perf_counter()
        fs = [ex.submit(square, i) for i in range(n)]
        s = sum(f.result() for f in fs)
        tiny = n / (time.perf_counter() - t)
        t = time.perf_counter()
        out = list(ex.map(square, range(m), chunksize=100))
        chunked = m / (time.perf_counter() - t)
        s += out[-1]
        rt = []
        for i in range(2000):
            t0 = time.perf_counter()
            s += ex.submit(square, i).result()
            rt.append((time.perf_counter() - t0) * 1e6)
        print(f"mpi4py.futures workers={ex._max_workers} tiny_unchunked_tasks_per_s={tiny:.0f} "
              f"map_chunk100_items_per_s={chunked:.0f} round_trip_median_us={statistics.median(rt):.1f} "
              f"(checksum {s})")


if __name__ == "__main__":
    main()
