// The I/O-flavoured experiments: the flag downloads (seed 004) against the local server, and
// the word count map-reduce (seed 000) over a generated corpus.
#include <algorithm>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include <gilfree/threading.hpp>
#if __has_include(<gilfree/futures.hpp>)
#include <gilfree/futures.hpp>
#define TOUR_HAVE_FUTURES 1
#endif

#include "000_concurrency_in_python/word_count.hpp"
#include "004_flags_futures/flags_common.hpp"
#include "flag_server.hpp"
#include "seedkit.hpp"
#include "tour.hpp"

namespace tour {

// ---- the flag downloads: seed 004 -----------------------------------------------------------

namespace flags {

// Site, get_flag, save_flag and lower are the seed's flags.py
// (examples/004_flags_futures/flags_common.hpp). The download loops below are the tour's own:
// the seed's loops print each code as it lands, which would break into the tour's table.
using ::flags::get_flag;
using ::flags::lower;
using ::flags::save_flag;
using ::flags::Site;

std::string download_one(const Site& site, const std::string& cc) {
  save_flag(site, get_flag(site, cc), lower(cc) + ".gif");
  return cc;
}

std::size_t download_many_seq(const Site& site, std::vector<std::string> cc_list) {
  std::sort(cc_list.begin(), cc_list.end());
  for (const auto& cc : cc_list) download_one(site, cc);
  return cc_list.size();
}

#ifdef TOUR_HAVE_FUTURES
std::size_t download_many_pool(const Site& site, std::vector<std::string> cc_list, int max_workers) {
  std::sort(cc_list.begin(), cc_list.end());
  int workers = std::min<int>(max_workers, static_cast<int>(cc_list.size()));
  gilfree::ThreadPoolExecutor executor({.max_workers = workers});
  auto res = executor.map([&](const std::string& cc) { return download_one(site, cc); }, cc_list);
  std::size_t n = 0;
  for (const auto& cc : res) n += !cc.empty();
  return n;
}
#endif

std::uintmax_t bytes_in(const std::filesystem::path& dir) {
  std::uintmax_t total = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) total += f.file_size();
  return total;
}

}  // namespace flags

Experiment run_flags(const Options& opt) {
  Experiment e{.key = "flags", .title = "flag downloads: sequential vs ThreadPoolExecutor",
               .seed = "seed 004"};
  const auto delay = std::chrono::milliseconds(opt.quick ? 5 : 50);
  const int workers = 20;
  const auto& cc_list = seedkit::POP20_CC;
  seedkit::FlagServer server({.delay = delay, .handler_threads = 32});
  e.gilfree_size = std::to_string(cc_list.size()) + " flags, " + std::to_string(delay.count()) +
                   " ms server delay, pool best of " + (opt.quick ? "1" : "3");
  e.cpython_size = std::to_string(cc_list.size()) + " flags, " + std::to_string(delay.count()) +
                   " ms server delay, one run";
  seedkit::TempDir dest("gilfree-flags-");
  flags::Site site{server.port(), "/data/flags", dest.path()};

  std::uintmax_t expected = 0;
  for (const auto& cc : cc_list) expected += seedkit::FlagServer::flag_bytes(cc).size();

  double t0 = now();
  std::size_t n = flags::download_many_seq(site, cc_list);
  double seq = now() - t0;
  e.ok = n == cc_list.size() && flags::bytes_in(dest.path()) == expected;
  PyRun py = run_python(opt, "flags.py", [&] {
    std::vector<std::string> a = {server.base_url(), std::to_string(workers)};
    a.insert(a.end(), cc_list.begin(), cc_list.end());
    return a;
  }());
  e.rows.push_back({"sequential", secs(seq), py_cell(py, "sequential")});
#ifdef TOUR_HAVE_FUTURES
  // The pool run is short (about one delay): best of 3, so one slow TCP exchange on a busy
  // machine does not decide the row.
  double pool = best_of(opt.quick ? 1 : 3, [&] {
    std::filesystem::remove_all(dest.path());
    std::filesystem::create_directories(dest.path());
    n = flags::download_many_pool(site, cc_list, workers);
    e.ok = e.ok && n == cc_list.size() && flags::bytes_in(dest.path()) == expected;
  });
  e.rows.push_back({"pool of " + std::to_string(workers) + " threads", secs(pool), py_cell(py, "pool")});
#endif
  if (py.ran) e.ok = e.ok && py.number("flags") == double(cc_list.size()) &&
                     py.number("bytes") == double(expected);
  e.notes.push_back(std::to_string(cc_list.size()) + " flags, " + std::to_string(expected) +
                    " bytes each way; the server answered " + std::to_string(server.requests()) +
                    " requests, at most " + std::to_string(server.max_in_flight()) + " at once");
  std::string lesson = "I/O-bound: threads help both sides (CPython releases the GIL while it waits) — ";
  if (e.rows.size() > 1) {
    if (py.ran && e.rows[0].cpython.seconds && e.rows[1].cpython.seconds)
      lesson += "CPython pool " + ratio(*e.rows[0].cpython.seconds / *e.rows[1].cpython.seconds) + ", ";
    lesson += "gilfree pool " + ratio(seq / *e.rows[1].gilfree.seconds);
  }
  e.lesson = lesson;
  return e;
}

