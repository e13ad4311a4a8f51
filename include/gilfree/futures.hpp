// gilfree/futures.hpp — Python's `concurrent.futures` in C++.
//
// Future<T> (a cheap shared handle, Python's states and errors), AnyFuture (the same
// handle with the element type erased, so wait() and as_completed() mix futures of any
// type and any executor), as_completed (a lazy completion queue), wait, and the Executor
// interface with ThreadPoolExecutor.
//
//   gilfree::ThreadPoolExecutor ex({.max_workers = 4});
//   std::vector<gilfree::Future<int>> fs;
//   for (int i = 0; i < 10; ++i) fs.push_back(ex.submit([](int x) { return x * x; }, i));
//   for (auto& f : gilfree::as_completed(fs)) use(f.as<int>().result());
//   for (int sq : ex.map([](int x) { return x * x; }, inputs, {.buffersize = 64})) ...
//
// Beyond Python: as_completed accepts more futures while it is being iterated;
// ThreadPoolExecutor has bounded submission (`max_pending`, `submit_for`), and a task that
// waits on a future of its own pool which has not started runs that task itself instead
// of deadlocking (see ThreadPoolExecutor).
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "detail/future_state.hpp"
#include "errors.hpp"
#include "timeout.hpp"

namespace gilfree {

template <class T>
class Future;
class Executor;
namespace detail {
struct AnyFutureAccess;
}

// ---- AnyFuture ------------------------------------------------------------------------

// A Future whose element type is not known statically: what wait() and as_completed()
// deal in. Every Future<T> converts to it; as<T>() converts back. A copy shares the same
// future. A default-constructed AnyFuture is empty (valid() is false) and may only be
// assigned, compared or destroyed.
class AnyFuture {
 public:
  AnyFuture() noexcept = default;
  AnyFuture(const AnyFuture& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  AnyFuture(AnyFuture&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  AnyFuture& operator=(AnyFuture o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~AnyFuture() {
    if (s_) s_->release();
  }

  // True unless default-constructed or moved from.
  bool valid() const noexcept { return s_ != nullptr; }

  // Cancels the call if it has not started: true if it is now cancelled (or already was),
  // false if it is running or finished. Done-callbacks run at once.
  bool cancel() const { return s_->cancel(); }
  // True if the call was cancelled.
  bool cancelled() const noexcept {
    auto st = s_->state();
    return st == FutureState::CANCELLED || st == FutureState::CANCELLED_AND_NOTIFIED;
  }
  // True while the call is executing and cannot be cancelled.
  bool running() const noexcept { return s_->state() == FutureState::RUNNING; }
  // True once the call finished or was cancelled.
  bool done() const noexcept { return s_->done(); }
  // The state, with CPython's names.
  FutureState state() const noexcept { return s_->state(); }

  // Waits up to `timeout` for the call; rethrows its exception. CancelledError if
  // cancelled, TimeoutError if the timeout passes first.
  void result(Timeout timeout = {}) const {
    wait_for_done(timeout);
    if (auto& e = s_->stored_exception()) {
      detail::keep_failed(s_);
      std::rethrow_exception(e);
    }
  }
  // Waits like result() and returns the call's exception, or nullptr if it succeeded.
  // CancelledError if cancelled, TimeoutError if the timeout passes first.
  std::exception_ptr exception(Timeout timeout = {}) const {
    wait_for_done(timeout);
    if (s_->stored_exception()) detail::keep_failed(s_);
    return s_->stored_exception();
  }
  // Calls `fn(future)` when the future finishes or is cancelled, or at once on this
  // thread if it already has; callbacks run in the order added. An exception escaping
  // `fn` goes to the LogHook and changes nothing else.
  void add_done_callback(std::function<void(AnyFuture)> fn) const;

  // For executors: marks the future RUNNING and returns true, or, if it was cancelled,
  // notifies wait()/as_completed() and returns false. RuntimeError("Future in unexpected
  // state") if it is already running or done.
  bool set_running_or_notify_cancel() const { return s_->set_running_or_notify_cancel(); }
  // For executors: finishes the future with `error`. InvalidStateError if done already.
  void set_exception(std::exception_ptr error) const { s_->set_exception(std::move(error)); }

  // The Future<T> this is; std::bad_cast if its element type is not T.
  template <class T>
  Future<T> as() const;
  // typeid of the element type (typeid(void) for Future<void>).
  const std::type_info& value_type() const noexcept { return s_->value_type(); }
  // <Future at 0x... state=pending>, as Python's repr.
  std::string repr() const { return s_ ? s_->repr() : std::string("<Future empty>"); }

  friend bool operator==(const AnyFuture& a, const AnyFuture& b) noexcept {
    return a.s_ == b.s_;
  }
  // A hash consistent with ==, for std::unordered_set.
  std::size_t hash() const noexcept { return std::hash<const void*>()(s_); }

 protected:
  struct Adopt {};
  AnyFuture(detail::SharedStateBase* s, Adopt) noexcept : s_(s) {}

  // Waits for done(), running a not-yet-started task of the calling worker's own executor
  // inline (the deadlock guard); throws CancelledError / TimeoutError.
  void wait_for_done(const Timeout& timeout) const {
    if (!s_->done()) {
      if (detail::current_worker_owner != nullptr && s_->owner() == detail::current_worker_owner &&
          s_->state() == FutureState::PENDING)
        s_->run_task();
      if (!s_->wait_done(timeout.deadline())) throw TimeoutError();
    }
    if (s_->state() != FutureState::FINISHED) throw CancelledError();
  }

  detail::SharedStateBase* s_ = nullptr;

  friend class Executor;
  template <class T>
  friend class Future;
  friend struct detail::AnyFutureAccess;
};

namespace detail {
// Internal access to a handle's state, for the library's own machinery.
struct AnyFutureAccess {
  static SharedStateBase* state(const AnyFuture& f) noexcept { return f.s_; }
  static AnyFuture adopt(SharedStateBase* s) noexcept { return AnyFuture(s, AnyFuture::Adopt{}); }
};
}  // namespace detail

// ---- Future<T> ------------------------------------------------------------------------

// The result of an asynchronous call, as concurrent.futures.Future: a cheap handle that
// copies share. Future<void> is a future without a value.
template <class T>
class Future : public AnyFuture {
 public:
  using element_type = T;

  // A new pending future, as Python's Future(): for code that completes it itself with
  // set_running_or_notify_cancel() / set_result() / set_exception().
  Future() : AnyFuture(new detail::SharedState<T>(), Adopt{}) {}

  // Waits up to `timeout` and returns the value (a reference valid while any handle to
  // this future lives); rethrows the call's exception; CancelledError if cancelled;
  // TimeoutError if the timeout passes first.
  decltype(auto) result(Timeout timeout = {}) const {
    AnyFuture::result(timeout);
    if constexpr (!std::is_void_v<T>) return std::as_const(typed_state()->value());
  }

  // Finishes the future with `value`. InvalidStateError if it is done already.
  template <class U = detail::stored_t<T>>
    requires(!std::is_void_v<T> && std::constructible_from<T, U &&>)
  void set_result(U&& value) const {
    typed_state()->set_value(std::forward<U>(value));
  }
  // Finishes a Future<void>. InvalidStateError if it is done already.
  void set_result() const
    requires std::is_void_v<T>
  {
    typed_state()->set_value();
  }

  // As AnyFuture::add_done_callback, with the typed handle.
  void add_done_callback(std::function<void(Future<T>)> fn) const {
    s_->add_done_callback([fn = std::move(fn)](detail::SharedStateBase& s) {
      s.add_ref();
      fn(Future<T>(static_cast<detail::SharedState<T>*>(&s), Adopt{}));
    });
  }

 private:
  friend class AnyFuture;
  friend class Executor;
  Future(detail::SharedState<T>* s, Adopt) noexcept : AnyFuture(s, Adopt{}) {}
  detail::SharedState<T>* typed_state() const noexcept {
    return static_cast<detail::SharedState<T>*>(s_);
  }
};

template <class T>
Future<T> AnyFuture::as() const {
  if (!s_ || s_->value_type() != typeid(T)) throw std::bad_cast();
  s_->add_ref();
  return Future<T>(static_cast<detail::SharedState<T>*>(s_), Adopt{});
}

}  // namespace gilfree

template <>
struct std::hash<gilfree::AnyFuture> {
  std::size_t operator()(const gilfree::AnyFuture& f) const noexcept { return f.hash(); }
};
template <class T>
struct std::hash<gilfree::Future<T>> {
  std::size_t operator()(const gilfree::Future<T>& f) const noexcept { return f.hash(); }
};

namespace gilfree {

namespace detail {
// Any range whose elements convert to AnyFuture.
template <class R>
concept future_range =
    std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, AnyFuture>;

class AsCompletedCore;
}  // namespace detail

// ---- as_completed ---------------------------------------------------------------------

// The range as_completed() returns: yields each future once, as it completes (those
// already done first). It is a completion queue: add() may be called at any time, also
// while iterating and from other threads. A future is released as soon as it is yielded.
// Move-only; destroying it detaches it from the futures still pending.
class AsCompleted {
 public:
  class iterator {
   public:
    using value_type = AnyFuture;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    const AnyFuture& operator*() const noexcept { return current_; }
    const AnyFuture* operator->() const noexcept { return &current_; }
    // Blocks for the next completed future; TimeoutError when the timeout passes first.
    iterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.current_.valid();
    }

   private:
    friend class AsCompleted;
    explicit iterator(AsCompleted* owner) : owner_(owner) { ++*this; }
    AsCompleted* owner_ = nullptr;
    AnyFuture current_;
  };

  // An empty completion queue whose timeout counts from now (forever by default).
  explicit AsCompleted(Timeout timeout = {});
  AsCompleted(AsCompleted&&) noexcept;
  AsCompleted& operator=(AsCompleted&&) noexcept;
  ~AsCompleted();

  // Adds a future to yield when it completes; a future already pending here or waiting
  // to be yielded is ignored (each is yielded once).
  void add(const AnyFuture& future);
  // Adds every future of `futures`.
  template <detail::future_range R>
  void add_all(R&& futures) {
    for (auto&& f : futures) add(AnyFuture(f));
  }
  // Blocks until the first completed future (TimeoutError when the timeout passes).
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }
  // Futures added but not yet yielded.
  std::size_t size() const;

 private:
  std::unique_ptr<detail::AsCompletedCore> core_;
};

// Python's as_completed(fs, timeout): a lazy input range over `futures` (of any element
// types, from any executors) yielding each once as it completes, already-done ones first,
// duplicates once; iterating raises TimeoutError("N (of M) futures unfinished") when
// `timeout` (counted from this call) passes first. More futures may be add()ed.
template <detail::future_range R>
AsCompleted as_completed(R&& futures, Timeout timeout = {}) {
  AsCompleted r(timeout);
  r.add_all(std::forward<R>(futures));
  return r;
}
inline AsCompleted as_completed(std::initializer_list<AnyFuture> futures, Timeout timeout = {}) {
  AsCompleted r(timeout);
  r.add_all(futures);
  return r;
}

// ---- wait -----------------------------------------------------------------------------

// When wait() returns, as Python's module constants.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

// wait()'s answer: the futures that completed (finished or cancelled-and-notified) and
// those that did not, as Python's DoneAndNotDoneFutures.
struct DoneAndNotDoneFutures {
  std::unordered_set<AnyFuture> done;
  std::unordered_set<AnyFuture> not_done;
};

// Python's wait(fs, timeout, return_when): blocks until `return_when` holds — any future
// completes (FIRST_COMPLETED), any finishes with an exception or all complete
// (FIRST_EXCEPTION), all complete (ALL_COMPLETED) — or `timeout` passes; never throws
// TimeoutError (check not_done).
DoneAndNotDoneFutures wait(const std::vector<AnyFuture>& futures, Timeout timeout = {},
                           ReturnWhen return_when = ALL_COMPLETED);
template <detail::future_range R>
  requires(!std::same_as<std::remove_cvref_t<R>, std::vector<AnyFuture>>)
DoneAndNotDoneFutures wait(R&& futures, Timeout timeout = {},
                           ReturnWhen return_when = ALL_COMPLETED) {
  std::vector<AnyFuture> v;
  for (auto&& f : futures) v.emplace_back(AnyFuture(f));
  return wait(v, timeout, return_when);
}

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

// Python's Executor: submit(), map() and shutdown(). An implementation provides
// schedule() (queue a task or refuse it) and shutdown(); its destructor must call
// shutdown(true), as Python's `with` block does.
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
  // Queues `task`, which comes with one reference for the queue, so that a worker later
  // calls task->run_task() and then task->release(); or throws to refuse it (the caller
  // then drops that reference). May block
  // until `deadline` (bounded executors) and then throw Full.
  virtual void schedule(detail::SharedStateBase* task, const Deadline& deadline) = 0;

