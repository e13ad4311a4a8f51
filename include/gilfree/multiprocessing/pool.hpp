// gilfree/multiprocessing/pool.hpp — the `multiprocessing.pool` API: Pool's front,
// AsyncResult, and ThreadPool (multiprocessing.pool.ThreadPool: the same API on threads).
//
//   gilfree::ThreadPool pool(4);
//   auto r = pool.apply_async(fn, std::tuple(1, 2));   // AsyncResult<R>
//   std::vector<int> sq = pool.map(square, inputs);    // chunked, ordered
//   for (int v : pool.imap(square, inputs, 100)) ...   // lazy, ordered
//   pool.close(); pool.join();
//
// The front (class Pool) only talks to an Executor (futures.hpp): ThreadPool hands it a
// ThreadPoolExecutor; a process-backed Pool hands it a process executor and reuses every
// method here unchanged.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../futures.hpp"
#include "../timeout.hpp"

namespace gilfree {

// ---- AsyncResult ----------------------------------------------------------------------

// The result of Pool::apply_async / map_async / starmap_async, as multiprocessing's
// AsyncResult: a cheap handle that copies share.
template <class T>
class AsyncResult {
 public:
  explicit AsyncResult(Future<T> future) : future_(std::move(future)) {}

  // Waits up to `timeout` and returns the result (a reference for non-void T, valid
  // while a handle lives); rethrows the call's exception; TimeoutError if not ready.
  decltype(auto) get(Timeout timeout = {}) const {
    wait(timeout);
    if (!ready()) throw TimeoutError();
    if (future_.cancelled()) throw CancelledError();  // the pool was terminated first
    return future_.result();
  }
  // Waits up to `timeout` for the result to be ready; never throws TimeoutError.
  void wait(Timeout timeout = {}) const {
    try {
      future_.exception(timeout);
    } catch (const TimeoutError&) {
    } catch (const CancelledError&) {
    }
  }
  // True once the call has completed.
  bool ready() const noexcept { return future_.done(); }
  // True if the call completed without an exception; ValueError if not ready yet.
  bool successful() const {
    if (!ready()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "<AsyncResult at %p> not ready",
                    static_cast<const void*>(detail::AnyFutureAccess::state(future_)));
      throw ValueError(buf);
    }
    return !future_.cancelled() && future_.exception() == nullptr;
  }
  // The Future behind this result (beyond Python: usable with wait()/as_completed()).
  const Future<T>& future() const noexcept { return future_; }

 private:
  Future<T> future_;
};

namespace detail {

template <class R>
struct pool_callback {
  using type = std::function<void(const R&)>;
};
template <>
struct pool_callback<void> {
  using type = std::function<void()>;
};
// What apply_async's callback receives: the result (nothing for a void call).
template <class R>
using pool_callback_t = typename pool_callback<R>::type;

// The value type of a range's elements, as a task stores them.
template <class Rng>
using item_t = std::remove_cvref_t<std::ranges::range_reference_t<Rng>>;

// Pool::imap's engine: cuts the input into chunks, keeps them in flight, hands results
// back one by one, in input order or in completion order.
template <class R, class F, class V>
class ImapCore {
 public:
  using value_type = stored_t<R>;
  using Chunk = std::vector<value_type>;
  using SubmitChunk = std::function<Future<Chunk>(std::vector<item_t<V>>)>;

  ImapCore(SubmitChunk submit, V view, std::size_t chunksize, bool ordered, std::size_t ahead)
      : submit_(std::move(submit)),
        view_(std::move(view)),
        it_(std::ranges::begin(view_)),
        chunksize_(chunksize),
        ordered_(ordered),
        ahead_(ahead) {
    if (chunksize_ == 0) throw ValueError("Chunksize must be 1+, not 0");
    fill();
  }
  ImapCore(const ImapCore&) = delete;
  ~ImapCore() {
    for (auto& f : fs_) f.cancel();
  }

