// Seed 004, flags_threadpool.py: the same downloads with ThreadPoolExecutor.map — at most
// MAX_WORKERS (20) threads, one download_one per country code. 20 waits overlap: the whole
// run takes about one delay instead of twenty.
//   flags_threadpool [delay_ms=200]
// args: 20
// expect: 20 flags downloaded in [0-9.]+s
// requires: futures
#include <algorithm>

#include <gilfree/futures.hpp>

#include "flags_common.hpp"

const int MAX_WORKERS = 20;

std::string download_one(const flags::Site& site, const std::string& cc) {
  std::string image = flags::get_flag(site, cc);
  flags::show(cc);
  flags::save_flag(site, image, flags::lower(cc) + ".gif");
  return cc;
}

std::size_t download_many(const flags::Site& site, std::vector<std::string> cc_list) {
  std::sort(cc_list.begin(), cc_list.end());
  int workers = std::min<int>(MAX_WORKERS, static_cast<int>(cc_list.size()));  // 1
  std::size_t n = 0;
  {
    gilfree::ThreadPoolExecutor executor({.max_workers = workers});  // 2
    auto res = executor.map([&](const std::string& cc) { return download_one(site, cc); },
                            cc_list);  // 3: results in order, as they come
    for (const std::string& cc : res) n += !cc.empty();  // len(list(res))
  }  // the `with` block's end: executor.shutdown(wait=True)
  return n;
}

int main(int argc, char** argv) {
  return flags::main(download_many, argc > 1 ? std::atoi(argv[1]) : 200);
}
