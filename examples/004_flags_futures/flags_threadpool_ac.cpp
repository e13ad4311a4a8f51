// Seed 004, flags_threadpool_ac.py: submit() each download to a ThreadPoolExecutor with
// max_workers=3, keep the Futures, and take the results with as_completed() — in the order
// they finish, not the order they were scheduled. (The seed downloads 5 flags here.)
//   flags_threadpool_ac [delay_ms=200]
// args: 20
// expect: Scheduled for BR: <Future at 0x[0-9a-f]+ state=(pending|running)
// expect: state=finished returned .+ result: 'US'
// expect: 5 flags downloaded in [0-9.]+s
// requires: futures
#include <algorithm>
#include <cstdio>
#include <vector>

#include <gilfree/futures.hpp>

#include "flag_server.hpp"
#include "flags_common.hpp"

std::string download_one(const flags::Site& site, const std::string& cc) {
  std::string image = flags::get_flag(site, cc);
  flags::save_flag(site, image, flags::lower(cc) + ".gif");
  return cc;
}

int main(int argc, char** argv) {
  int delay_ms = argc > 1 ? std::atoi(argv[1]) : 200;
  seedkit::FlagServer server({.delay = std::chrono::milliseconds(delay_ms)});
  seedkit::TempDir dest("gilfree-downloads-");
  flags::Site site{server.port(), "/data/flags", dest.path()};
  std::vector<std::string> cc_list = {"BR", "CN", "ID", "IN", "US"};

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> results;
  {
    gilfree::ThreadPoolExecutor executor({.max_workers = 3});
    std::vector<gilfree::Future<std::string>> to_do;
    for (const auto& cc : cc_list) {
      auto future = executor.submit(download_one, site, cc);  // 1
      to_do.push_back(future);                                 // 2
      std::printf("Scheduled for %s: %s\n", cc.c_str(), future.repr().c_str());
    }
    for (auto future : gilfree::as_completed(to_do)) {  // 3.1
      std::string res = future.result();                 // 3.2
      std::printf("%s result: '%s'\n", future.repr().c_str(), res.c_str());
      results.push_back(res);
    }
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%zu flags downloaded in %.2fs\n", results.size(), elapsed);
  std::sort(results.begin(), results.end());
  seedkit::check(results == cc_list, "each flag once");
}
