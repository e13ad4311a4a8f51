// The drawing half of gilfree/progress.hpp.
#include "gilfree/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

namespace gilfree::detail {

namespace {

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // a progress bar never fails the program
    }
    off += static_cast<std::size_t>(w);
  }
}

std::string format_rate(double rate, const std::string& unit) {
  char buf[64];
  if (rate <= 0 || !std::isfinite(rate)) {
    std::snprintf(buf, sizeof buf, "?%s/s", unit.c_str());
  } else if (rate < 1) {
    std::snprintf(buf, sizeof buf, "%.2fs/%s", 1 / rate, unit.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%.2f%s/s", rate, unit.c_str());
  }
  return buf;
}

}  // namespace

std::string format_interval(double seconds) {
  long long t = static_cast<long long>(seconds);
  if (t < 0) t = 0;
  long long h = t / 3600, m = (t / 60) % 60, s = t % 60;
  char buf[48];
  if (h) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", h, m, s);
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", m, s);
  }
  return buf;
}

ProgressBar::ProgressBar(ProgressOptions options)
    : options_(std::move(options)),
      tty_(::isatty(options_.fd) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  if (tty_) draw(false);
}

ProgressBar::ProgressBar(ProgressBar&& o) noexcept
    : options_(std::move(o.options_)),
      tty_(o.tty_),
      closed_(o.closed_),
      n_(o.n_),
      last_width_(o.last_width_),
      start_(o.start_),
      last_draw_(o.last_draw_) {
  o.closed_ = true;  // the moved-from bar draws nothing more
}

ProgressBar::~ProgressBar() { close(); }

void ProgressBar::update(std::size_t n) {
  n_ += n;
  if (!tty_ || closed_) return;
  auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_draw_).count() >= options_.mininterval) draw(false);
}

void ProgressBar::close() {
  if (closed_) return;
  draw(true);
  closed_ = true;
}

std::string ProgressBar::format() const {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(n_) / elapsed : 0;
  std::string prefix = options_.desc.empty() ? "" : options_.desc + ": ";
  char buf[128];
  if (!options_.total) {
    std::snprintf(buf, sizeof buf, "%zu%s [%s, %s]", n_, options_.unit.c_str(),
                  format_interval(elapsed).c_str(), format_rate(rate, options_.unit).c_str());
    return prefix + buf;
  }
  std::size_t total = *options_.total;
  double frac = total ? std::min(1.0, static_cast<double>(n_) / static_cast<double>(total)) : 1.0;
  // A 25-cell bar with eighth-blocks for the partial cell, as tqdm draws it.
  static const char* const kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  constexpr int kCells = 25;
  int eighths = static_cast<int>(frac * kCells * 8);
  std::string bar;
  int full = eighths / 8;
  for (int i = 0; i < full; ++i) bar += "█";
  int cells = full;
  if (full < kCells) {
    bar += kEighths[eighths % 8];
    if (eighths % 8) ++cells;
  }
  bar.append(static_cast<std::size_t>(kCells - cells), ' ');
  std::string eta = rate > 0 && n_ <= total
                        ? format_interval(static_cast<double>(total - n_) / rate)
                        : std::string("?");
  std::snprintf(buf, sizeof buf, "%3d%%|", static_cast<int>(frac * 100));
  std::string out = prefix + buf + bar;
  std::snprintf(buf, sizeof buf, "| %zu/%zu [%s<%s, %s]", n_, total,
                format_interval(elapsed).c_str(), eta.c_str(),
                format_rate(rate, options_.unit).c_str());
  return out + buf;
}

void ProgressBar::draw(bool final) {
  std::string line = format();
  std::size_t width = line.size();
  if (tty_) {
    // Pad over what the previous, longer line left behind, then come back to column 0.
    std::string out = "\r" + line;
    if (last_width_ > width) out.append(last_width_ - width, ' ');
    if (final) out += "\n";
    write_all(options_.fd, out);
  } else if (final) {
    write_all(options_.fd, line + "\n");
  }
  last_width_ = width;
  last_draw_ = std::chrono::steady_clock::now();
}

}  // namespace gilfree::detail
