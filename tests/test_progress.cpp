// Tests for gilfree/progress.hpp: the bar is drawn in place on a terminal (checked through
// a pseudo-terminal), rate-limited, and reduced to one summary line elsewhere.
#include "gilfree/progress.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "gilfree/futures.hpp"
#include "gilfree/futures/process.hpp"
#include "gilfree/multiprocessing/pool.hpp"

using namespace std::chrono_literals;

namespace {

// A pseudo-terminal pair; everything written to slave() can be read back from the master.
class Pty {
 public:
  Pty() {
    termios t{};
    cfmakeraw(&t);  // no newline translation: we read exactly what was written
    if (openpty(&master_, &slave_, nullptr, &t, nullptr) != 0) throw std::runtime_error("openpty");
    fcntl(master_, F_SETFL, fcntl(master_, F_GETFL) | O_NONBLOCK);
  }
  ~Pty() {
    ::close(master_);
    ::close(slave_);
  }
  int slave() const { return slave_; }
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int master_ = -1, slave_ = -1;
};

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

int square(int x) { return x * x; }

}  // namespace

TEST(Progress, FormatInterval) {
  EXPECT_EQ(gilfree::detail::format_interval(0), "00:00");
  EXPECT_EQ(gilfree::detail::format_interval(75), "01:15");
  EXPECT_EQ(gilfree::detail::format_interval(3725), "1:02:05");
}

TEST(Progress, DrawsInPlaceOnTerminal) {
  Pty pty;
  std::vector<int> v(20);
  std::iota(v.begin(), v.end(), 0);
  int sum = 0;
  for (int x : gilfree::progress(v, {.desc = "work", .fd = pty.slave(), .mininterval = 0.01})) {
    sum += x;
    std::this_thread::sleep_for(2ms);  // let time pass so that redraws happen
  }
  EXPECT_EQ(sum, 190);
  std::string out = pty.read_all();
  EXPECT_EQ(out.front(), '\r');
  EXPECT_GE(count(out, "\r"), 3u);  // initial, some redraws, final
  EXPECT_EQ(count(out, "\n"), 1u);  // one line only, ended at the end
  EXPECT_NE(out.find("work: 100%|"), std::string::npos) << out;
  EXPECT_NE(out.find("| 20/20 ["), std::string::npos) << out;
  EXPECT_NE(out.find("it/s]"), std::string::npos) << out;
  EXPECT_NE(out.find("  0%|"), std::string::npos) << out;  // the first draw
}

TEST(Progress, RateLimited) {
  Pty pty;
  std::vector<int> v(10000, 1);
  for (int x : gilfree::progress(v, {.fd = pty.slave(), .mininterval = 10.0})) (void)x;
  std::string out = pty.read_all();
  EXPECT_EQ(count(out, "\r"), 2u) << out;  // the first draw and the final one
  EXPECT_NE(out.find("10000/10000"), std::string::npos);
}

TEST(Progress, UnknownTotal) {
  Pty pty;
  {
    auto r = gilfree::progress(std::views::iota(0) | std::views::take_while([](int x) { return x < 5; }),
                               {.fd = pty.slave()});
    for (int x : r) (void)x;
  }
  std::string out = pty.read_all();
  EXPECT_NE(out.find("5it ["), std::string::npos) << out;
  EXPECT_EQ(out.find('%'), std::string::npos);
}

TEST(Progress, SummaryLineWhenNotATerminal) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<int> v(7, 0);
  for (int x : gilfree::progress(v, {.desc = "d", .fd = fds[1], .mininterval = 0})) (void)x;
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(fds[0]);
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(count(out, "\n"), 1u);
  EXPECT_EQ(out.rfind("d: 100%|", 0), 0u) << out;
  EXPECT_NE(out.find("7/7"), std::string::npos);
}

TEST(Progress, EarlyBreakDrawsFinalLineOnDestruction) {
  Pty pty;
  std::vector<int> v(10, 0);
  {
    auto r = gilfree::progress(v, {.fd = pty.slave()});
    int n = 0;
    for (int x : r) {
      (void)x;
      if (++n == 3) break;
    }
  }
  std::string out = pty.read_all();
  // As tqdm: an item counts once the loop asks for the next one, so breaking in the
  // third body leaves 2 done.
  EXPECT_NE(out.find("2/10"), std::string::npos) << out;
  EXPECT_EQ(count(out, "\n"), 1u);
}

TEST(Progress, DefaultsToStderr) {
  Pty pty;
  int saved = dup(2);
  dup2(pty.slave(), 2);
  {
    std::vector<int> v(3, 0);
    for (int x : gilfree::progress(v)) (void)x;
  }
  dup2(saved, 2);
  ::close(saved);
  std::string out = pty.read_all();
  EXPECT_NE(out.find("\r100%|"), std::string::npos) << out;
}

TEST(Progress, OverAsCompletedAndImap) {
  Pty pty;
  gilfree::ThreadPoolExecutor ex({.max_workers = 2});
  std::vector<gilfree::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit([](int x) { return x; }, i));
  int n = 0;
  for (auto& f : gilfree::progress(gilfree::as_completed(fs), {.total = fs.size(), .fd = pty.slave()})) {
    (void)f;
    ++n;
  }
  EXPECT_EQ(n, 50);
  gilfree::ThreadPool pool(2);
  std::vector<int> in(30, 2);
  long sum = 0;
  for (int v : gilfree::progress(pool.imap([](int x) { return x * x; }, in), {.total = 30, .fd = pty.slave()}))
    sum += v;
  EXPECT_EQ(sum, 120);
  std::string out = pty.read_all();
  EXPECT_NE(out.find("50/50"), std::string::npos) << out;
  EXPECT_NE(out.find("30/30"), std::string::npos) << out;
}

// Items that cross to worker processes ten to a chunk still count one by one: the bar is
// drawn at every count from 1 to 40, not only at the chunk boundaries.
TEST(Progress, OverAProcessMapInChunksAdvancesPerItem) {
  Pty pty;
  gilfree::ProcessPoolExecutor ex(
      {.max_workers = 2, .mp_context = gilfree::mp::get_context("fork")});
  std::vector<int> in(40);
  std::iota(in.begin(), in.end(), 0);
  long sum = 0;
  for (int v : gilfree::progress(ex.map(square, in, {.timeout = 60s, .chunksize = 10}),
                                 {.total = in.size(), .fd = pty.slave(), .mininterval = 0}))
    sum += v;
  EXPECT_EQ(sum, 20540);  // the sum of k*k for k < 40
  std::string out = pty.read_all();
  for (int k = 1; k <= 40; ++k)
    EXPECT_NE(out.find("| " + std::to_string(k) + "/40 ["), std::string::npos) << k << ": " << out;
}
