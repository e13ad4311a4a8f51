// gilfree/mpi/futures.hpp — concurrent.futures across MPI ranks (as mpi4py.futures), on
// Open MPI. An optional component: link gilfree::mpi (library gilfree_mpi), built only when
// CMake finds MPI; the core library never depends on it.
//
// The static world, as `mpiexec -n N python -m mpi4py.futures script.py` (spawn mode: run
// the same program without mpirun and the first executor spawns its workers):
//
//   int main(int argc, char** argv) {
//     gilfree::mpi::Session session(argc, argv);  // ranks 1..N-1 serve tasks here, then exit(0)
//     gilfree::mpi::MPIPoolExecutor ex;           // rank 0 only: N-1 workers
//     auto f = ex.submit(&square, 7);             // f.result() == 49
//     for (int y : ex.map(square, xs, {.chunksize = 100})) use(y);  // lazily, in order
//   }
//
//   mpirun -n 4 ./app
//
// Functions and values cross exactly as for processes (multiprocessing/reduction.hpp: one
// wire format, the same PicklingError/UnpicklingError): a plain function, a captureless
// lambda or a cereal-serializable function object, with serializable arguments and result.
// A task's exception reaches the caller's future: gilfree's and the standard library's
// exception types are rebuilt as themselves, any other type as RemoteError naming it.
//
// A rank that dies (a crash, std::exit or a signal in a task): Open MPI's fault model is
// "abort" (no ULFM in Debian's build). In a static world mpirun terminates the whole job,
// rank 0 included, with a message naming the failed rank and a non-zero exit status (the
// rank's, or 128 + signal). In spawn mode Open MPI aborts the workers' job but leaves the
// parent running, so rank 0 watches its workers' pids while results are due and, within
// ~0.1 s of a death, prints "gilfree::mpi: worker rank N (pid P) ... died" and exits with
// status 70. Either way callers never hang, but cannot catch it either; ranks that run
// different binaries abort the job at Session start (status 3). tests/mpi checks all this.
//
// mpi::Pool is multiprocessing's Pool front (apply_async, map, imap, imap_unordered,
// starmap) over an MPIPoolExecutor, as mpi4py 4's mpi4py.util.pool.
//
// MPIPoolExecutor is a gilfree::Executor: its futures work with as_completed, wait and
// progress, and shutdown() and submit() work through Executor&. Its own submit and map are
// templates that see F and Args and encode the call; through Executor&, submit(f, args...)
// reaches it as a typed call (WorkItem::call_type()), which it can send when the same call
// type is encodable and MPIPoolExecutor::submit<F, Args...> is instantiated somewhere in
// the program (that registers it); any other call through Executor& is a RuntimeError.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <cereal/types/variant.hpp>  // std::monostate: what a void call yields in a chunk

#include "../futures.hpp"
#include "../futures/executor.hpp"
#include "../futures/process.hpp"  // ProcessCall: the initializer
#include "../multiprocessing/pool.hpp"
#include "../multiprocessing/detail/remote_call.hpp"
#include "../multiprocessing/reduction.hpp"

