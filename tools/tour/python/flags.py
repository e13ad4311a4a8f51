"""The flag downloads from seed 004 (Fluent Python ch. 17), against gilfree-tour's local server.

    python3 flags.py BASE_URL [workers] [CC ...]

BASE_URL is e.g. http://127.0.0.1:PORT/data/flags; the server sleeps a configurable delay
per request, standing in for the network. Sequential download_many, then
ThreadPoolExecutor.map: threads do help CPython here, because waiting on a socket
releases the GIL.
"""
import os
import sys
import tempfile
import urllib.request
from concurrent import futures

from _tour import result, timed

POP20_CC = ('CN IN US ID BR PK NG BD RU JP MX PH VN ET EG DE IR TR CD FR').split()
DEST_DIR = tempfile.mkdtemp(prefix="gilfree-flags-py-")


def get_flag(base_url, cc):
    url = '{}/{cc}/{cc}.gif'.format(base_url, cc=cc.lower())
    with urllib.request.urlopen(url) as resp:
        return resp.read()


def save_flag(img, filename):
    path = os.path.join(DEST_DIR, filename)
    with open(path, 'wb') as fp:
        fp.write(img)


def download_one(base_url, cc):
    image = get_flag(base_url, cc)
    save_flag(image, cc.lower() + '.gif')
    return cc


def download_many_seq(base_url, cc_list):
    for cc in sorted(cc_list):
        download_one(base_url, cc)
    return len(cc_list)


def download_many_pool(base_url, cc_list, max_workers):
    workers = min(max_workers, len(cc_list))
    with futures.ThreadPoolExecutor(workers) as executor:
        res = executor.map(lambda cc: download_one(base_url, cc), sorted(cc_list))
    return len(list(res))


if __name__ == "__main__":
    base_url = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    cc_list = sys.argv[3:] or POP20_CC
    n, seq = timed(download_many_seq, base_url, cc_list)
    print(f"{n} flags downloaded in {seq:.2f}s (sequential)")
    n2, pool = timed(download_many_pool, base_url, cc_list, workers)
    print(f"{n2} flags downloaded in {pool:.2f}s (ThreadPoolExecutor, {workers} workers)")
    result("flags", n)
    result("sequential", seq)
    result("pool", pool)
    result("bytes", sum(os.path.getsize(os.path.join(DEST_DIR, f)) for f in os.listdir(DEST_DIR)))
    for f in os.listdir(DEST_DIR):
        os.remove(os.path.join(DEST_DIR, f))
    os.rmdir(DEST_DIR)
