// gilfree/futures/process.hpp — concurrent.futures.ProcessPoolExecutor: calls run in worker
// processes (fork, forkserver or spawn), and a worker's death is a normal, reported event.
//
//   int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
//   gilfree::ProcessPoolExecutor ex({.max_workers = 3});
//   std::vector<gilfree::Future<int>> fs;
//   for (int n : {30, 31, 32}) fs.push_back(ex.submit(fib, n));
//   for (auto f : gilfree::as_completed(fs)) use(f.result());
//   for (int v : ex.map(fib, inputs, {.chunksize = 16})) ...
//
// What may cross (multiprocessing/reduction.hpp): a plain function, a captureless lambda or
// a cereal-serializable function object, with serializable arguments and a serializable
// result; anything else is a compile-time error. A worker's exception comes back as the
// same type when the caller knows it (gilfree's, the standard library's, and types given
// to mp::register_exception<E>()), else as mp::RemoteError("<type>: <message>").
//
// Data flow (in the spirit of CPython's Lib/concurrent/futures/process.py):
//
//   caller threads          | manager thread (one per executor)    | worker processes
//   submit(fn, args...)     |                                      |
//    encode_call(Capture{fn},                                      |
//      args...) -> frame    |                                      |
//    Future<R> + frame +    |                                      |
//    typed completion  ---> | queue (pending; cancel() works here) |
//    (wakes the manager     |  -> set_running_or_notify_cancel     |
//     only if it sleeps)    |  -> batch of frames, one socket per  |
//                           |     worker, non-blocking writes ---> | run_call(frame): fn(args)
//                           |                                      |  -> Reply: value frame
//                           | replies, in order, per worker  <---- |     or "<type>\0<what>"
//                           |  (each worker's ring in shared       |     into the ring at once
//                           |   memory; its socket for large ones) |     (a syscall only to
//                           |                                      |      wake a sleeping manager)
//   Future completes,       | <- loads<R>(frame) / rebuilt error   |
//   callbacks run here      |                                      |
//                           | poll(): wake-up eventfd, listener,   |
//                           |   sockets, each worker's sentinel    |
//                           |   (pidfd), nearest task deadline     |
//
// The manager knows which calls each worker holds, in order, so a worker's end is exact:
// its replies already written are read first; then the call it was running is the first
// one without a reply. A reply is in the shared ring before the worker starts its next
// call, so replies batch themselves (the manager drains many per wake-up) and yet none of
// a finished call is lost with the worker. What happens next is the executor's
// WorkerDeathPolicy.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../errors.hpp"
#include "../multiprocessing/detail/remote_call.hpp"
#include "../multiprocessing/exceptions.hpp"
#include "../multiprocessing/process.hpp"
#include "../multiprocessing/reduction.hpp"
#include "../timeout.hpp"
#include "executor.hpp"
#include "future.hpp"

namespace gilfree {

// What a ProcessPoolExecutor does when a worker process dies while it holds calls (killed
// by a signal, or it called exit/abort, or it crashed).
enum class WorkerDeathPolicy {
  // Python's behaviour: the pool is broken. Every pending and running future fails with
  // BrokenProcessPool (its message names the dead worker's pid and exit code or signal),
  // the other workers are terminated, and later submits raise BrokenProcessPool.
  break_pool,
  // Only the call that the worker was running fails, with WorkerLostError; the calls that
  // were queued behind it go to other workers, a new worker replaces it, and the pool
  // goes on (pebble's and billiard's behaviour). mp::Pool always works this way.
  respawn,
};

// A worker process ended while it was running a call (WorkerDeathPolicy::respawn, and
// mp::Pool): only that call fails. what(): "Worker exited prematurely: signal 9
// (SIGKILL) (pid 1234)" or "...: exit code 3 (pid 1234)".
struct WorkerLostError : BrokenProcessPool {
  WorkerLostError(const std::string& what, pid_t pid, int exitcode)
      : BrokenProcessPool(what), pid_(pid), exitcode_(exitcode) {}
  // Rebuilt from a message alone (a worker of a nested pool raised it).
  explicit WorkerLostError(const std::string& what) : BrokenProcessPool(what) {}
  // The worker's pid (0 when unknown).
  pid_t pid() const noexcept { return pid_; }
  // The worker's exit code: N for exit(N), -N for signal N (as Process::exitcode()).
  int exitcode() const noexcept { return exitcode_; }