// ---- word count map-reduce: seed 000 -------------------------------------------------------

// word_count:: is the seed program's own code (examples/000_concurrency_in_python/
// word_count.hpp): the tour times its map step alone and on a pool.
Experiment run_wordcount(const Options& opt) {
  Experiment e{.key = "wordcount",
               .title = "word count map-reduce: sequential vs threads vs processes",
               .seed = "seed 000"};
  const int docs = opt.quick ? 4 : 8;  // the seed's eight pages
  const int words_per_doc = opt.quick ? 5'000 : 750'000;  // parallel variants >= 0.5 s
  const int n = static_cast<int>(opt.cores);
  const int repeats = opt.quick ? 1 : 3;
  e.gilfree_size = std::to_string(docs) + " documents × " + std::to_string(words_per_doc) +
                   " words, best of " + std::to_string(repeats);
  e.cpython_size = std::to_string(docs) + " documents × " + std::to_string(words_per_doc) +
                   " words, one run";
  seedkit::TempDir corpus("gilfree-corpus-");
  seedkit::write_corpus(corpus.path(), docs, words_per_doc);
  std::vector<std::filesystem::path> urls;
  for (const auto& f : std::filesystem::directory_iterator(corpus.path())) urls.push_back(f.path());
  std::sort(urls.begin(), urls.end());

  word_count::Counter words, pooled;
  std::vector<std::function<void()>> variants = {
      [&] { words = word_count::scrape_all_and_merge(urls); }};
#ifdef TOUR_HAVE_FUTURES
  variants.push_back([&] {
    gilfree::ThreadPoolExecutor executor({.max_workers = n});
    word_count::Counter merged;
    auto chunks = word_count::split_chunk(urls, n);
    for (const auto& c : executor.map(word_count::scrape_all_and_merge, chunks))
      word_count::update(merged, c);
    pooled = std::move(merged);
  });
#endif
  // The same map-reduce on a process Pool (exp_processes.cpp), interleaved too.
  word_count::Counter on_processes;
  ProcessVariant procs =
      wordcount_on_processes(n, std::vector<std::string>(urls.begin(), urls.end()), on_processes);
  if (procs.run) variants.push_back(procs.run);
  auto best = best_interleaved(repeats, variants);
  double seq = best[0];
  long total = 0;
  std::pair<std::string, long> top{"", 0};
  for (const auto& [w, c] : words) {
    total += c;
    if (c > top.second || (c == top.second && w < top.first)) top = {w, c};
  }
  PyRun py = run_python(opt, "wordcount.py", {corpus.path().string(), std::to_string(n)});
  e.rows.push_back({"sequential", secs(seq), py_cell(py, "sequential")});
#ifdef TOUR_HAVE_FUTURES
  double pool = best[1];
  e.ok = pooled == words;
  e.rows.push_back({"pool of " + std::to_string(n) + " threads", secs(pool), note("—")});
#endif
  e.rows.push_back({"Pool(" + std::to_string(n) + ") processes",
                    procs.run ? secs(best.back(), "mp::Pool") : note("(no mp::Pool)"),
                    py_cell(py, "processes")});
  if (procs.run) e.ok = e.ok && on_processes == words;
  std::string top_text = top.first + ":" + std::to_string(top.second);
  if (py.ran)
    e.ok = e.ok && py.number("words") == double(total) &&
           py.number("distinct") == double(words.size()) && py.text("top") == top_text;
  e.notes.push_back(std::to_string(total) + " words, " + std::to_string(words.size()) +
                    " distinct, most common " + top_text +
                    (py.ran ? std::string(" — CPython counted ") + (e.ok ? "the same" : "DIFFERENTLY")
                            : std::string()));
  std::string lesson;
  if (e.rows.size() > 2) {
    if (py.ran && e.rows[0].cpython.seconds && e.rows.back().cpython.seconds)
      lesson += "CPython needs processes (" +
                ratio(*e.rows[0].cpython.seconds / *e.rows.back().cpython.seconds) +
                ", Counters pickled back); ";
    lesson += "gilfree threads share the corpus: " + ratio(seq / *e.rows[1].gilfree.seconds);
  }
  if (procs.run) {
    lesson += ", gilfree processes: " + ratio(seq / best.back()) + " (Counters serialized back). " +
              processes_worth(e.rows[1].gilfree.seconds.value_or(seq), best.back(),
                              procs.startup_seconds);
    e.figures["gilfree_processes_startup"] = procs.startup_seconds;
  }
  if (py.ran && e.rows[0].cpython.seconds)
    lesson += "; sequentially gilfree is " + ratio(*e.rows[0].cpython.seconds / seq) + " faster";
  e.lesson = lesson;
  return e;
}

}  // namespace tour
