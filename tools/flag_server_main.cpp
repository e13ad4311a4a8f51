// flag-server — seed 004's stand-in for flupy.org on its own, for running the flag
// downloaders (examples/004, tools/tour/python/flags.py) by hand.
//
//   flag-server [--delay-ms N] [--fail CC,...] [--error-rate R] [--seconds S]
//
// Prints BASE_URL, then serves until S seconds pass (default: until killed).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include <gilfree/threading.hpp>

#include "flag_server.hpp"

int main(int argc, char** argv) {
  seedkit::FlagServerOptions o;
  double seconds = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--delay-ms") o.delay = std::chrono::milliseconds(std::atoi(v.c_str()));
    else if (a == "--error-rate") o.error_rate = std::atof(v.c_str());
    else if (a == "--seconds") seconds = std::atof(v.c_str());
    else if (a == "--fail") {
      std::istringstream s(v);
      for (std::string cc; std::getline(s, cc, ',');) o.fail.insert(cc);
    } else {
      std::fprintf(stderr, "usage: flag-server [--delay-ms N] [--fail CC,...] [--error-rate R] "
                           "[--seconds S]\n");
      return 2;
    }
  }
  seedkit::FlagServer server(o);
  std::printf("%s\n", server.base_url().c_str());
  std::fflush(stdout);
  gilfree::Event forever;
  if (seconds < 0) forever.wait();
  else (void)forever.wait(seconds);  // never set: serves for `seconds`
  std::printf("served %zu requests, at most %zu at once\n", server.requests(),
              server.max_in_flight());
}