 private:
  pid_t pid_ = 0;
  int exitcode_ = 0;
};

// A function and its arguments, encoded so that a worker process can run it: the
// `initializer` (with its `initargs`) of ProcessPoolExecutor and mp::Pool. Converts from
// a callable that can cross (see the top of this file):
//   {.initializer = init}              // void init();
//   {.initializer = {init, 42, "db"}}  // void init(int, std::string);
class ProcessCall {
 public:
  // No call.
  ProcessCall() = default;
  // fn(args...), encoded now; a callable or argument that cannot cross is a compile-time
  // error.
  template <class F, class... Args>
    requires(!std::same_as<std::remove_cvref_t<F>, ProcessCall> &&
             std::invocable<std::decay_t<F>&, std::decay_t<Args>&...>)
  ProcessCall(F&& fn, Args&&... args)  // NOLINT: implicit, as the designated field reads
      : frame_(multiprocessing::encode_call(std::forward<F>(fn), std::forward<Args>(args)...)) {}
  // True when there is a call.
  explicit operator bool() const noexcept { return !frame_.empty(); }
  // The call frame (multiprocessing::run_call runs it).
  const std::string& frame() const noexcept { return frame_; }

 private:
  std::string frame_;
};

// ProcessPoolExecutor's keyword arguments.
struct ProcessPoolExecutorOptions {
  // The number of worker processes; unset: the number of CPUs. Below 1 is a ValueError
  // ("max_workers must be greater than 0").
  std::optional<int> max_workers{};
  // The start method's context (mp::get_context("spawn")); unset: the default
  // (mp::get_start_method(), "forkserver" unless set).
  std::optional<multiprocessing::Context> mp_context{};
  // Run in each worker before it takes calls. If it throws, the pool is broken: every
  // pending future and later submit fails with BrokenProcessPool naming the exception;
  // no worker is started again (no respawn storm).
  ProcessCall initializer{};
  // A worker exits after this many calls and a new one replaces it; unset: never. Zero
  // is a ValueError.
  std::optional<std::size_t> max_tasks_per_child{};
  // What a worker's death does (see WorkerDeathPolicy); Python's by default.
  WorkerDeathPolicy on_worker_death = WorkerDeathPolicy::break_pool;
};

// submit()'s options beyond Python (as pebble's schedule(timeout=)).
struct TaskOptions {
  // How long the call may run once a worker has started it (forever by default). Past
  // it, its future fails with TimeoutError, and only the worker running it is killed and
  // replaced; the pool goes on whatever its WorkerDeathPolicy.
  Timeout timeout{};
};

// ProcessPoolExecutor::map's keyword arguments.
struct ProcessMapOptions {
  // How long the whole iteration may take, counted from the call (forever by default);
  // reaching a result after it passes throws TimeoutError.
  Timeout timeout{};
  // How many items each call carries (Python's chunksize): larger chunks amortise the
  // messages. Zero is a ValueError.
  std::size_t chunksize = 1;
  // How many calls (chunks) may run ahead of the consumer (Python 3.14); unset: all inputs
  // are submitted at once. Zero is a ValueError.
  std::optional<std::size_t> buffersize{};
};

namespace detail {

class ProcessPoolCore;

// One submitted call as the manager holds it: the encoded call, its future, and how to
// complete that future from a reply (typed where submit() knew R; nothing else is kept).
struct ProcessTask {
  std::string frame;
  AnyFuture future;
  void (*complete)(const AnyFuture& future, bool ok, std::string_view frame) = nullptr;
  std::optional<std::chrono::steady_clock::duration> timeout{};
  bool started = false;  // set RUNNING (sent once already: a requeued call)
};

// Marks the constructor that mp::Pool uses: daemonic workers, WorkerDeathPolicy::respawn.
struct PoolRole {};

template <class R>
void complete_process_task(const AnyFuture& future, bool ok, std::string_view frame) {
  multiprocessing::detail::complete_from_reply<R>(future.as<R>(), ok, frame);
}

// map()'s chunk: fn over each item (a tuple of arguments), results in order.
template <class F, class Item>
struct ProcessMapChunk {
  multiprocessing::detail::FnBox<F> box;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(box);
  }
  using raw_result = decltype(std::apply(std::declval<F&>(), std::declval<Item&&>()));
  using value_type = stored_t<raw_result>;
  std::vector<value_type> operator()(std::vector<Item>&& items) {
    std::vector<value_type> out;
    out.reserve(items.size());
    for (auto& it : items) {
      if constexpr (std::is_void_v<raw_result>) {
        std::apply(box.fn, std::move(it));
        out.emplace_back();
      } else {
        out.push_back(std::apply(box.fn, std::move(it)));
      }
    }
    return out;
  }
};

// map()'s engine with chunks: reads the zipped inputs `chunksize` at a time, keeps up to
// `buffersize` chunks in flight (all when unset), hands results back one by one in input
// order; a failed item rethrows and cancels the chunks not started.
template <class V, class Item, class... Vs>
class ChunkedMapCore {
 public:
  using value_type = V;
  using SubmitChunk = std::function<Future<std::vector<V>>(std::vector<Item>)>;

