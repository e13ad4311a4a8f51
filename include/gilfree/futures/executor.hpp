// gilfree/futures/executor.hpp — the Executor interface (submit, map, shutdown) and the
// engine behind map().
//
// Data flow, in the spirit of the diagram that opens CPython's
// Lib/concurrent/futures/process.py. The parent side keeps everything that is about the
// caller: futures, cancellation, ordering, chunk assembly, callbacks. Only a Call (a
// function and its arguments) goes to a worker, and only an Outcome (a value or an
// error) comes back.
//
//   caller's process                                 | worker (thread here; process/MPI
//                                                    |         rank for other executors)
//   submit(fn, args...)                              |
//     detail::Call<F, Args...>{fn, args} ------------+--> run_call(call)
//     Future<R>  (detail::SharedState<R>:            |     -> detail::Outcome<R>:
//       PENDING/RUNNING/..., cancel(), callbacks,    |        value | exception
//       waiters of wait()/as_completed())  <---------+---- set_result / set_exception
//                                                    |
//   map(): MapCore keeps calls in input order,       |
//     buffersize ahead, cancels the rest on error    |
//   BasicPool<Ex> (multiprocessing/pool.hpp):        |
//     chunks items, submits one Call per chunk,      |
//     assembles results; a result-handler thread     |
//     runs callback / error_callback                 |
//
// ThreadPoolExecutor: one allocation per submit holds the future's state, the WorkItem
// its queue links and the Call (detail::TaskState); workers pop WorkItems from a
// lock-free queue and run() them, which completes the future in place. An executor of
// processes encodes the Call (it sees F and Args in its own submit()), keeps the Future
// by id, and completes it when the Outcome arrives on its result thread.
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../detail/call.hpp"
#include "../detail/work_item.hpp"
#include "../errors.hpp"
#include "../timeout.hpp"
#include "future.hpp"

namespace gilfree {

// ---- Executor -------------------------------------------------------------------------

// Executor::map's keyword arguments.
struct MapOptions {
  // How long the whole iteration may take, counted from the call (forever by default);
  // reaching a result after it passes throws TimeoutError.
  Timeout timeout{};
  // How many calls may run ahead of the consumer (Python 3.14). Unset: all inputs are
  // submitted at once, so the inputs must be finite. Zero is a ValueError.
  std::optional<std::size_t> buffersize{};
};

template <class R, class Core>
class ResultRange;

// Python's Executor: submit(), map() and shutdown(). An in-process implementation
// provides schedule() (queue a work item or refuse it) and shutdown(); its destructor must
// call shutdown(true), as Python's `with` block does. One that cannot run closures (a
// process or MPI executor) also shadows submit() and map() with its own templates, which
// see F and Args and encode a detail::Call (see the diagram above; detail::map_results
// gives it map's engine), and the Pool front (BasicPool<Ex>) calls them through the
// concrete type. Reached through Executor& instead, such an executor still gets the call
// typed: schedule()'s WorkItem names its Call type (call_type()) and holds it (call()),
// for an executor that keeps a registry of the Call types its own submit() has seen.
// (tests/message_executor.hpp is a small executor of this kind.)
class Executor {
 public:
  virtual ~Executor() = default;

  // Schedules `fn(args...)` and returns its Future. `fn` and `args` are copied (or moved)
  // into the task and passed to `fn` as rvalues. RuntimeError("cannot schedule new
  // futures after shutdown") after shutdown(); BrokenExecutor subclasses if broken.
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  auto submit(F&& fn, Args&&... args) {
    return submit_until(Deadline(), std::forward<F>(fn), std::forward<Args>(args)...);
  }

  // The Future of submit(fn, args...), as a type.
  template <class F, class... Args>
  using future_t = Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>...>>;

