// gilfree/multiprocessing/pool.hpp — the `multiprocessing.pool` API: the Pool front
// (BasicPool), AsyncResult, Pool (worker processes, on ProcessPoolExecutor) and ThreadPool
// (multiprocessing.pool.ThreadPool: the same API on threads).
//
//   gilfree::mp::ThreadPool pool({.processes = 4});    // or ThreadPool(4)
//   auto r = pool.apply_async(fn, std::tuple(1, 2));   // AsyncResult<R>
//   std::vector<int> sq = pool.map(square, inputs);    // chunked, ordered
//   for (int v : pool.imap(square, inputs, 100)) ...   // lazy, ordered
//   pool.close(); pool.join();
//
// The front keeps the parent's side of every call, as Python's Pool does (see the data
// flow in futures/executor.hpp): it cuts inputs into chunks, submits one call per chunk
// — the user's function and a vector of items, wrapped in a ChunkCall that has no state
// of its own — assembles the chunks' results in input order, and runs callbacks and
// error_callbacks in this process, on the pool's result-handler thread, before the
// AsyncResult becomes ready. It calls the executor through its concrete type Ex, so an
// executor of processes sees F and Args in its own submit() and can encode them:
// Pool (BasicPool<ProcessPoolExecutor>) reuses every method here.
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
#include "../futures/process.hpp"
#include "process.hpp"
#include "../timeout.hpp"

namespace gilfree {
namespace multiprocessing {

// ---- AsyncResult ----------------------------------------------------------------------

// The result of BasicPool::apply_async / map_async / starmap_async, as multiprocessing's
// AsyncResult: a cheap handle that copies share. With a callback, it becomes ready only
// after the callback ran (on the pool's result-handler thread), as in Python.
template <class T>
class AsyncResult {
 public:
  // The result of `future`, ready when it is done.
  explicit AsyncResult(Future<T> future) : future_(std::move(future)) {}
  // The result of `future`, ready when `ready` is (its callbacks have run).
  AsyncResult(Future<T> future, Future<void> ready)
      : future_(std::move(future)), ready_(std::move(ready)) {}

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
    const Deadline deadline = timeout.deadline();
    try {
      // The call's future first: a worker of the same pool waiting here runs a call not
      // yet started inline (the executor's deadlock guard).
      (void)future_.exception(Timeout(deadline.remaining()));
      if (ready_) (void)ready_->exception(Timeout(deadline.remaining()));
    } catch (const TimeoutError&) {
    } catch (const CancelledError&) {
      if (ready_) (void)ready_->exception(Timeout(deadline.remaining()));
    }
  }
  // True once the call has completed (and its callbacks have run).
  [[nodiscard]] bool ready() const noexcept {
    return ready_ ? ready_->done() : future_.done();
  }
  // True if the call completed without an exception; ValueError if not ready yet.
  [[nodiscard]] bool successful() const {
    if (!ready()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "<AsyncResult at %p> not ready",
                    static_cast<const void*>(gilfree::detail::AnyFutureAccess::state(future_)));
      throw ValueError(buf);
    }
    return !future_.cancelled() && future_.exception() == nullptr;
  }
  // The Future of the call (beyond Python: usable with wait()/as_completed(); it may be
  // done a moment before the callbacks have run).
  const Future<T>& future() const noexcept { return future_; }

 private:
  Future<T> future_;
  std::optional<Future<void>> ready_;
};