  ChunkedMapCore(SubmitChunk submit, const ProcessMapOptions& options, Vs... views)
      : submit_(std::move(submit)),
        chunksize_(options.chunksize),
        buffersize_(options.buffersize.value_or(0)),
        deadline_(options.timeout.deadline()),
        views_(std::move(views)...),
        its_(std::apply([](auto&... v) { return std::tuple(std::ranges::begin(v)...); }, views_)) {
    if (chunksize_ == 0) throw ValueError("chunksize must be >= 1.");
    if (options.buffersize && *options.buffersize == 0)
      throw ValueError("buffersize must be None or > 0");
    while ((buffersize_ == 0 || fs_.size() < buffersize_) && submit_one()) {
    }
  }
  ChunkedMapCore(const ChunkedMapCore&) = delete;
  ~ChunkedMapCore() {
    for (auto& f : fs_) f.cancel();
  }

  std::optional<V> next() {
    while (pos_ == chunk_.size()) {
      chunk_.clear();
      pos_ = 0;
      if (fs_.empty()) return std::nullopt;
      Future<std::vector<V>> f = std::move(fs_.front());
      fs_.pop_front();
      if (buffersize_ != 0)
        while (fs_.size() < buffersize_ && submit_one()) {
        }
      try {
        if (deadline_.is_forever()) {
          (void)f.result();
        } else {
          (void)f.result(deadline_.remaining());
        }
      } catch (...) {
        f.cancel();
        for (auto& g : fs_) g.cancel();
        fs_.clear();
        failed_ = f;  // see MapCore::next
        throw;
      }
      chunk_ = std::move(static_cast<SharedState<std::vector<V>>*>(AnyFutureAccess::state(f))->value());
    }
    return std::optional<V>(std::move(chunk_[pos_++]));
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
    std::vector<Item> items;
    while (items.size() < chunksize_ && !exhausted()) {
      std::apply([&](auto&... it) { items.emplace_back(*it...); }, its_);
      std::apply([](auto&... it) { (++it, ...); }, its_);
    }
    if (items.empty()) return false;
    fs_.push_back(submit_(std::move(items)));
    return true;
  }

