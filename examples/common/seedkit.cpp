#include "seedkit.hpp"

#include <unistd.h>

#include <array>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

namespace seedkit {

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_corpus(const std::filesystem::path& dir, int docs, int words_per_doc,
                  unsigned seed) {
  // A vocabulary with a few very common words and a long tail, like prose.
  static const std::array<const char*, 24> kStems = {
      "the", "of",     "and",     "to",     "a",      "in",       "is",     "thread",
      "lock", "queue", "process", "future", "worker", "deadlock", "python", "gil",
      "map", "reduce", "cluster", "kernel", "linux",  "license",  "diode",  "semaphore"};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::filesystem::create_directories(dir);
  for (int d = 0; d < docs; ++d) {
    std::string text;
    text.reserve(static_cast<size_t>(words_per_doc) * 8);
    for (int w = 0; w < words_per_doc; ++w) {
      // Zipf-ish rank in [0, 2400): stems, and stems with a numeric suffix for the tail.
      auto rank = static_cast<unsigned>(std::pow(2400.0, u(rng))) - 1;
      if (w) text += ' ';
      text += kStems[rank % kStems.size()];
      if (rank >= kStems.size()) text += std::to_string(rank / kStems.size());
    }
    char name[32];
    std::snprintf(name, sizeof name, "doc%02d.txt", d);
    std::ofstream(dir / name, std::ios::binary) << text;
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace seedkit