namespace detail {

using gilfree::detail::AnyFutureAccess;
using gilfree::detail::SharedState;
using gilfree::detail::stored_t;

// The pool's result-handler thread: runs callbacks in this process, one at a time, in
// the order their calls completed (Python's Pool._handle_results). Started on first use.
class ResultHandler {
 public:
  explicit ResultHandler(std::string name);
  ResultHandler(const ResultHandler&) = delete;
  ResultHandler& operator=(const ResultHandler&) = delete;
  // Runs every job posted so far, then stops the thread.
  ~ResultHandler();
  // Runs `job` on the handler thread; its exceptions go to the LogHook.
  void post(std::function<void()> job);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What apply_async's callback receives: the result (nothing for a void call).
template <class R>
struct pool_callback {
  using type = std::function<void(const R&)>;
};
template <>
struct pool_callback<void> {
  using type = std::function<void()>;
};
template <class R>
using pool_callback_t = typename pool_callback<R>::type;

// The value type of a range's elements, as a chunk carries them.
template <class Rng>
using item_t = std::remove_cvref_t<std::ranges::range_reference_t<Rng>>;

// The worker's side of one chunk: the user's function over a vector of items, results
// in order (starmap: each item is a tuple of arguments). Holds nothing but `fn`, so it
// is as encodable as `fn` is.
template <class F, class Item, bool Star>
struct chunk_result {
  using type = std::invoke_result_t<F&, Item&&>;
};
template <class F, class Item>
struct chunk_result<F, Item, true> {
  using type = decltype(std::apply(std::declval<F&>(), std::declval<Item&&>()));
};

template <class F, class Item, bool Star>
struct ChunkCall {
  using raw_result = typename chunk_result<F, Item, Star>::type;
  using value_type = stored_t<raw_result>;

  F fn;

  std::vector<value_type> operator()(std::vector<Item> items) {
    std::vector<value_type> out;
    out.reserve(items.size());
    for (auto& x : items) {
      if constexpr (std::is_void_v<raw_result>) {
        call(x);
        out.emplace_back();
      } else {
        out.push_back(call(x));
      }
    }
    return out;
  }

 private:
  decltype(auto) call(Item& x) {
    if constexpr (Star) {
      return std::apply(fn, std::move(x));
    } else {
      return fn(std::move(x));
    }
  }
};

// The parent's side of one map_async: results land in `slots` chunk by chunk; the last
// chunk, or the first failure, settles `result` (then `ready`, after the callbacks).
template <class V>
struct MapBlock {
  std::vector<std::optional<V>> slots;
  std::atomic<std::size_t> remaining{0};
  std::atomic<bool> settled{false};
  Future<std::vector<V>> result;
  Future<void> ready;
  std::function<void(const std::vector<V>&)> callback;
  std::function<void(std::exception_ptr)> error_callback;
  ResultHandler* handler = nullptr;
  void (*run_callback)(std::function<void()>) = nullptr;

  // Settles the result once: the whole vector (error == nullptr), or the first error;
  // through the handler thread when there are callbacks to run first.
  static void settle(const std::shared_ptr<MapBlock>& b, std::exception_ptr error) {
    if (b->settled.exchange(true)) return;
    auto finish = [b, error] {
      if (error) {
        if (b->error_callback) b->run_callback([&] { b->error_callback(error); });
        b->result.set_exception(error);
      } else {
        std::vector<V> all;
        all.reserve(b->slots.size());
        for (auto& s : b->slots) all.push_back(std::move(*s));
        if (b->callback) b->run_callback([&] { b->callback(all); });
        b->result.set_result(std::move(all));
      }
      b->ready.set_result();
    };
    if (b->callback || b->error_callback) {
      b->handler->post(std::move(finish));
    } else {
      finish();
    }
  }
};

// Moves the value out of a finished future that no one else reads (the pool's own).
template <class T>
T take_value(const Future<T>& f) {
  return std::move(static_cast<SharedState<T>*>(AnyFutureAccess::state(f))->value());
}

// Pool::imap's engine (and MPIPoolExecutor::map's): cuts the input into chunks, keeps them
// in flight, hands results back one by one, in input order or in completion order.
// `timeout` counts from construction; reaching a result after it passes is a TimeoutError.
template <class R, class F, class V>
class ImapCore {
 public:
  using value_type = stored_t<R>;
  using Chunk = std::vector<value_type>;
  using SubmitChunk = std::function<Future<Chunk>(std::vector<item_t<V>>)>;