  SubmitChunk submit_;
  std::size_t chunksize_;
  std::size_t buffersize_;
  Deadline deadline_;
  std::tuple<Vs...> views_;
  std::tuple<std::ranges::iterator_t<Vs>...> its_;
  std::deque<Future<std::vector<V>>> fs_;
  std::vector<V> chunk_;
  std::size_t pos_ = 0;
  AnyFuture failed_;
};

}  // namespace detail

// Python's concurrent.futures.ProcessPoolExecutor. Workers are started when the executor
// is made and are replaced as the options say (max_tasks_per_child, a death under
// WorkerDeathPolicy::respawn, a task timeout). Workers ignore SIGINT (a Ctrl-C is the
// parent's to handle) and die with the parent, even when it is SIGKILLed.
class ProcessPoolExecutor final : public Executor {
 public:
  using Options = ProcessPoolExecutorOptions;

  // Starts `max_workers` workers with `options`' start method. ValueError for a bad
  // option; the start method's own errors (e.g. spawn without the main hook).
  explicit ProcessPoolExecutor(Options options = {});
  // The executor behind mp::Pool: as above, with daemonic workers (as Pool's) and
  // WorkerDeathPolicy::respawn whatever `options` says.
  ProcessPoolExecutor(Options options, detail::PoolRole);
  // ProcessPoolExecutor(max_workers), as Python's first positional argument.
  explicit ProcessPoolExecutor(int max_workers)
      : ProcessPoolExecutor(Options{.max_workers = max_workers}) {}
  // shutdown(true), as leaving Python's `with` block.
  ~ProcessPoolExecutor() override;
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;

  // Schedules fn(args...) on a worker process and returns its Future. fn, args and the
  // result must be able to cross (a compile-time error otherwise). RuntimeError("cannot
  // schedule new futures after shutdown") after shutdown(); BrokenProcessPool once broken.
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  auto submit(F&& fn, Args&&... args) {
    return submit_task(std::nullopt, std::forward<F>(fn), std::forward<Args>(args)...);
  }
  // submit() with a time limit on the call (see TaskOptions):
  //   ex.submit({.timeout = 2s}, slow, 42)
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  auto submit(TaskOptions options, F&& fn, Args&&... args) {
    std::optional<std::chrono::steady_clock::duration> limit;
    if (!options.timeout.is_forever()) limit = options.timeout.duration();
    return submit_task(limit, std::forward<F>(fn), std::forward<Args>(args)...);
  }

  // Python's map(fn, *iterables, timeout, chunksize, buffersize): fn over the zipped
  // ranges (stopping at the shortest), `chunksize` items per call; an input range of the
  // results in input order, produced lazily. Reaching a failed item rethrows its
  // exception (and cancels the calls not started); TimeoutError once `timeout` has passed.
  // A void fn yields std::monostate.
  template <class F, std::ranges::viewable_range... Rs>
    requires(sizeof...(Rs) > 0 && (std::ranges::input_range<Rs> && ...) &&
             std::invocable<F&, std::ranges::range_reference_t<Rs>...>)
  auto map(F fn, Rs&&... ranges) {
    return map_impl(std::move(fn), ProcessMapOptions{}, std::views::all(std::forward<Rs>(ranges))...);
  }
  template <class F, std::ranges::viewable_range R>
    requires std::ranges::input_range<R> && std::invocable<F&, std::ranges::range_reference_t<R>>
  auto map(F fn, R&& range, ProcessMapOptions options) {
    return map_impl(std::move(fn), std::move(options), std::views::all(std::forward<R>(range)));
  }
  template <class F, std::ranges::viewable_range R1, std::ranges::viewable_range R2>
    requires std::ranges::input_range<R1> && std::ranges::input_range<R2> &&
             std::invocable<F&, std::ranges::range_reference_t<R1>,
                            std::ranges::range_reference_t<R2>>
  auto map(F fn, R1&& r1, R2&& r2, ProcessMapOptions options) {
    return map_impl(std::move(fn), std::move(options), std::views::all(std::forward<R1>(r1)),
                    std::views::all(std::forward<R2>(r2)));
  }