  std::optional<value_type> next() {
    while (pos_ == chunk_.size()) {
      chunk_.clear();
      pos_ = 0;
      if (!take_chunk()) return std::nullopt;
    }
    return std::optional<value_type>(std::move(chunk_[pos_++]));
  }

 private:
  bool input_done() const { return it_ == std::ranges::end(view_); }

  // Submits chunks until `ahead_` are in flight (0: all of them).
  void fill() {
    while (!input_done() && (ahead_ == 0 || in_flight_ < ahead_)) {
      std::vector<item_t<V>> items;
      for (std::size_t i = 0; i < chunksize_ && !input_done(); ++i, ++it_) items.emplace_back(*it_);
      Future<Chunk> f = submit_(std::move(items));
      ++in_flight_;
      if (ordered_) {
        fs_.push_back(std::move(f));
      } else {
        completions_.add(f);
        fs_.push_back(std::move(f));
      }
    }
  }

  Chunk take(const AnyFuture& f) {
    failed_ = f;  // alive while the caller handles a rethrown exception (see MapCore)
    f.result();   // rethrows the chunk's exception
    failed_ = AnyFuture();
    auto* s = static_cast<SharedState<Chunk>*>(AnyFutureAccess::state(f));
    return std::move(s->value());
  }

  bool take_chunk() {
    if (in_flight_ == 0) return false;
    if (ordered_) {
      Future<Chunk> f = std::move(fs_.front());
      fs_.pop_front();
      --in_flight_;
      fill();
      chunk_ = take(f);
      return true;
    }
    if (!started_) {
      it_done_ = completions_.begin();
      started_ = true;
    } else {
      ++it_done_;
    }
    AnyFuture f = *it_done_;
    std::erase_if(fs_, [&](const Future<Chunk>& g) { return AnyFuture(g) == f; });
    --in_flight_;
    fill();
    chunk_ = take(f);
    return true;
  }

  SubmitChunk submit_;
  V view_;
  std::ranges::iterator_t<V> it_;
  std::size_t chunksize_;
  bool ordered_;
  std::size_t ahead_;
  std::size_t in_flight_ = 0;
  std::deque<Future<Chunk>> fs_;
  AsCompleted completions_;
  AsCompleted::iterator it_done_;
  bool started_ = false;
  Chunk chunk_;
  std::size_t pos_ = 0;
  AnyFuture failed_;
};

}  // namespace detail

// ---- Pool -----------------------------------------------------------------------------

// multiprocessing.pool.Pool's API over any Executor: the front that ThreadPool (and a
// process-backed pool) share. States as in Python: running, closed, terminated.
class Pool {
 public:
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  // terminate() then join(), as leaving Python's `with Pool() as p:` block.
  virtual ~Pool() {
    terminate();
    workers_->shutdown(true);
  }

  // Calls fn(args...) on a worker and returns its result (blocks); rethrows its exception.
  template <class F, class... Args>
  decltype(auto) apply(F&& fn, Args&&... args) {
    auto r = apply_async(std::forward<F>(fn), std::tuple<std::decay_t<Args>...>(
                                                  std::forward<Args>(args)...));
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>...>;
    if constexpr (std::is_void_v<R>) {
      r.get();
    } else {
      return R(r.get());
    }
  }

  // Python's apply_async(func, args, kwds, callback, error_callback): schedules
  // std::apply(fn, args); `callback(result)` or `error_callback(exception)` runs on the
  // worker before the result is ready (its exceptions go to the LogHook). ValueError("Pool
  // not running") after close() or terminate().
  template <class F, class... Args, class R = std::invoke_result_t<std::decay_t<F>&, Args...>>
  AsyncResult<R> apply_async(F&& fn, std::tuple<Args...> args = {},
                             detail::pool_callback_t<R> callback = {},
                             std::function<void(std::exception_ptr)> error_callback = {}) {
    check_running();
    auto call = [fn = std::forward<F>(fn), args = std::move(args), cb = std::move(callback),
                 ecb = std::move(error_callback)]() mutable -> R {
      try {
        if constexpr (std::is_void_v<R>) {
          std::apply(fn, std::move(args));
          if (cb) run_callback([&] { cb(); });
        } else {
          R r = std::apply(fn, std::move(args));
          if (cb) run_callback([&] { cb(r); });
          return r;
        }
      } catch (...) {
        if (ecb) {
          auto e = std::current_exception();
          run_callback([&] { ecb(e); });
        }
        throw;
      }
    };
    return AsyncResult<R>(workers_->submit(std::move(call)));
  }