  ImapCore(SubmitChunk submit, V view, std::size_t chunksize, bool ordered, std::size_t ahead,
           Timeout timeout = {})
      : submit_(std::move(submit)),
        view_(std::move(view)),
        it_(std::ranges::begin(view_)),
        chunksize_(chunksize),
        ordered_(ordered),
        ahead_(ahead),
        deadline_(timeout.deadline()),
        completions_(timeout) {
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
      if (!ordered_) completions_.add(f);
      fs_.push_back(std::move(f));
    }
  }

  Chunk take(const Future<Chunk>& f) {
    failed_ = f;  // alive while the caller handles a rethrown exception (see MapCore)
    if (deadline_.is_forever()) {
      (void)f.result();  // rethrows the chunk's exception
    } else {
      (void)f.result(deadline_.remaining());
    }
    failed_ = AnyFuture();
    return take_value(f);
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
    Future<Chunk> f = *it_done_;
    std::erase_if(fs_, [&](const Future<Chunk>& g) { return g == f; });
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
  Deadline deadline_;
  std::size_t in_flight_ = 0;
  std::deque<Future<Chunk>> fs_;
  AsCompleted<Future<Chunk>> completions_;
  typename AsCompleted<Future<Chunk>>::iterator it_done_;
  bool started_ = false;
  Chunk chunk_;
  std::size_t pos_ = 0;
  AnyFuture failed_;
};

}  // namespace detail

// ---- BasicPool ------------------------------------------------------------------------

// multiprocessing.pool.Pool's API over an executor of type Ex (ThreadPoolExecutor for
// ThreadPool; an executor of processes for a process pool). States as in Python:
// running, closed, terminated.
template <class Ex>
class BasicPool {
 public:
  BasicPool(const BasicPool&) = delete;
  BasicPool& operator=(const BasicPool&) = delete;
  // terminate() then join(), as leaving Python's `with Pool() as p:` block; callbacks of
  // calls that completed still run.
  virtual ~BasicPool() {
    terminate();
    executor_->shutdown(true);
    handler_.reset();
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
  // std::apply(fn, args); `callback(result)` or `error_callback(exception)` runs in this
  // process on the result-handler thread before the result is ready (its exceptions go
  // to the LogHook). ValueError("Pool not running") after close() or terminate().
  template <class F, class... Args, class R = std::invoke_result_t<std::decay_t<F>&, Args...>>
  AsyncResult<R> apply_async(F&& fn, std::tuple<Args...> args = {},
                             detail::pool_callback_t<R> callback = {},
                             std::function<void(std::exception_ptr)> error_callback = {}) {
    check_running();
    Future<R> f = std::apply(
        [&](auto&&... a) { return executor_->submit(std::forward<F>(fn), std::move(a)...); },
        std::move(args));
    if (!callback && !error_callback) return AsyncResult<R>(f);
    Future<void> ready;
    (void)ready.set_running_or_notify_cancel();
    f.add_done_callback([h = handler_.get(), ready, cb = std::move(callback),
                         ecb = std::move(error_callback)](Future<R> done) mutable {
      h->post([done, ready, cb = std::move(cb), ecb = std::move(ecb)] {
        std::exception_ptr e =
            done.cancelled() ? std::make_exception_ptr(CancelledError()) : done.exception();
        if (e) {
          if (ecb) run_callback([&] { ecb(e); });
        } else if (cb) {
          if constexpr (std::is_void_v<R>) {
            run_callback([&] { cb(); });
          } else {
            run_callback([&] { cb(done.result()); });
          }
        }
        ready.set_result();
      });
    });
    return AsyncResult<R>(f, ready);
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
    return map_chunks<false>(std::move(fn), std::forward<Rng>(iterable), chunksize,
                             std::move(callback), std::move(error_callback));
  }

  // Python's starmap: like map, but each element is a tuple of arguments.
  template <class F, std::ranges::input_range Rng>
  auto starmap(F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {}) {
    return starmap_async(std::move(fn), std::forward<Rng>(iterable), chunksize).get();
  }
  // starmap() without blocking, with map_async's callbacks.
  template <class F, std::ranges::input_range Rng,
            class R = decltype(std::apply(std::declval<F&>(),
                                          std::declval<std::ranges::range_reference_t<Rng>>()))>
  AsyncResult<std::vector<detail::stored_t<R>>> starmap_async(
      F fn, Rng&& iterable, std::optional<std::size_t> chunksize = {},
      std::function<void(const std::vector<detail::stored_t<R>>&)> callback = {},
      std::function<void(std::exception_ptr)> error_callback = {}) {
    return map_chunks<true>(std::move(fn), std::forward<Rng>(iterable), chunksize,
                            std::move(callback), std::move(error_callback));
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
  // CancelledError where Python's would hang). Running ones finish on threads; a pool of
  // processes terminates its workers (as Python's), and their calls fail with
  // BrokenProcessPool.
  void terminate() {
    state_.store(kTerminate);
    if constexpr (requires(Ex& e) { e.terminate_workers(); }) {
      executor_->terminate_workers();
    } else {
      executor_->shutdown(false, true);
    }
  }
  // Waits for the workers to exit; ValueError("Pool is still running") before close()
  // or terminate().
  void join() {
    if (state_.load() == kRun) throw ValueError("Pool is still running");
    executor_->shutdown(true);
  }
  // The number of workers.
  std::size_t processes() const noexcept { return processes_; }

 protected:
  // The executor the pool runs on.
  const Ex& executor() const noexcept { return *executor_; }

  // A pool running its calls on `executor` (of `processes` workers); its result-handler
  // thread is named "<name>-result-handler".
  BasicPool(std::unique_ptr<Ex> executor, std::size_t processes, std::string name)
      : executor_(std::move(executor)),
        processes_(processes),
        handler_(std::make_unique<detail::ResultHandler>(std::move(name) + "-result-handler")) {}

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
      gilfree::detail::log_error("exception in Pool callback", std::current_exception());
    }
  }