  // Python's map(fn, *iterables, timeout, buffersize): calls fn on the elements of the
  // ranges (zipped, stopping at the shortest) concurrently and returns an input range of
  // the results in input order. Results are produced lazily; with `buffersize` at most
  // that many calls run ahead, so an unbounded input works. Reaching a result rethrows
  // the call's exception (and cancels the rest); destroying the range cancels calls
  // not started. A void fn yields std::monostate.
  template <class F, std::ranges::viewable_range... Rs>
    requires(sizeof...(Rs) > 0 && (std::ranges::input_range<Rs> && ...) &&
             std::invocable<F&, std::ranges::range_reference_t<Rs>...>)
  auto map(F fn, Rs&&... ranges) {
    return map_impl(std::move(fn), MapOptions{}, std::views::all(std::forward<Rs>(ranges))...);
  }
  template <class F, std::ranges::viewable_range R>
    requires std::ranges::input_range<R> && std::invocable<F&, std::ranges::range_reference_t<R>>
  auto map(F fn, R&& range, MapOptions options) {
    return map_impl(std::move(fn), std::move(options), std::views::all(std::forward<R>(range)));
  }
  template <class F, std::ranges::viewable_range R1, std::ranges::viewable_range R2>
    requires std::ranges::input_range<R1> && std::ranges::input_range<R2> &&
             std::invocable<F&, std::ranges::range_reference_t<R1>,
                            std::ranges::range_reference_t<R2>>
  auto map(F fn, R1&& r1, R2&& r2, MapOptions options) {
    return map_impl(std::move(fn), std::move(options), std::views::all(std::forward<R1>(r1)),
                    std::views::all(std::forward<R2>(r2)));
  }

  // Signals the executor to free its resources once pending calls are done; with `wait`,
  // returns only after they are; with `cancel_futures`, cancels calls not yet started.
  // Idempotent. Submitting afterwards is a RuntimeError.
  virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;

 protected:
  // Queues `item`, which comes with one reference for the queue, so that a worker later
  // calls item->run() and then item->release(); or throws to refuse it (the caller then
  // drops that reference). May block until `deadline` (bounded executors) and then throw
  // Full.
  virtual void schedule(detail::WorkItem* item, const Deadline& deadline) = 0;

  // submit(), waiting for room until `deadline` (see schedule()).
  template <class F, class... Args>
  auto submit_until(const Deadline& deadline, F&& fn, Args&&... args) {
    using C = detail::Call<std::decay_t<F>, std::decay_t<Args>...>;
    using R = typename C::result_type;
    auto* task = new detail::TaskState<R, C>(
        this, C{std::forward<F>(fn), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)});
    Future<R> future(task, AnyFuture::Adopt{});
    try {
      schedule(task, deadline);
    } catch (...) {
      task->WorkItem::release();  // refused: the queue never took its reference
      throw;
    }
    return future;
  }

 private:
  template <class F, class... Vs>
  auto map_impl(F fn, MapOptions options, Vs... views);
};

namespace detail {

// The engine behind Executor::map's range: the zipped inputs, the futures in flight.
template <class F, class... Vs>
class MapCore {
 public:
  using raw_result = std::invoke_result_t<F&, std::ranges::range_reference_t<Vs>...>;
  using value_type = stored_t<raw_result>;

  template <class Submit>
  MapCore(Submit submit, F fn, MapOptions options, Vs... views)
      : submit_(std::move(submit)),
        fn_(std::move(fn)),
        buffersize_(options.buffersize.value_or(0)),
        deadline_(options.timeout.deadline()),
        views_(std::move(views)...),
        its_(std::apply([](auto&... v) { return std::tuple(std::ranges::begin(v)...); }, views_)) {
    if (options.buffersize && *options.buffersize == 0)
      throw ValueError("buffersize must be None or > 0");
    if (buffersize_ == 0) {
      while (submit_one()) {
      }
    } else {
      for (std::size_t i = 0; i < buffersize_ && submit_one(); ++i) {
      }
    }
  }
  MapCore(const MapCore&) = delete;
  ~MapCore() {
    for (auto& f : fs_) f.cancel();
  }

