// gilfree/progress.hpp — a tqdm-like progress bar over any range.
//
//   for (auto& f : gilfree::progress(gilfree::as_completed(fs), {.total = fs.size()})) ...
//   for (int v : gilfree::progress(pool.imap(fn, inputs), {.desc = "squares"})) ...
//
// On a terminal it redraws one line in place, at most every `mininterval` seconds:
//   squares:  42%|██████████▌              | 42/100 [00:01<00:02, 30.51it/s]
// (without a known total: "squares: 42it [00:01, 30.51it/s]"). When the file descriptor
// is not a terminal, nothing is drawn until the end, which writes one summary line.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <utility>

namespace gilfree {

// progress()'s keyword arguments (tqdm's names).
struct ProgressOptions {
  // The expected number of items; unset: the range's size when it has one, else unknown.
  std::optional<std::size_t> total{};
  // A prefix for the line ("desc: ...").
  std::string desc{};
  // Where to draw; stderr by default.
  int fd = 2;
  // The shortest time between two redraws, in seconds.
  double mininterval = 0.1;
  // What the items are called in the rate ("it/s").
  std::string unit = "it";
};

namespace detail {

// The bar's state and drawing; one per progress() range.
class ProgressBar {
 public:
  explicit ProgressBar(ProgressOptions options);
  ProgressBar(ProgressBar&&) noexcept;
  ProgressBar& operator=(ProgressBar&&) = delete;
  ~ProgressBar();
  // Counts `n` more items, redrawing if on a terminal and mininterval has passed.
  void update(std::size_t n = 1);
  // Draws the final line (once); later calls do nothing.
  void close();
  // Sets the total when it becomes known.
  void set_total(std::size_t total) { options_.total = total; }
  // The line as it would be drawn now (without "\r" or newline).
  std::string format() const;
  std::size_t count() const noexcept { return n_; }

 private:
  void draw(bool final);
  ProgressOptions options_;
  bool tty_ = false;
  bool closed_ = false;
  std::size_t n_ = 0;
  std::size_t last_width_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "MM:SS" or "H:MM:SS", as tqdm's format_interval.
std::string format_interval(double seconds);

}  // namespace detail

// The range progress() returns: the wrapped range's elements, unchanged, one by one.
template <std::ranges::input_range V>
class Progress {
 public:
  class iterator {
   public:
    using value_type = std::ranges::range_value_t<V>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    decltype(auto) operator*() const { return *it_; }
    iterator& operator++() {
      ++it_;
      owner_->bar_.update();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, std::default_sentinel_t) { return a.at_end(); }

   private:
    // True at the end of the wrapped range, where the final line is drawn.
    bool at_end() const {
      if (it_ == std::ranges::end(owner_->base_)) {
        owner_->bar_.close();
        return true;
      }
      return false;
    }
    friend class Progress;
    iterator(Progress* owner, std::ranges::iterator_t<V> it) : owner_(owner), it_(std::move(it)) {}
    Progress* owner_ = nullptr;
    std::ranges::iterator_t<V> it_;
  };

  Progress(V base, ProgressOptions options) : base_(std::move(base)), bar_(fill_total(std::move(options))) {}

  iterator begin() { return iterator(this, std::ranges::begin(base_)); }
  std::default_sentinel_t end() const noexcept { return {}; }
  // The bar (for tests and for set_total()).
  detail::ProgressBar& bar() noexcept { return bar_; }

 private:
  ProgressOptions fill_total(ProgressOptions o) {
    if constexpr (std::ranges::sized_range<V>) {
      if (!o.total) o.total = static_cast<std::size_t>(std::ranges::size(base_));
    }
    return o;
  }
  V base_;
  detail::ProgressBar bar_;
};

// Wraps `range` (any input range: as_completed(), imap(), a vector...) so that iterating
// it draws a progress bar on options.fd; the final line is drawn when the end is reached
// or the wrapper is destroyed. An rvalue range is moved in; an lvalue one is referenced.
template <std::ranges::viewable_range R>
  requires std::ranges::input_range<R>
auto progress(R&& range, ProgressOptions options = {}) {
  return Progress<std::views::all_t<R>>(std::views::all(std::forward<R>(range)), std::move(options));
}

// Overload for move-only ranges that are not views (as_completed's AsCompleted,
// Executor::map's results): the wrapper owns them.
template <std::ranges::input_range R>
  requires(!std::ranges::viewable_range<R> && !std::is_lvalue_reference_v<R>)
auto progress(R&& range, ProgressOptions options = {}) {
  return Progress<std::remove_cvref_t<R>>(std::move(range), std::move(options));
}

}  // namespace gilfree