  std::size_t default_chunksize(std::size_t n) const {
    std::size_t per = processes_ * 4;
    return n / per + (n % per ? 1 : 0);
  }

  // map_async / starmap_async: chunks submitted as ChunkCalls; each chunk's result is
  // moved into place by a done-callback (in this process), and the last one — or the
  // first failure — settles the result, through the handler thread if there is a
  // callback.
  template <bool Star, class F, class Rng>
  auto map_chunks(F fn, Rng&& iterable, std::optional<std::size_t> chunksize,
                  auto callback, std::function<void(std::exception_ptr)> error_callback) {
    check_running();
    using Item = detail::item_t<Rng>;
    using Chunk = detail::ChunkCall<F, Item, Star>;
    using V = typename Chunk::value_type;
    if (chunksize && *chunksize == 0) throw ValueError("Chunksize must be 1+, not 0");
    std::vector<Item> items;
    for (auto&& x : iterable) items.emplace_back(std::forward<decltype(x)>(x));
    const std::size_t n = items.size();
    const std::size_t cs = chunksize ? *chunksize : default_chunksize(n);

    using Block = detail::MapBlock<V>;
    auto block = std::make_shared<Block>();
    (void)block->result.set_running_or_notify_cancel();
    (void)block->ready.set_running_or_notify_cancel();
    block->callback = std::move(callback);
    block->error_callback = std::move(error_callback);
    block->handler = handler_.get();
    block->run_callback = [](std::function<void()> g) { run_callback(g); };
    AsyncResult<std::vector<V>> out(block->result, block->ready);

    if (n == 0) {
      Block::settle(block, nullptr);
      return out;
    }
    block->slots.resize(n);
    const std::size_t nchunks = (n + cs - 1) / cs;
    block->remaining.store(nchunks);
    for (std::size_t c = 0; c < nchunks; ++c) {
      const std::size_t lo = c * cs, hi = std::min(n, lo + cs);
      std::vector<Item> part(std::make_move_iterator(items.begin() + lo),
                             std::make_move_iterator(items.begin() + hi));
      try {
        executor_->submit(Chunk{fn}, std::move(part))
            .add_done_callback([block, lo](Future<std::vector<V>> f) {
              // A chunk that never ran (cancelled by terminate(), or failed by a broken
              // pool) settles the result with that error.
              std::exception_ptr e =
                  f.cancelled() ? std::make_exception_ptr(CancelledError()) : f.exception();
              if (e) {
                Block::settle(block, e);
                return;
              }
              std::vector<V> vals = detail::take_value(f);
              for (std::size_t i = 0; i < vals.size(); ++i)
                block->slots[lo + i].emplace(std::move(vals[i]));
              if (block->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1)
                Block::settle(block, nullptr);
            });
      } catch (...) {
        Block::settle(block, std::current_exception());
        break;
      }
    }
    return out;
  }