  // Python's map(func, iterable, chunksize): fn over every element, in chunks of
  // `chunksize` (unset: len / (4 * processes), rounded up), results in input order.
  // Blocks; rethrows the first exception.
  template <class F, std::ranges::input_range Rng>
  auto map(F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {}) {
    return map_async(std::move(fn), std::forward<Rng>(iterable), chunksize).get();
  }

  // map() without blocking: an AsyncResult of the whole vector; `callback(vector)` or
  // `error_callback(first exception)` as in apply_async.
  template <class F, std::ranges::input_range Rng,
            class R = std::invoke_result_t<F&, std::ranges::range_reference_t<Rng>>>
  AsyncResult<std::vector<detail::stored_t<R>>> map_async(
      F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {},
      std::function<void(const std::vector<detail::stored_t<R>>&)> callback = {},
      std::function<void(std::exception_ptr)> error_callback = {}) {
    return map_chunks<R>(
        [fn = std::move(fn)](auto&& x) mutable -> R {
          if constexpr (std::is_void_v<R>) {
            fn(std::forward<decltype(x)>(x));
          } else {
            return fn(std::forward<decltype(x)>(x));
          }
        },
        std::forward<Rng>(iterable), chunksize, std::move(callback), std::move(error_callback));
  }

  // Python's starmap: like map, but each element is a tuple of arguments.
  template <class F, std::ranges::input_range Rng>
  auto starmap(F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {}) {
    return starmap_async(std::move(fn), std::forward<Rng>(iterable), chunksize).get();
  }
  template <class F, std::ranges::input_range Rng,
            class R = decltype(std::apply(std::declval<F&>(),
                                          std::declval<std::ranges::range_reference_t<Rng>>()))>
  AsyncResult<std::vector<detail::stored_t<R>>> starmap_async(
      F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {},
      std::function<void(const std::vector<detail::stored_t<R>>&)> callback = {},
      std::function<void(std::exception_ptr)> error_callback = {}) {
    return map_chunks<R>(
        [fn = std::move(fn)](auto&& t) mutable -> R {
          if constexpr (std::is_void_v<R>) {
            std::apply(fn, std::forward<decltype(t)>(t));
          } else {
            return std::apply(fn, std::forward<decltype(t)>(t));
          }
        },
        std::forward<Rng>(iterable), chunksize, std::move(callback), std::move(error_callback));
  }

  // Python's imap: a lazy input range of fn's results in input order, computed in chunks
  // of `chunksize`. A sized input is submitted at once (as Python's task handler does);
  // an unsized one (e.g. unbounded) is read as results are consumed, keeping at most
  // 4 * processes chunks in flight. Reaching a failed element rethrows its exception.
  template <class F, std::ranges::viewable_range Rng>
    requires std::ranges::input_range<Rng>
  auto imap(F fn, Rng&& iterable, std::size_t chunksize = 1) {
    return imap_impl(std::move(fn), std::forward<Rng>(iterable), chunksize, true);
  }
  // Python's imap_unordered: as imap, in completion order (input order within a chunk).
  template <class F, std::ranges::viewable_range Rng>
    requires std::ranges::input_range<Rng>
  auto imap_unordered(F fn, Rng&& iterable, std::size_t chunksize = 1) {
    return imap_impl(std::move(fn), std::forward<Rng>(iterable), chunksize, false);
  }