namespace gilfree::mpi {

class MPIPoolExecutor;

// A task's exception whose type has no counterpart on the caller's side: what() is
// "<type>: <message>" (the same type as a worker process's, multiprocessing/exceptions.hpp).
using RemoteError = multiprocessing::RemoteError;

// The MPI environment of one process: MPI_Init_thread in the constructor, MPI_Finalize in
// the destructor. The constructor does not return in a worker: on ranks other than 0 of a
// static world of N > 1 ranks, and in a process spawned by MPIPoolExecutor; it serves
// tasks until rank 0's Session ends, then exit(0) (as `python -m mpi4py.futures`). Create
// exactly one, first thing in main.
// Session's options.
struct SessionOptions {
  // Whether ranks other than 0 of a static world serve tasks from the constructor on (as
  // `python -m mpi4py.futures`). false: every rank returns, and an MPICommExecutor decides.
  bool serve = true;
};

class Session {
 public:
  Session(int& argc, char**& argv, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // This process's rank in MPI_COMM_WORLD.
  int rank() const noexcept;
  // The number of ranks in MPI_COMM_WORLD.
  int size() const noexcept;
};

// MPIPoolExecutor::map's keyword arguments (as mpi4py.futures' map).
struct MapOptions {
  // How long the whole iteration may take, counted from the call (forever by default);
  // reaching a result after it passes throws TimeoutError.
  Timeout timeout{};
  // How many items each task carries (at least 1); larger chunks amortise the messages.
  std::size_t chunksize = 1;
  // How many chunks may be in flight ahead of the consumer (Python 3.14's buffersize, in
  // chunks as ProcessPoolExecutor counts it). Unset: every chunk is submitted by map()
  // itself, so the input must be finite. Zero is a ValueError.
  std::optional<std::size_t> buffersize{};
  // Yield results as chunks complete instead of in input order.
  bool unordered = false;
};

// MPIPoolExecutor's options.
struct MPIPoolExecutorOptions {
  // Spawn mode only: how many workers the first executor of a plain program starts; unset:
  // $GILFREE_MPI_MAX_WORKERS, else the number of hardware threads. Ignored in a static
  // world, whose workers are the ranks mpirun started. Zero or less is a ValueError.
  std::optional<int> max_workers{};
  // mpi4py.futures' initializer and initargs: run on each worker rank before that rank runs
  // any task of this executor (once per rank and executor; the ranks are shared, so what it
  // sets stays for later executors too). {.initializer = init} or {.initializer = {init,
  // 42}}. If it throws, the executor is broken: every pending future fails with
  // BrokenExecutor naming the exception, and later submits throw it. Tasks of this executor
  // already sent on to a rank may still run there; their results are dropped.
  ProcessCall initializer{};
};

namespace detail {

namespace mpd = gilfree::multiprocessing::detail;

// How a call, its result and its exception cross: shared with ProcessPoolExecutor
// (multiprocessing/detail/remote_call.hpp).
using mpd::Capture;
using mpd::current_reply;
using mpd::FnBox;
using mpd::rebuild_exception;
using mpd::Reply;
using mpd::reply_current_exception;
using mpd::VoidResult;

// map() over several ranges: an input view of tuples of their elements (copies), ending
// with the shortest (std::views::zip is C++23).
template <class... Vs>
class ZipView {
 public:
  using tuple_type = std::tuple<std::remove_cvref_t<std::ranges::range_reference_t<Vs>>...>;

  class iterator {
   public:
    using value_type = tuple_type;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    value_type operator*() const {
      return std::apply([](const auto&... it) { return value_type(*it...); }, its_);
    }
    iterator& operator++() {
      std::apply([](auto&... it) { (++it, ...); }, its_);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& i, std::default_sentinel_t) { return i.at_end(); }

   private:
    friend class ZipView;
    explicit iterator(ZipView* z)
        : z_(z), its_(std::apply([](auto&... v) { return std::tuple(std::ranges::begin(v)...); },
                                 z->views_)) {}
    bool at_end() const {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return ((std::get<I>(its_) == std::ranges::end(std::get<I>(z_->views_))) || ...);
      }(std::index_sequence_for<Vs...>{});
    }
    ZipView* z_ = nullptr;
    std::tuple<std::ranges::iterator_t<Vs>...> its_;
  };

