// Seed 004, flags.py: download the flags of the 20 most populous countries one after the
// other. Each request waits for the (local, simulated) network: 20 × the delay.
//   flags [delay_ms=200]
// args: 20
// expect: BD BR CD CN DE EG ET FR ID IN IR JP MX NG PH PK RU TR US VN
// expect: 20 flags downloaded in [0-9.]+s
#include <algorithm>

#include "flags_common.hpp"

std::size_t download_many(const flags::Site& site, std::vector<std::string> cc_list) {
  std::sort(cc_list.begin(), cc_list.end());
  for (const auto& cc : cc_list) {
    std::string image = flags::get_flag(site, cc);
    flags::show(cc);
    flags::save_flag(site, image, flags::lower(cc) + ".gif");
  }
  return cc_list.size();
}

int main(int argc, char** argv) {
  return flags::main(download_many, argc > 1 ? std::atoi(argv[1]) : 200);
}