  // No more tasks may be submitted; the workers exit once the queued ones are done.
  void close() {
    int expected = kRun;
    state_.compare_exchange_strong(expected, kClose);
  }
  // Stops at once: tasks not yet started are cancelled (their get() raises
  // CancelledError where Python's would hang); running ones finish.
  void terminate() {
    state_.store(kTerminate);
    workers_->shutdown(false, true);
  }
  // Waits for the workers to exit; ValueError("Pool is still running") before close()
  // or terminate().
  void join() {
    if (state_.load() == kRun) throw ValueError("Pool is still running");
    workers_->shutdown(true);
  }
  // The number of workers.
  std::size_t processes() const noexcept { return processes_; }

 protected:
  // A pool running its tasks on `workers` (an executor of `processes` workers).
  Pool(std::unique_ptr<Executor> workers, std::size_t processes)
      : workers_(std::move(workers)), processes_(processes) {}

 private:
  enum { kRun, kClose, kTerminate };

  void check_running() const {
    if (state_.load() != kRun) throw ValueError("Pool not running");
  }

  template <class G>
  static void run_callback(G&& g) noexcept {
    try {
      g();
    } catch (...) {
      detail::log_error("exception in Pool callback", std::current_exception());
    }
  }

  std::size_t default_chunksize(std::size_t n) const {
    std::size_t per = processes_ * 4;
    std::size_t c = n / per + (n % per ? 1 : 0);
    return c;
  }

  template <class R, class G, class Rng>
  AsyncResult<std::vector<detail::stored_t<R>>> map_chunks(
      G one, Rng&& iterable, std::optional<std::size_t> chunksize,
      std::function<void(const std::vector<detail::stored_t<R>>&)> callback,
      std::function<void(std::exception_ptr)> error_callback) {
    check_running();
    using V = detail::stored_t<R>;
    using Item = detail::item_t<Rng>;
    std::vector<Item> items;
    for (auto&& x : iterable) items.emplace_back(std::forward<decltype(x)>(x));
    std::size_t cs = chunksize ? *chunksize : default_chunksize(items.size());
    if (chunksize && *chunksize == 0) throw ValueError("Chunksize must be 1+, not 0");
    Future<std::vector<V>> result;
    result.set_running_or_notify_cancel();
    if (items.empty()) {
      if (callback) run_callback([&] { callback({}); });
      result.set_result(std::vector<V>{});
      return AsyncResult<std::vector<V>>(result);
    }
    // One shared block collects the chunks; the last one to land publishes the vector.
    struct Block {
      std::vector<std::optional<V>> slots;
      std::atomic<std::size_t> remaining;
      std::atomic<bool> failed{false};
      Future<std::vector<V>> result;
      std::function<void(const std::vector<V>&)> callback;
      std::function<void(std::exception_ptr)> error_callback;
    };
    auto block = std::make_shared<Block>();
    block->slots.resize(items.size());
    std::size_t nchunks = (items.size() + cs - 1) / cs;
    block->remaining.store(nchunks);
    block->result = result;
    block->callback = std::move(callback);
    block->error_callback = std::move(error_callback);
    auto shared_items = std::make_shared<std::vector<Item>>(std::move(items));
    auto shared_one = std::make_shared<G>(std::move(one));
    for (std::size_t c = 0; c < nchunks; ++c) {
      std::size_t lo = c * cs, hi = std::min(shared_items->size(), lo + cs);
      auto task = [block, shared_items, shared_one, lo, hi] {
        if (block->failed.load(std::memory_order_relaxed)) return;
        try {
          for (std::size_t i = lo; i < hi; ++i) {
            if constexpr (std::is_void_v<R>) {
              (*shared_one)((*shared_items)[i]);
              block->slots[i].emplace();
            } else {
              block->slots[i].emplace((*shared_one)((*shared_items)[i]));
            }
          }
        } catch (...) {
          if (!block->failed.exchange(true)) {
            auto e = std::current_exception();
            if (block->error_callback) run_callback([&] { block->error_callback(e); });
            block->result.set_exception(e);
          }
          return;
        }
        if (block->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
            !block->failed.load()) {
          std::vector<V> out;
          out.reserve(block->slots.size());
          for (auto& s : block->slots) out.push_back(std::move(*s));
          if (block->callback) run_callback([&] { block->callback(out); });
          try {
            block->result.set_result(std::move(out));
          } catch (const InvalidStateError&) {
          }
        }
      };
      try {
        // A chunk that never runs (cancelled by terminate(), or failed by a broken pool)
        // must still settle the result.
        workers_->submit(std::move(task)).add_done_callback([block](Future<void> g) {
          std::exception_ptr e;
          if (g.cancelled()) {
            e = std::make_exception_ptr(CancelledError());
          } else {
            e = g.exception();
          }
          if (e && !block->failed.exchange(true)) {
            try {
              block->result.set_exception(e);
            } catch (const InvalidStateError&) {
            }
          }
        });
      } catch (...) {
        if (!block->failed.exchange(true)) block->result.set_exception(std::current_exception());
        break;
      }
    }
    return AsyncResult<std::vector<V>>(result);
  }