  explicit ZipView(Vs... views) : views_(std::move(views)...) {}
  // Once, and only after the view has reached its final place (the iterator points to it).
  // const, so that a const view can be asked for its end (ImapCore does); the inner views
  // are mutable because begin() advances them, as any input view's does.
  iterator begin() const { return iterator(const_cast<ZipView*>(this)); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  mutable std::tuple<Vs...> views_;
};


using mpd::is_chunk_call;
using mpd::RemoteChunk;
using mpd::to_remote;

// One task on its way: its frame, and how to complete its future from the reply.
struct Entry {
  std::string frame;
  AnyFuture future;
  std::function<void(bool ok, std::string_view frame)> complete;
  std::shared_ptr<struct ExecutorState> owner;
  // The owner's initializer, put by the dispatcher before the owner's first task on a rank;
  // no future, not counted in `outstanding`; its failure breaks the owner.
  bool initializer = false;
};

// Per-executor bookkeeping: tasks not yet finished, for shutdown(wait).
struct ExecutorState {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t outstanding = 0;
  bool shut = false;
  // Why the executor is broken (its initializer threw on a rank); empty while it is not.
  std::string broken;
  // The initializer's call frame (made once, by wrap_initializer), or empty.
  std::string initializer;
  // Per worker rank: whether the initializer has been sent there (the dispatcher's only).
  std::vector<char> initialized;
  void finished() {
    std::lock_guard g(mu);
    if (--outstanding == 0) cv.notify_all();
  }
};

// The frame a worker runs for an executor's initializer: runs `call` (a ProcessCall's frame)
// and replies as a void task would, with its exception if it throws.
std::string wrap_initializer(const ProcessCall& call);

// Executor& support: how to send a detail::Call of one type that a WorkItem holds.
using ForwardCall = void (*)(MPIPoolExecutor& ex, gilfree::detail::WorkItem* item);
// Records `forward` for calls of type `call` (once per type; thread-safe).
bool register_call(const std::type_info& call, ForwardCall forward) noexcept;
// The forward for `call`, or nullptr when no submit<F, Args...> registered it.
ForwardCall find_call(const std::type_info& call) noexcept;

// The process-wide dispatcher on rank 0 (one thread, the only one making MPI calls while
// executors live): queues entries, hands them to idle worker ranks, completes futures.
void enqueue(Entry e);
// Cancels `owner`'s entries that have not been sent yet; returns them.
std::vector<Entry> take_queued(const std::shared_ptr<ExecutorState>& owner);
// The number of worker ranks: the static world's (size - 1), or, in a singleton, those
// spawned by the first executor (max_workers of them); RuntimeError without a Session.
int world_workers(std::optional<int> max_workers);

}  // namespace detail

// Python's concurrent.futures executor over MPI worker ranks (mpi4py.futures'
// MPIPoolExecutor), in the static world: needs a Session in an `mpirun -n N` job, N > 1,
// and runs on rank 0. Executors share the world's workers; each may have an initializer
// (MPIPoolExecutorOptions::initializer) that runs on a rank before its first task there.
class MPIPoolExecutor : public Executor {
 public:
  // Uses the static world's worker ranks (`mpirun -n N`, N > 1); in a plain program (a
  // singleton), spawns the workers with MPI_Comm_spawn on first use (Open MPI: needs the
  // TCP BTL, so do not restrict OMPI_MCA_btl to self,vader) and shares them with later
  // executors. On rank 0 only. RuntimeError without a Session or when the spawn fails.
  explicit MPIPoolExecutor(MPIPoolExecutorOptions options = {});
  // shutdown(true), as Python's `with` block.
  ~MPIPoolExecutor() override;
  MPIPoolExecutor(const MPIPoolExecutor&) = delete;
  MPIPoolExecutor& operator=(const MPIPoolExecutor&) = delete;

  // Schedules fn(args...) on a worker rank and returns its Future. fn and args must be able
  // to cross (multiprocessing::remotable; a compile-time error otherwise), and so must the
  // result. RuntimeError("cannot schedule new futures after shutdown") after shutdown();
  // BrokenExecutor once its initializer has failed.
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args) {
    using Fn = std::conditional_t<multiprocessing::detail::plain_function<F>,
                                  std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>,
                                  std::decay_t<F>>;
    if constexpr (detail::is_chunk_call<Fn>::value) {  // from the Pool front (mpi::Pool)
      return submit(detail::to_remote(fn), std::forward<Args>(args)...);
    } else {
      // So that Executor::submit(fn, args...) of this call type can reach this executor.
      (void)CallRegistrar<Fn, std::decay_t<Args>...>::registered;
      return submit_remote<Fn>(std::forward<F>(fn), std::forward<Args>(args)...);
    }
  }