  template <class F, class Rng>
  auto imap_impl(F fn, Rng&& iterable, std::size_t chunksize, bool ordered) {
    check_running();
    using V = std::views::all_t<Rng>;
    using Item = detail::item_t<V>;
    using Call = detail::ChunkCall<F, Item, false>;
    using R = typename Call::raw_result;
    using Core = detail::ImapCore<R, F, V>;
    using Chunk = typename Core::Chunk;
    Ex* ex = executor_.get();
    auto submit = [ex, fn = std::move(fn)](std::vector<Item> items) -> Future<Chunk> {
      return ex->submit(Call{fn}, std::move(items));
    };
    std::size_t ahead = std::ranges::sized_range<V> ? 0 : processes_ * 4;
    return ResultRange<typename Core::value_type, Core>(std::make_unique<Core>(
        std::move(submit), std::views::all(std::forward<Rng>(iterable)), chunksize, ordered,
        ahead));
  }

  std::unique_ptr<Ex> executor_;
  std::size_t processes_;
  std::atomic<int> state_{kRun};
  std::unique_ptr<detail::ResultHandler> handler_;
};

// ---- ThreadPool -----------------------------------------------------------------------

// ThreadPool's and Pool's keyword arguments.
struct PoolOptions {
  // The number of workers; unset: the number of CPUs. Below 1 is a ValueError.
  std::optional<int> processes{};
  // Called on each worker before it takes work; if it throws, the pool is broken
  // (BrokenThreadPool from every result, for ThreadPool).
  std::function<void()> initializer{};
  // Pool (processes) only: a worker is replaced after this many tasks. ThreadPool, as
  // Python's, does not take it (ValueError).
  std::optional<std::size_t> maxtasksperchild{};
  // Pool (processes) only: the start method ("fork", "forkserver", "spawn"); empty: the
  // default. ThreadPool does not take it (ValueError).
  std::string context{};
};

// multiprocessing.pool.ThreadPool: the Pool API with threads as workers.
class ThreadPool : public BasicPool<ThreadPoolExecutor> {
 public:
  using Options = PoolOptions;

  // A pool with `options`; ValueError("Number of processes must be at least 1") below 1.
  explicit ThreadPool(Options options = {})
      : BasicPool(make_executor(options), size_for(options.processes), "ThreadPool") {}
  // ThreadPool(processes), as Python's first positional argument.
  explicit ThreadPool(int processes) : ThreadPool(Options{.processes = processes}) {}