  // The next result in input order, or nullopt at the end; rethrows a call's exception.
  std::optional<value_type> next() {
    if (fs_.empty()) return std::nullopt;
    // Python tops the buffer up by one per result; we top it up in batches once half of
    // it has been consumed: never more than `buffersize` ahead either, but workers see a
    // backlog instead of one task at a time (fewer sleeps and wake-ups).
    if (buffersize_ != 0 && fs_.size() <= buffersize_ / 2)
      while (fs_.size() < buffersize_ && submit_one()) {
      }
    Future<raw_result> f = std::move(fs_.front());
    fs_.pop_front();
    try {
      if (deadline_.is_forever()) {
        f.result();
      } else {
        f.result(deadline_.remaining());
      }
    } catch (...) {
      f.cancel();
      for (auto& g : fs_) g.cancel();
      fs_.clear();
      // Keep the failed future (and so its exception) alive as long as the range: the
      // caller's catch block then never races with a worker dropping the last reference
      // (which ThreadSanitizer, blind to libstdc++'s exception refcount, would report).
      failed_ = f;
      throw;
    }
    auto* s = static_cast<SharedState<raw_result>*>(AnyFutureAccess::state(f));
    return std::optional<value_type>(std::move(s->value()));  // ours alone: the task is done
  }

 private:
  bool exhausted() const {
    return std::apply(
        [this](const auto&... it) {
          return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return ((it == std::ranges::end(std::get<I>(views_))) || ...);
          }(std::index_sequence_for<Vs...>{});
        },
        its_);
  }
  bool submit_one() {
    if (exhausted()) return false;
    auto fut = std::apply([this](auto&... it) { return submit_(fn_, *it...); }, its_);
    std::apply([](auto&... it) { (++it, ...); }, its_);
    fs_.push_back(std::move(fut));
    return true;
  }

  std::function<Future<raw_result>(F&, std::ranges::range_reference_t<Vs>...)> submit_;
  F fn_;
  std::size_t buffersize_;
  Deadline deadline_;
  std::tuple<Vs...> views_;
  std::tuple<std::ranges::iterator_t<Vs>...> its_;
  std::deque<Future<raw_result>> fs_;
  AnyFuture failed_;
};

}  // namespace detail

// An input range of results produced one by one by a Core (Executor::map, Pool::imap).
template <class R, class Core>
class ResultRange {
 public:
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    R& operator*() const noexcept { return *owner_->current_; }
    R* operator->() const noexcept { return &*owner_->current_; }
    // Waits for the next result; rethrows its call's exception.
    iterator& operator++() {
      owner_->current_.reset();
      owner_->current_ = owner_->core_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    friend class ResultRange;
    explicit iterator(ResultRange* owner) : owner_(owner) {}
    bool at_end() const noexcept { return !owner_->current_.has_value(); }
    ResultRange* owner_ = nullptr;
  };

  explicit ResultRange(std::unique_ptr<Core> core) : core_(std::move(core)) {}
  ResultRange(ResultRange&&) noexcept = default;
  ResultRange& operator=(ResultRange&&) noexcept = default;

  // Waits for the first result (call once: this is an input range).
  iterator begin() {
    current_ = core_->next();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::unique_ptr<Core> core_;
  mutable std::optional<R> current_;
};

namespace detail {
// Executor::map's engine for any executor: `submit(fn, xs...)` submits one call (through
// whatever type can encode it) and returns its Future.
template <class Submit, class F, class... Vs>
auto map_results(Submit submit, F fn, MapOptions options, Vs... views) {
  using Core = MapCore<F, Vs...>;
  return ResultRange<typename Core::value_type, Core>(std::make_unique<Core>(
      std::move(submit), std::move(fn), std::move(options), std::move(views)...));
}
}  // namespace detail

template <class F, class... Vs>
auto Executor::map_impl(F fn, MapOptions options, Vs... views) {
  using raw = typename detail::MapCore<F, Vs...>::raw_result;
  auto submit = [this](F& f, std::ranges::range_reference_t<Vs>... xs) -> Future<raw> {
    return this->submit(f, std::forward<decltype(xs)>(xs)...);
  };
  return detail::map_results(std::move(submit), std::move(fn), std::move(options),
                             std::move(views)...);
}

}  // namespace gilfree