  // mpi4py.futures' map(fn, *iterables, timeout, chunksize, buffersize, unordered): fn over
  // the items (zipped over several ranges, stopping at the shortest), in tasks of
  // `chunksize` items. Returns an input range of the results, produced lazily: in input
  // order, or as chunks complete if `unordered` (input order within a chunk). Every chunk
  // is submitted now, or, with `buffersize`, at most that many ahead of the consumer (so
  // an unbounded input works). Reaching a failed item rethrows its exception; TimeoutError
  // if `timeout` passes first; destroying the range cancels chunks not started. A void fn
  // yields std::monostate. ValueError for a chunksize or buffersize of 0. The range
  // submits through this executor: use it while the executor lives.
  template <class F, std::ranges::viewable_range... Rs>
    requires(sizeof...(Rs) > 0 && (std::ranges::input_range<Rs> && ...))
  auto map(F fn, Rs&&... ranges) {
    if constexpr (sizeof...(Rs) == 1) {
      return map_view<false>(std::move(fn), std::views::all(std::forward<Rs>(ranges))..., MapOptions{});
    } else {
      return map_view<true>(std::move(fn),
                            detail::ZipView<std::views::all_t<Rs>...>(
                                std::views::all(std::forward<Rs>(ranges))...),
                            MapOptions{});
    }
  }
  template <class F, std::ranges::viewable_range R>
    requires std::ranges::input_range<R>
  auto map(F fn, R&& range, MapOptions options) {
    return map_view<false>(std::move(fn), std::views::all(std::forward<R>(range)), options);
  }
  template <class F, std::ranges::viewable_range R1, std::ranges::viewable_range R2>
    requires(std::ranges::input_range<R1> && std::ranges::input_range<R2>)
  auto map(F fn, R1&& r1, R2&& r2, MapOptions options) {
    using Z = detail::ZipView<std::views::all_t<R1>, std::views::all_t<R2>>;
    return map_view<true>(std::move(fn),
                          Z(std::views::all(std::forward<R1>(r1)), std::views::all(std::forward<R2>(r2))),
                          options);
  }
  // As map(), with each item a tuple of arguments (Python's starmap).
  template <class F, std::ranges::viewable_range R>
    requires std::ranges::input_range<R>
  auto starmap(F fn, R&& items, MapOptions options = {}) {
    return map_view<true>(std::move(fn), std::views::all(std::forward<R>(items)), options);
  }

  // mpi4py's bootup(wait): makes sure the workers are up and returns this executor. Ours
  // are up once the constructor returns (spawned or the world's), so this only checks
  // that the executor is usable: RuntimeError("cannot bootup after shutdown") otherwise.
  MPIPoolExecutor& bootup(bool wait = true);

  // Stops accepting tasks; with `cancel_futures`, cancels those not yet sent to a worker;
  // with `wait`, returns once this executor's other tasks are done. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false) override;

  // The number of worker ranks this executor uses.
  int num_workers() const noexcept { return workers_; }

 private:
  // Registers, once per call type, how a detail::Call<Fn, Args...> that reaches schedule()
  // (through Executor::submit) is sent: as submit(fn, args...) would, completing the
  // WorkItem's own future.
  template <class Fn, class... Args>
  struct CallRegistrar {
    static void forward(MPIPoolExecutor& ex, gilfree::detail::WorkItem* item) {
      using C = gilfree::detail::Call<Fn, Args...>;
      using R = typename C::result_type;
      item->future().add_ref();  // ours; the queue's reference is dropped once admitted
      auto future = gilfree::detail::AnyFutureAccess::adopt_as<Future<R>>(&item->future());
      C& call = *static_cast<C*>(item->call());
      std::apply(
          [&](Args&... args) {
            ex.template submit_remote_into<Fn>(future, std::move(call.fn), std::move(args)...);
          },
          call.args);
      item->release();
    }
    static inline const bool registered =
        detail::register_call(typeid(gilfree::detail::Call<Fn, Args...>), &forward);
  };

  // submit() for a callable that crosses as it is (Fn: F with functions as pointers); the
  // result completes `future` (a new one when none is given).
  template <class Fn, class F, class... Args>
  auto submit_remote(F&& fn, Args&&... args) {
    using Wire = std::invoke_result_t<Fn&, std::decay_t<Args>...>;
    using R = Wire;
    return submit_remote_into<Fn>(Future<R>(), std::forward<F>(fn), std::forward<Args>(args)...);
  }
  template <class Fn, class R, class F, class... Args>
  auto submit_remote_into(Future<R> future, F&& fn, Args&&... args) {
    using Wire = std::invoke_result_t<Fn&, std::decay_t<Args>...>;
    static_assert(std::is_same_v<R, Wire>);
    static_assert(std::is_void_v<Wire> || multiprocessing::serializable<Wire>,
                  "the result of a task that runs on another rank must be serializable");
    detail::Capture<Fn> cap{detail::FnBox<Fn>{Fn(std::forward<F>(fn))}};
    detail::Entry e;
    e.frame = multiprocessing::encode_call(std::move(cap), std::forward<Args>(args)...);
    e.future = future;
    e.complete = [future](bool ok, std::string_view frame) {
      multiprocessing::detail::complete_from_reply<R>(future, ok, frame);
    };
    admit(std::move(e));
    return future;
  }

