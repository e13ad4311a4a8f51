// What the flag-download programs of seed 004 share (the seed's flags.py, which the others
// import): get_flag, save_flag, show, and main(), which here also starts the local server
// that stands in for flupy.org — each request waits `delay` ms, as the network would.
#pragma once

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "flag_server.hpp"
#include "seedkit.hpp"

namespace flags {

using seedkit::POP20_CC;

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// requests' HTTPError: a response whose status is not 200.
struct HTTPError : std::runtime_error {
  HTTPError(int status, const std::string& url)
      : std::runtime_error(std::to_string(status) + " for url: " + url), status(status) {}
  int status;
};
// requests' ConnectionError: no response at all.
struct ConnectionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// BASE_URL is http://127.0.0.1:PORT/data/flags; the client needs the port and the path.
struct Site {
  int port = 0;
  std::string path = "/data/flags";
  std::filesystem::path dest_dir;  // DEST_DIR = 'downloads/', a temporary directory here
};

inline std::string get_flag(const Site& site, const std::string& cc) {
  std::string url = site.path + "/" + lower(cc) + "/" + lower(cc) + ".gif";
  httplib::Client client("127.0.0.1", site.port);
  auto resp = client.Get(url);  // resp = requests.get(url)
  if (!resp) throw ConnectionError("no answer for " + url);
  if (resp->status != 200) throw HTTPError(resp->status, url);  // resp.raise_for_status()
  return resp->body;
}

inline void save_flag(const Site& site, const std::string& img, const std::string& filename) {
  std::ofstream(site.dest_dir / filename, std::ios::binary) << img;
}

inline void show(const std::string& text) { std::cout << text << ' ' << std::flush; }

// The seed's main(download_many): run it against a fresh local server, time it, and check
// that every flag landed in DEST_DIR with the right bytes.
inline int main(const std::function<std::size_t(const Site&, const std::vector<std::string>&)>&
                    download_many,
                int delay_ms) {
  seedkit::FlagServer server({.delay = std::chrono::milliseconds(delay_ms)});
  seedkit::TempDir dest("gilfree-downloads-");
  Site site{server.port(), "/data/flags", dest.path()};
  auto t0 = std::chrono::steady_clock::now();
  std::size_t count = download_many(site, POP20_CC);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%zu flags downloaded in %.2fs\n", count, elapsed);
  for (const auto& cc : POP20_CC)
    seedkit::check(seedkit::read_file(dest.path() / (lower(cc) + ".gif")) ==
                       seedkit::FlagServer::flag_bytes(cc),
                   "flag " + cc + " saved intact");
  seedkit::check(count == POP20_CC.size(), "20 flags");
  return 0;
}

}  // namespace flags
