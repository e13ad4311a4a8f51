// Seed 000, "Multiprocessing": count the words of a set of documents, sequentially, then
// map-reduce: split the list among n workers, count each chunk, merge the Counters. The seed
// scrapes eight Wikipedia pages into multiprocessing.Pool(4); this port counts a generated
// local corpus of eight documents on gilfree threads (a ThreadPoolExecutor's map), which share
// the documents instead of pickling Counters between processes.
//   word_count [words_per_doc=200000] [n=4]
// args: 20000 4
// expect: func:'scrape_all_and_merge' args:\[8 documents\] took
// expect: pool of 4: the same [0-9]+ words, [0-9]+ distinct
// requires: futures
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <gilfree/futures.hpp>

#include "seedkit.hpp"
#include "word_count.hpp"

// Counter, update, scrape_one, scrape_all_and_merge, split_chunk: word_count.hpp.
using namespace word_count;

// What my_timeit shows for a list of documents: "[8 documents]" rather than every path.
struct Docs {
  const std::vector<Path>& urls;
  friend std::ostream& operator<<(std::ostream& o, const Docs& d) {
    return o << d.urls.size() << " documents";
  }
};

int main(int argc, char** argv) {
  const int words_per_doc = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int n = argc > 2 ? std::atoi(argv[2]) : 4;
  seedkit::TempDir corpus("gilfree-wordcount-");
  seedkit::write_corpus(corpus.path(), 8, words_per_doc);
  std::vector<Path> urls;
  for (const auto& f : std::filesystem::directory_iterator(corpus.path())) urls.push_back(f.path());
  std::sort(urls.begin(), urls.end());

  Counter words = seedkit::my_timeit("scrape_all_and_merge", [](const Docs& d) {
    return scrape_all_and_merge(d.urls);
  })(Docs{urls});

  gilfree::ThreadPoolExecutor pool({.max_workers = n});
  auto split_urls = split_chunk(urls, n);
  Counter merged = seedkit::my_timeit("foo", [&] {
    Counter all;
    for (const Counter& c : pool.map(scrape_all_and_merge, split_urls)) update(all, c);
    return all;
  })();

  long total = 0;
  std::vector<std::pair<long, std::string>> common;
  for (const auto& [w, c] : merged) {
    total += c;
    common.emplace_back(-c, w);
  }
  std::partial_sort(common.begin(), common.begin() + 5, common.end());
  std::cout << "most common:";
  for (int i = 0; i < 5; ++i) std::cout << ' ' << common[i].second << ':' << -common[i].first;
  std::cout << '\n';
  seedkit::check(merged == words, "the map-reduce equals the sequential count");
  seedkit::check(total == 8L * words_per_doc, "every word counted once");
  std::cout << "pool of " << n << ": the same " << total << " words, " << merged.size()
            << " distinct\n";
}