  template <class F, class... Args>
  auto submit_until(const Deadline& deadline, F&& fn, Args&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>...>;
    auto call = [f = std::forward<F>(fn),
                 tup = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)]() mutable
        -> R { return std::apply(f, std::move(tup)); };
    auto* task = new detail::TaskState<R, decltype(call)>(this, std::move(call));
    Future<R> future(task, AnyFuture::Adopt{});
    try {
      schedule(task, deadline);
    } catch (...) {
      task->release();  // refused: the queue never took its reference
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

template <class F, class... Vs>
auto Executor::map_impl(F fn, MapOptions options, Vs... views) {
  using Core = detail::MapCore<F, Vs...>;
  using raw = typename Core::raw_result;
  auto submit = [this](F& f, std::ranges::range_reference_t<Vs>... xs) -> Future<raw> {
    return this->submit(f, std::forward<decltype(xs)>(xs)...);
  };
  return ResultRange<typename Core::value_type, Core>(std::make_unique<Core>(
      std::move(submit), std::move(fn), std::move(options), std::move(views)...));
}

// ---- ThreadPoolExecutor ---------------------------------------------------------------

// ThreadPoolExecutor's keyword arguments.
struct ThreadPoolExecutorOptions {
  // At most this many worker threads; unset: min(32, cores + 4), as Python. ≤ 0 is a
  // ValueError.
  std::optional<int> max_workers{};
  // Workers are named "<prefix>_N"; empty: "ThreadPoolExecutor-K" (K counts executors).
  std::string thread_name_prefix{};
  // Called on each worker before it takes work; if it throws, the pool is broken:
  // pending and later submissions fail with BrokenThreadPool.
  std::function<void()> initializer{};
  // Beyond Python: when nonzero, at most this many submitted calls may wait for a worker;
  // submit() then blocks and submit_for() blocks up to its timeout.
  std::size_t max_pending = 0;
};

// Python's ThreadPoolExecutor. Workers are gilfree threads started on demand (one per
// submit while none is idle, up to max_workers) and reused; idle ones sleep after a
// short spin. The submit path takes no lock and makes no syscall while workers are busy.
//
// Deadlock guard: a worker that waits (result()/exception()) on a future of this same
// executor whose call has not started runs that call itself, right there. We chose this
// over detection because it is exact (only the awaited call runs on the waiting stack,
// so no unrelated work, no reordering surprises, no false positives from waits that a
// timeout or another thread would have ended) and it turns the classic deadlock — every
// worker blocked on work queued behind it, e.g. max_workers=1 and a task waiting on a
// task it submitted — into plain nested calls. wait() and as_completed() do not do this.
class ThreadPoolExecutor final : public Executor {
 public:
  using Options = ThreadPoolExecutorOptions;

  // A pool with `options`; ValueError("max_workers must be greater than 0").
  explicit ThreadPoolExecutor(Options options = {});
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  // shutdown(true): runs every submitted call, then joins the workers.
  ~ThreadPoolExecutor() override;

  using Executor::submit;
  // As submit(), but with max_pending set waits at most `timeout` for room, then throws
  // Full("executor queue is full"). Without max_pending it is submit().
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  auto submit_for(Timeout timeout, F&& fn, Args&&... args) {
    return submit_until(timeout.deadline(), std::forward<F>(fn), std::forward<Args>(args)...);
  }

  void shutdown(bool wait = true, bool cancel_futures = false) override;

  // The max_workers in effect.
  int max_workers() const noexcept;
  // The workers' name prefix in effect.
  const std::string& thread_name_prefix() const noexcept;
  // How many worker threads have been started so far.
  std::size_t num_threads() const noexcept;
  // Calls submitted and not yet taken by a worker (exact only when quiet).
  bool has_queued_work() const noexcept;

 protected:
  void schedule(detail::SharedStateBase* task, const Deadline& deadline) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gilfree
