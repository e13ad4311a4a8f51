// Seed 000, "Multiprocessing": the word count's map-reduce on multiprocessing.Pool(n) —
// split the documents among n worker processes (split_chunk), count each chunk
// (scrape_all_and_merge), merge the Counters in the parent. The seed scrapes eight Wikipedia
// pages; this port counts the generated local corpus that word_count.cpp (the same map-reduce
// on threads) counts, with word_count.hpp's code. Each worker's Counter comes back serialized
// (cereal), as CPython's comes back pickled.
//   word_count_processes [words_per_doc=200000] [n=4]
// args: 20000 4
// expect: func:'scrape_all_and_merge' args:\[8 documents\] took
// expect: func:'foo' args:\[Pool\(4\)\] took
// expect: Pool\(4\) processes: the same [0-9]+ words, [0-9]+ distinct
// requires: multiprocessing/pool: class Pool 
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <cereal/types/unordered_map.hpp>  // a Counter crosses back from a worker
#include <gilfree/multiprocessing/pool.hpp>

#include "seedkit.hpp"
#include "word_count.hpp"

// Counter, update, scrape_all_and_merge, scrape_files, split_chunk: word_count.hpp.
using namespace word_count;

// What my_timeit shows: "[8 documents]", "[Pool(4)]".
struct Shown {
  std::string text;
  friend std::ostream& operator<<(std::ostream& o, const Shown& s) { return o << s.text; }
};

int main(int argc, char** argv) {
  const int words_per_doc = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int n = argc > 2 ? std::atoi(argv[2]) : 4;
  seedkit::TempDir corpus("gilfree-wordcount-");
  seedkit::write_corpus(corpus.path(), 8, words_per_doc);
  std::vector<std::string> urls;
  for (const auto& f : std::filesystem::directory_iterator(corpus.path())) urls.push_back(f.path());
  std::sort(urls.begin(), urls.end());

  Counter words = seedkit::my_timeit("scrape_all_and_merge", [&](const Shown&) {
    return scrape_files(urls);
  })(Shown{std::to_string(urls.size()) + " documents"});

  gilfree::mp::Pool pool(n);  // pool = multiprocessing.Pool(n)
  auto split_urls = split_chunk(urls, n);

  Counter merged = seedkit::my_timeit("foo", [&](const Shown&) {
    Counter all;
    for (const Counter& c : pool.map(scrape_files, split_urls)) update(all, c);
    return all;
  })(Shown{"Pool(" + std::to_string(n) + ")"});
  pool.close();
  pool.join();

  long total = 0;
  for (const auto& [w, c] : merged) total += c;
  seedkit::check(merged == words, "the map-reduce equals the sequential count");
  seedkit::check(total == 8L * words_per_doc, "every word counted once");
  std::cout << "Pool(" << n << ") processes: the same " << total << " words, " << merged.size()
            << " distinct\n";
}