  // Stops accepting calls; with `cancel_futures`, cancels the calls no worker has taken;
  // with `wait`, returns once the other calls are done and every worker has exited.
  // Without `wait`, queued calls still run, in the background. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false) override;
  // Python 3.14: shutdown(false, true), then SIGTERM to every live worker; the calls they
  // were running fail with BrokenProcessPool. Returns once the workers have exited.
  void terminate_workers();
  // As terminate_workers(), with SIGKILL.
  void kill_workers();

  // The number of workers the pool keeps.
  int max_workers() const noexcept;
  // The pids of the live workers (beyond Python, which has _processes): for diagnostics
  // and tests.
  std::vector<pid_t> worker_pids() const;

 protected:
  // Reached only through Executor& with a closure, which cannot cross to a process:
  // RuntimeError. Call submit() on the ProcessPoolExecutor itself.
  void schedule(detail::WorkItem* item, const Deadline& deadline) override;

 private:
  template <class F, class... Args>
  auto submit_task(std::optional<std::chrono::steady_clock::duration> limit, F&& fn,
                   Args&&... args) {
    namespace mpd = multiprocessing::detail;
    using Fn = mpd::stored_fn_t<F>;
    if constexpr (mpd::is_chunk_call<Fn>::value) {  // from the Pool front (mp::Pool)
      return submit_task(limit, mpd::to_remote(fn), std::forward<Args>(args)...);
    } else {
      static_assert(mpd::plain_function<F> || mpd::stateless_callable<F> ||
                        multiprocessing::serializable<Fn>,
                    "a lambda with captures cannot cross a process boundary: pass the values "
                    "as arguments, or give the callable a serialize() member");
      using R = std::invoke_result_t<Fn&, std::decay_t<Args>...>;
      static_assert(std::is_void_v<R> || multiprocessing::serializable<R>,
                    "the result of a call that runs in a worker process must be serializable "
                    "with cereal");
      detail::ProcessTask task;
      task.frame = multiprocessing::encode_call(
          mpd::Capture<Fn>{mpd::FnBox<Fn>{Fn(std::forward<F>(fn))}}, std::forward<Args>(args)...);
      Future<R> future;
      task.future = future;
      task.complete = &detail::complete_process_task<R>;
      task.timeout = limit;
      admit(std::move(task));
      return future;
    }
  }

  // Every map goes in chunks (of one item by default: one call per item, as Python's).
  template <class F, class... Vs>
  auto map_impl(F fn, ProcessMapOptions options, Vs... views) {
    using Fn = multiprocessing::detail::stored_fn_t<F>;
    static_assert(multiprocessing::detail::plain_function<F> ||
                      multiprocessing::detail::stateless_callable<F> ||
                      multiprocessing::serializable<Fn>,
                  "a lambda with captures cannot cross a process boundary: pass the values "
                  "as arguments, or give the callable a serialize() member");
    using Item = std::tuple<std::remove_cvref_t<std::ranges::range_reference_t<Vs>>...>;
    using Chunk = detail::ProcessMapChunk<Fn, Item>;
    using V = typename Chunk::value_type;
    using Core = detail::ChunkedMapCore<V, Item, Vs...>;
    auto submit = [this, f = Fn(fn)](std::vector<Item> items) -> Future<std::vector<V>> {
      return this->submit(Chunk{multiprocessing::detail::FnBox<Fn>{f}}, std::move(items));
    };
    return ResultRange<V, Core>(
        std::make_unique<Core>(std::move(submit), options, std::move(views)...));
  }

  void admit(detail::ProcessTask task);

  std::shared_ptr<detail::ProcessPoolCore> core_;
};

}  // namespace gilfree