  // map() over one view V of items: fn(item), or, if Star, std::apply(fn, item). The
  // chunks, their order and the timeout are the Pool front's imap engine (ImapCore); each
  // chunk crosses as a RemoteChunk.
  template <bool Star, class F, class V>
  auto map_view(F fn, V view, const MapOptions& options) {
    if (options.buffersize && *options.buffersize == 0)
      throw ValueError("buffersize must be None or > 0");
    using Fn = std::conditional_t<multiprocessing::detail::plain_function<F>,
                                  std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>,
                                  std::decay_t<F>>;
    using Item = multiprocessing::detail::item_t<V>;
    using Chunk = detail::RemoteChunk<Fn, Item, Star>;
    using R = typename multiprocessing::detail::ChunkCall<Fn, Item, Star>::raw_result;
    using Core = multiprocessing::detail::ImapCore<R, Fn, V>;
    auto submit = [this, fn = Fn(std::move(fn))](std::vector<Item> items) {
      return submit_remote<Chunk>(Chunk{detail::FnBox<Fn>{fn}}, std::move(items));
    };
    return ResultRange<typename Core::value_type, Core>(
        std::make_unique<Core>(std::move(submit), std::move(view), options.chunksize,
                               !options.unordered, options.buffersize.value_or(0),
                               options.timeout));
  }

  // Executor::submit's entry: sends the item's call if its type was registered (see
  // CallRegistrar), else refuses it with a RuntimeError (a closure cannot cross).
  void schedule(gilfree::detail::WorkItem* item, const Deadline& deadline) override;

  void admit(detail::Entry e);

  int workers_ = 0;
  std::shared_ptr<detail::ExecutorState> state_;
};

// mpi4py.futures' MPICommExecutor(comm=COMM_WORLD, root): for a program whose ranks all
// run main (a Session created with {.serve = false}). Collective over `comm`: every rank
// of it constructs one (ranks outside it do not take part; several disjoint communicators,
// e.g. the halves of an MPI_Comm_split, can each have their own at the same time). On
// `root` (a rank of `comm`) it holds an MPIPoolExecutor over all the other ranks of
// `comm`; on those the constructor serves tasks until the root's MPICommExecutor is
// destroyed, and then executor() is null — as mpi4py's
// `with MPICommExecutor(comm, root) as ex: if ex is not None:`. The traffic goes on a
// duplicate of `comm`, so the program's own messages on `comm` never mix with it.
//
//   gilfree::mpi::Session session(argc, argv, {.serve = false});
//   {
//     gilfree::mpi::MPICommExecutor ce(MPI_COMM_WORLD, /*root=*/0);
//     if (auto* ex = ce.executor()) use(ex->submit(f, 1).result());
//   }  // every rank goes on from here
class MPICommExecutor {
 public:
  // Over MPI_COMM_WORLD. RuntimeError when the Session serves already or workers were
  // spawned, or with one rank; ValueError for a root out of range.
  explicit MPICommExecutor(int root = 0) : MPICommExecutor(MPI_COMM_WORLD, root) {}
  // Over `comm` (an intra-communicator this process belongs to), with the same errors
  // (RuntimeError for MPI_COMM_NULL or an inter-communicator).
  MPICommExecutor(MPI_Comm comm, int root);
  // On the root: waits for the tasks (shutdown(true)) and releases the other ranks.
  ~MPICommExecutor();
  MPICommExecutor(const MPICommExecutor&) = delete;
  MPICommExecutor& operator=(const MPICommExecutor&) = delete;

  // The executor on the root; nullptr on the other ranks (after they served).
  MPIPoolExecutor* executor() noexcept { return executor_.get(); }

 private:
  std::unique_ptr<MPIPoolExecutor> executor_;
};

// multiprocessing.pool.Pool's API over the MPI workers (as mpi4py.util.pool.Pool): the
// same front as mp::ThreadPool (multiprocessing/pool.hpp); callbacks run on rank 0.
class Pool : public multiprocessing::BasicPool<MPIPoolExecutor> {
 public:
  // A pool over an MPIPoolExecutor with `options` (see MPIPoolExecutor's constructor and
  // MPIPoolExecutorOptions::initializer).
  explicit Pool(MPIPoolExecutorOptions options = {})
      : Pool(std::make_unique<MPIPoolExecutor>(options), detail::world_workers(options.max_workers)) {}

 private:
  // (world_workers gives the executor's count whichever argument is evaluated first: the
  // workers are the world's, or spawned once.)
  Pool(std::unique_ptr<MPIPoolExecutor> ex, int workers)
      : BasicPool(std::move(ex), static_cast<std::size_t>(workers), "MPIPool") {}
};

}  // namespace gilfree::mpi