 private:
  static std::size_t size_for(std::optional<int> processes) {
    if (processes) return static_cast<std::size_t>(*processes);
    unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
  }
  static std::unique_ptr<ThreadPoolExecutor> make_executor(Options& o) {
    if (o.processes && *o.processes < 1)
      throw ValueError("Number of processes must be at least 1");
    if (o.maxtasksperchild) throw ValueError("ThreadPool does not take maxtasksperchild");
    if (!o.context.empty()) throw ValueError("ThreadPool does not take a context");
    return std::make_unique<ThreadPoolExecutor>(ThreadPoolExecutorOptions{
        .max_workers = static_cast<int>(size_for(o.processes)),
        .thread_name_prefix = "ThreadPool",
        .initializer = std::move(o.initializer),
        .max_pending = 0});
  }
};

// ---- Pool -------------------------------------------------------------------------------

// Pool's keyword arguments (multiprocessing.Pool(processes, initializer, initargs,
// maxtasksperchild, context)).
struct ProcessPoolOptions {
  // The number of worker processes; unset: the number of CPUs. Below 1 is a ValueError.
  std::optional<int> processes{};
  // Runs in each worker before it takes tasks, with its arguments ({init, args...}: they
  // cross as a task's do). If it throws, the pool is broken: every result fails with
  // BrokenProcessPool naming the exception, and no worker is started again.
  ProcessCall initializer{};
  // A worker exits after this many tasks (chunks) and is replaced; unset: never.
  std::optional<std::size_t> maxtasksperchild{};
  // The start method's context (get_context("spawn")); unset: the default.
  std::optional<Context> context{};
};

// multiprocessing.Pool: the Pool API (BasicPool) with worker processes, on a
// ProcessPoolExecutor. What crosses to a worker is what crosses for the executor (a plain
// function, a captureless lambda or a serializable function object, serializable items
// and results); callbacks stay in this process. Beyond Python, a worker that dies in a
// task (killed, exit, abort, a crash) never hangs the pool: that task's result fails with
// WorkerLostError (pid and signal or exit code in its message), the worker is replaced,
// and the other tasks go on; map() then raises instead of hanging.
//
//   mp::Pool pool({.processes = 3});
//   std::vector<int> out = pool.map(bad_fib, std::vector{35, 35, 35});
class Pool : public BasicPool<ProcessPoolExecutor> {
 public:
  using Options = ProcessPoolOptions;

  // Starts the workers; ValueError("Number of processes must be at least 1") below 1.
  explicit Pool(Options options = {})
      : BasicPool(make_executor(options), size_for(options.processes), "Pool") {}
  // Pool(processes), as Python's first positional argument.
  explicit Pool(int processes) : Pool(Options{.processes = processes}) {}

  // The pids of the live workers (beyond Python): for diagnostics and tests.
  std::vector<pid_t> worker_pids() const { return executor().worker_pids(); }

 private:
  static std::size_t size_for(std::optional<int> processes) {
    return static_cast<std::size_t>(processes.value_or(cpu_count()));
  }
  static std::unique_ptr<ProcessPoolExecutor> make_executor(Options& o) {
    if (o.processes && *o.processes < 1)
      throw ValueError("Number of processes must be at least 1");
    if (o.maxtasksperchild && *o.maxtasksperchild < 1)
      throw ValueError("maxtasksperchild must be a positive int or None");
    return std::make_unique<ProcessPoolExecutor>(
        ProcessPoolExecutor::Options{.max_workers = static_cast<int>(size_for(o.processes)),
                                     .mp_context = std::move(o.context),
                                     .initializer = std::move(o.initializer),
                                     .max_tasks_per_child = o.maxtasksperchild},
        gilfree::detail::PoolRole{});
  }
};

}  // namespace multiprocessing

// `import multiprocessing as mp`.
namespace mp = multiprocessing;
// The names as they were before multiprocessing had its namespace.
using multiprocessing::AsyncResult;
using multiprocessing::BasicPool;
using multiprocessing::ThreadPool;
// multiprocessing.pool's WorkerLostError (billiard's name): a worker died in a task.
namespace multiprocessing {
using ::gilfree::WorkerLostError;
}

}  // namespace gilfree