  template <class F, class Rng>
  auto imap_impl(F fn, Rng&& iterable, std::size_t chunksize, bool ordered) {
    check_running();
    using V = std::views::all_t<Rng>;
    using R = std::invoke_result_t<F&, std::ranges::range_reference_t<V>>;
    using Core = detail::ImapCore<R, F, V>;
    using Chunk = typename Core::Chunk;
    Executor* ex = workers_.get();
    // Each chunk task gets its own copy of fn (a lambda, typically: cheaper than sharing
    // one through a reference count that every chunk would bounce between cores).
    auto submit = [ex, fn = std::move(fn)](std::vector<detail::item_t<V>> items) -> Future<Chunk> {
      return ex->submit([fn, items = std::move(items)]() mutable {
        Chunk out;
        out.reserve(items.size());
        for (auto& x : items) {
          if constexpr (std::is_void_v<R>) {
            fn(std::move(x));
            out.emplace_back();
          } else {
            out.push_back(fn(std::move(x)));
          }
        }
        return out;
      });
    };
    std::size_t ahead = std::ranges::sized_range<V> ? 0 : processes_ * 4;
    return ResultRange<typename Core::value_type, Core>(std::make_unique<Core>(
        std::move(submit), std::views::all(std::forward<Rng>(iterable)), chunksize, ordered,
        ahead));
  }

  std::unique_ptr<Executor> workers_;
  std::size_t processes_;
  std::atomic<int> state_{kRun};
};

// multiprocessing.pool.ThreadPool: Pool's API with threads as workers.
class ThreadPool : public Pool {
 public:
  // `processes` workers (unset: the number of CPUs); ValueError("Number of processes must
  // be at least 1") below 1. `initializer` runs on each worker first; if it throws, the
  // pool is broken (BrokenThreadPool from every result).
  explicit ThreadPool(std::optional<int> processes = {}, std::function<void()> initializer = {})
      : Pool(make_executor(processes, std::move(initializer)), size_for(processes)) {}

 private:
  static std::size_t size_for(std::optional<int> processes) {
    if (processes) return static_cast<std::size_t>(*processes);
    unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
  }
  static std::unique_ptr<Executor> make_executor(std::optional<int> processes,
                                                 std::function<void()> initializer) {
    if (processes && *processes < 1) throw ValueError("Number of processes must be at least 1");
    return std::make_unique<ThreadPoolExecutor>(ThreadPoolExecutorOptions{
        .max_workers = static_cast<int>(size_for(processes)),
        .thread_name_prefix = "ThreadPool",
        .initializer = std::move(initializer),
        .max_pending = 0});
  }
};

}  // namespace gilfree
