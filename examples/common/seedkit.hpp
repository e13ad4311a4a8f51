// seedkit — the small helpers the seed programs lean on, shared by examples/ and the tour.
//
// Nothing here is concurrency machinery (that is gilfree's); these are the seeds' stage
// props: my_timeit, a self-check that fails the smoke test, a deterministic word corpus,
// and the stand-in for the network (flag_server.hpp).
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

namespace seedkit {

// Prints "CHECK FAILED: what" and exits with status 1 unless `ok`. The smoke tests look for
// both the status and the text, so a broken invariant cannot pass as a clean run.
inline void check(bool ok, const std::string& what) {
  if (ok) return;
  std::cout << std::flush;
  std::fprintf(stderr, "CHECK FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::exit(1);
}

// Seconds since an arbitrary steady origin; differences time things.
inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The seeds' my_timeit decorator: wraps `f` so that each call prints
// "func:'NAME' args:[a, b] took: 0.1234 sec" and returns f's result.
template <class F>
auto my_timeit(std::string name, F f) {
  return [name = std::move(name), f = std::move(f)](auto&&... args) {
    std::ostringstream shown;
    [[maybe_unused]] const char* sep = "";  // unused when f takes no arguments
    ((shown << sep << args, sep = ", "), ...);
    double ts = now();
    auto finish = [&] {
      char took[32];
      std::snprintf(took, sizeof took, "%2.4f", now() - ts);
      std::cout << "func:'" << name << "' args:[" << shown.str() << "] took: " << took
                << " sec\n";
    };
    if constexpr (std::is_void_v<decltype(f(args...))>) {
      f(args...);
      finish();
    } else {
      auto result = f(args...);
      finish();
      return result;
    }
  };
}

// A scratch directory under the system temp dir, removed with everything in it on
// destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `docs` documents of `words_per_doc` words each (a Zipf-like draw from a fixed
// vocabulary, single spaces, no newline) into `dir` as doc00.txt, doc01.txt, ...; the same
// arguments always give the same bytes, so the C++ and CPython sides count the same text.
void write_corpus(const std::filesystem::path& dir, int docs, int words_per_doc,
                  unsigned seed = 1);

// The contents of a file.
std::string read_file(const std::filesystem::path& path);

}  // namespace seedkit
