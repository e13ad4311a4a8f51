// Seed 004, flags2_threadpool.py: search all two-letter codes from AA to CZ (78; 43 are
// countries the server knows), with at most `concur_req` downloads at once, a progress bar
// over as_completed, and flags2's error handling: a 404 is counted as "not found"; any other
// HTTP error (the server is told to answer 500 for some codes) or connection error is
// counted as an error and reported, and the run goes on.
//   flags2_threadpool [-v] [concur_req=30] [delay_ms=100]
// args: -v 10 10
// expect: Searching for 78 flags: from AA to CZ
// expect: 10 concurrent connections will be used
// expect: AA not found
// expect: BR error: 500 for url
// expect: 40 flags downloaded\.
// expect: 35 not found\.
// expect: 3 errors\.
// requires: futures
#include <cstring>
#include <map>
#include <unordered_map>
#include <mutex>

#include <gilfree/futures.hpp>
#include <gilfree/progress.hpp>
#include <gilfree/threading.hpp>

#include "flags_common.hpp"

enum class HTTPStatus { ok, not_found, error };

struct Result {  // Result = namedtuple('Result', 'status data')
  HTTPStatus status;
  std::string data;
};

gilfree::Lock print_lock;

Result download_one(const std::string& cc, const flags::Site& site, bool verbose) {
  HTTPStatus status;
  std::string msg;
  try {
    std::string image = flags::get_flag(site, cc);
    flags::save_flag(site, image, flags::lower(cc) + ".gif");
    status = HTTPStatus::ok;
    msg = "OK";
  } catch (const flags::HTTPError& exc) {
    if (exc.status != 404) throw;  // anything but "404 not found" is an error for the caller
    status = HTTPStatus::not_found;
    msg = "not found";
  }
  if (verbose) {
    std::scoped_lock with(print_lock);
    std::cout << cc << ' ' << msg << '\n';
  }
  return {status, cc};
}

std::map<HTTPStatus, int> download_many(const std::vector<std::string>& cc_list,
                                        const flags::Site& site, bool verbose, int concur_req) {
  std::map<HTTPStatus, int> counter;
  gilfree::ThreadPoolExecutor executor({.max_workers = concur_req});
  std::unordered_map<gilfree::AnyFuture, std::string> to_do_map;
  std::vector<gilfree::Future<Result>> to_do;
  for (const auto& cc : cc_list) {
    auto future = executor.submit(download_one, cc, site, verbose);
    to_do_map[future] = cc;
    to_do.push_back(future);
  }
  auto done_iter = gilfree::as_completed(to_do);
  auto bar = gilfree::progress(std::move(done_iter), {.total = cc_list.size()});  // tqdm
  for (const gilfree::AnyFuture& future : bar) {
    HTTPStatus status;
    std::string error_msg;
    try {
      status = future.as<Result>().result().status;
    } catch (const flags::HTTPError& exc) {
      error_msg = exc.what();  // "500 for url: ..."
      status = HTTPStatus::error;
    } catch (const flags::ConnectionError& exc) {
      error_msg = std::string("Connection error: ") + exc.what();
      status = HTTPStatus::error;
    }
    if (!error_msg.empty()) {
      std::scoped_lock with(print_lock);
      std::cout << to_do_map[future] << " error: " << error_msg << '\n';
    }
    ++counter[status];
  }
  return counter;
}

int main(int argc, char** argv) {
  bool verbose = argc > 1 && std::strcmp(argv[1], "-v") == 0;
  int arg = verbose ? 2 : 1;
  int concur_req = argc > arg ? std::atoi(argv[arg]) : 30;
  int delay_ms = argc > arg + 1 ? std::atoi(argv[arg + 1]) : 100;

  // Three known codes answer 500, as a flaky server would.
  seedkit::FlagServer server({.delay = std::chrono::milliseconds(delay_ms), .fail = {"BR", "CA", "AR"}});
  seedkit::TempDir dest("gilfree-downloads-");
  flags::Site site{server.port(), "/data/flags", dest.path()};
  std::vector<std::string> cc_list;
  for (char a : {'A', 'B', 'C'})
    for (char b = 'A'; b <= 'Z'; ++b) cc_list.push_back(std::string{a, b});

  std::cout << "LOCAL site: " << server.base_url() << '\n'
            << "Searching for " << cc_list.size() << " flags: from " << cc_list.front() << " to "
            << cc_list.back() << '\n'
            << concur_req << " concurrent connections will be used.\n";
  auto t0 = std::chrono::steady_clock::now();
  auto counter = download_many(cc_list, site, verbose, concur_req);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "-----\n"
            << counter[HTTPStatus::ok] << " flags downloaded.\n"
            << counter[HTTPStatus::not_found] << " not found.\n"
            << counter[HTTPStatus::error] << " errors.\n";
  std::printf("Elapsed time: %.2fs\n", elapsed);
  seedkit::check(counter[HTTPStatus::ok] == 40 && counter[HTTPStatus::not_found] == 35 &&
                     counter[HTTPStatus::error] == 3,
                 "43 countries among AA..CZ, 3 of them failing with 500");
  seedkit::check(server.max_in_flight() <= std::size_t(concur_req), "the concurrency limit held");
}
