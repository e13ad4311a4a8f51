// Seed 000, "Multiprocessing": the word count's map and reduce steps. Shared by word_count.cpp
// (the seed's program) and the tour's "wordcount" experiment.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "seedkit.hpp"

namespace word_count {

using Counter = std::unordered_map<std::string, long>;
using Path = std::filesystem::path;

// Counter.update: adds `more`'s counts into `words`.
inline void update(Counter& words, const Counter& more) {
  for (const auto& [w, n] : more) words[w] += n;
}

// Counts one document's words, split on ' ' as the seed's p.text.split(' ').
inline Counter scrape_one(const Path& url) {
  Counter words;
  std::string text = seedkit::read_file(url);
  for (std::size_t start = 0;;) {  // words.update(p.text.split(' '))
    std::size_t sp = text.find(' ', start);
    ++words[text.substr(start, sp == std::string::npos ? sp : sp - start)];
    if (sp == std::string::npos) break;
    start = sp + 1;
  }
  return words;
}

// The map step: one Counter for all of `urls`.
inline Counter scrape_all_and_merge(const std::vector<Path>& urls) {
  Counter words;
  for (const auto& url : urls) update(words, scrape_one(url));
  return words;
}

// The map step for a worker process: the same, on paths given as strings (what crosses to a
// process must serialize; std::filesystem::path does not, with cereal).
inline Counter scrape_files(const std::vector<std::string>& urls) {
  return scrape_all_and_merge(std::vector<Path>(urls.begin(), urls.end()));
}

// Split l into a list of n lists (ceil-sized; the seed's slices would drop the tail).
template <class T>
std::vector<std::vector<T>> split_chunk(const std::vector<T>& l, std::size_t n) {
  std::size_t step = (l.size() + n - 1) / n;
  std::vector<std::vector<T>> out(n);
  for (std::size_t i = 0; i < l.size(); ++i) out[i / step].push_back(l[i]);
  return out;
}

}  // namespace word_count
