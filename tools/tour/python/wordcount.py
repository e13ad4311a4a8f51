"""Word count map-reduce from seed 000, over gilfree-tour's local corpus instead of Wikipedia.

    python3 wordcount.py CORPUS_DIR [processes]

scrape_one counts the words of one document (split on ' ', as the seed does);
scrape_all_and_merge folds a list of documents; the pool version maps chunks of the list
over multiprocessing.Pool(n) and merges the Counters.
"""
import multiprocessing
import os
import sys
from collections import Counter

from _tour import result, timed


def scrape_one(path):
    words = Counter()
    with open(path, encoding="ascii") as f:
        words.update(f.read().split(' '))
    return words


def scrape_all_and_merge(urls):
    words = Counter()
    for url in urls:
        words.update(scrape_one(url))
    return words


def split_chunk(l, n):
    # Split l into n lists. (The seed's slices drop the tail when n does not divide len(l).)
    step = -(-len(l) // n)
    return [l[i * step:(i + 1) * step] for i in range(n)]


def pool_count(pool, urls, n):
    words = Counter()
    for c in pool.map(scrape_all_and_merge, split_chunk(urls, n)):
        words.update(c)
    return words


if __name__ == "__main__":
    corpus = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    urls = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
    words, seq = timed(scrape_all_and_merge, urls)
    print(f"{len(urls)} documents, {sum(words.values())} words, {len(words)} distinct, "
          f"sequential {seq:.3f}s; most common: {words.most_common(3)}")
    with multiprocessing.Pool(n) as pool:
        words2, prc = timed(pool_count, pool, urls, n)
    assert words2 == words
    print(f"Pool({n}): {prc:.3f}s")
    top, top_count = words.most_common(1)[0]
    result("documents", len(urls))
    result("words", sum(words.values()))
    result("distinct", len(words))
    result("top", f"{top}:{top_count}")
    result("sequential", seq)
    result("processes", prc)
