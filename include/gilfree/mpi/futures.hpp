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
// Not done yet: map's lazy results (MPIPoolExecutor::map returns a vector); MPICommExecutor
// takes MPI_COMM_WORLD only (any root), not an arbitrary communicator.
#pragma once

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
#include <utility>
#include <vector>

#include <cereal/types/variant.hpp>  // std::monostate: what a void call yields in a chunk

#include "../futures.hpp"
#include "../multiprocessing/pool.hpp"
#include "../multiprocessing/detail/remote_call.hpp"
#include "../multiprocessing/reduction.hpp"

namespace gilfree::mpi {

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
  // How long the whole iteration may take, counted from the call (forever by default).
  Timeout timeout{};
  // How many items each task carries (at least 1); larger chunks amortise the messages.
  std::size_t chunksize = 1;
  // Yield results as chunks complete instead of in input order.
  bool unordered = false;
};

// MPIPoolExecutor's options.
struct MPIPoolExecutorOptions {
  // Spawn mode only: how many workers the first executor of a plain program starts; unset:
  // $GILFREE_MPI_MAX_WORKERS, else the number of hardware threads. Ignored in a static
  // world, whose workers are the ranks mpirun started. Zero or less is a ValueError.
  std::optional<int> max_workers{};
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

// A chunk of map(): fn over each item (a tuple of arguments), results in order.
template <class F, class Item>
struct ChunkFn {
  FnBox<F> box;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(box);
  }
  auto operator()(std::vector<Item>&& items) {
    using R = decltype(std::apply(box.fn, std::move(items[0])));
    std::vector<std::conditional_t<std::is_void_v<R>, VoidResult, R>> out;
    out.reserve(items.size());
    for (auto& it : items) {
      if constexpr (std::is_void_v<R>) {
        std::apply(box.fn, std::move(it));
        out.emplace_back();
      } else {
        out.push_back(std::apply(box.fn, std::move(it)));
      }
    }
    return out;
  }
};

using mpd::is_chunk_call;
using mpd::to_remote;

// One task on its way: its frame, and how to complete its future from the reply.
struct Entry {
  std::string frame;
  AnyFuture future;
  std::function<void(bool ok, std::string_view frame)> complete;
  std::shared_ptr<struct ExecutorState> owner;
};

// Per-executor bookkeeping: tasks not yet finished, for shutdown(wait).
struct ExecutorState {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t outstanding = 0;
  bool shut = false;
  void finished() {
    std::lock_guard g(mu);
    if (--outstanding == 0) cv.notify_all();
  }
};

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
// and runs on rank 0. Executors share the world's workers.
class MPIPoolExecutor {
 public:
  // Uses the static world's worker ranks (`mpirun -n N`, N > 1); in a plain program (a
  // singleton), spawns the workers with MPI_Comm_spawn on first use (Open MPI: needs the
  // TCP BTL, so do not restrict OMPI_MCA_btl to self,vader) and shares them with later
  // executors. On rank 0 only. RuntimeError without a Session or when the spawn fails.
  explicit MPIPoolExecutor(MPIPoolExecutorOptions options = {});
  // shutdown(true), as Python's `with` block.
  ~MPIPoolExecutor();
  MPIPoolExecutor(const MPIPoolExecutor&) = delete;
  MPIPoolExecutor& operator=(const MPIPoolExecutor&) = delete;

  // Schedules fn(args...) on a worker rank and returns its Future. fn and args must be able
  // to cross (multiprocessing::remotable; a compile-time error otherwise), and so must the
  // result. RuntimeError("cannot schedule new futures after shutdown") after shutdown().
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args) {
    using Fn = std::conditional_t<multiprocessing::detail::plain_function<F>,
                                  std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>,
                                  std::decay_t<F>>;
    if constexpr (detail::is_chunk_call<Fn>::value) {  // from the Pool front (mpi::Pool)
      return submit(detail::to_remote(fn), std::forward<Args>(args)...);
    } else {
      return submit_remote<Fn>(std::forward<F>(fn), std::forward<Args>(args)...);
    }
  }

  // mpi4py.futures' map(fn, iterable, timeout, chunksize, unordered): fn over the items, in
  // tasks of `chunksize` items, all submitted at once. Returns the results in input order
  // (or completion order of chunks if `unordered`); rethrows the first failed item's
  // exception when its chunk is reached (and cancels the chunks not started); TimeoutError
  // if `timeout` passes first. ValueError for a chunksize of 0.
  template <class F, std::ranges::input_range Rng>
  auto map(F fn, Rng&& items, MapOptions options = {}) {
    using Item = std::tuple<std::ranges::range_value_t<Rng>>;
    return map_items<F, Item>(std::move(fn), std::forward<Rng>(items), options,
                              [](auto&& x) { return Item(std::forward<decltype(x)>(x)); });
  }
  // As map(), with each item a tuple of arguments (Python's starmap).
  template <class F, std::ranges::input_range Rng>
  auto starmap(F fn, Rng&& items, MapOptions options = {}) {
    using Item = std::ranges::range_value_t<Rng>;
    return map_items<F, Item>(std::move(fn), std::forward<Rng>(items), options,
                              [](auto&& x) { return Item(std::forward<decltype(x)>(x)); });
  }

  // Stops accepting tasks; with `cancel_futures`, cancels those not yet sent to a worker;
  // with `wait`, returns once this executor's other tasks are done. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false);

  // The number of worker ranks this executor uses.
  int num_workers() const noexcept { return workers_; }

 private:
  // submit() for a callable that crosses as it is (Fn: F with functions as pointers).
  template <class Fn, class F, class... Args>
  auto submit_remote(F&& fn, Args&&... args) {
    using R = std::invoke_result_t<Fn&, std::decay_t<Args>...>;
    static_assert(std::is_void_v<R> || multiprocessing::serializable<R>,
                  "the result of a task that runs on another rank must be serializable");
    detail::Capture<Fn> cap{detail::FnBox<Fn>{Fn(std::forward<F>(fn))}};
    detail::Entry e;
    e.frame = multiprocessing::encode_call(std::move(cap), std::forward<Args>(args)...);
    Future<R> future;
    e.future = future;
    e.complete = [future](bool ok, std::string_view frame) {
      try {
        if (!ok) {
          future.set_exception(detail::rebuild_exception(frame));
        } else if constexpr (std::is_void_v<R>) {
          (void)multiprocessing::loads<detail::VoidResult>(frame);
          future.set_result();
        } else {
          future.set_result(multiprocessing::loads<R>(frame));
        }
      } catch (...) {
        if (!future.done()) future.set_exception(std::current_exception());
      }
    };
    admit(std::move(e));
    return future;
  }

  template <class F, class Item, class Rng, class MakeItem>
  auto map_items(F fn, Rng&& items, const MapOptions& options, MakeItem make) {
    if (options.chunksize == 0) throw ValueError("chunksize must be >= 1");
    using Fn = std::conditional_t<multiprocessing::detail::plain_function<F>,
                                  std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>,
                                  std::decay_t<F>>;
    using Chunk = detail::ChunkFn<Fn, Item>;
    using V = typename std::invoke_result_t<Chunk&, std::vector<Item>&&>::value_type;
    std::vector<Future<std::vector<V>>> chunks;
    std::vector<Item> cur;
    for (auto&& x : items) {
      cur.push_back(make(std::forward<decltype(x)>(x)));
      if (cur.size() == options.chunksize) {
        chunks.push_back(submit(Chunk{detail::FnBox<Fn>{Fn(fn)}}, std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) chunks.push_back(submit(Chunk{detail::FnBox<Fn>{Fn(fn)}}, std::move(cur)));
    return collect<V>(std::move(chunks), options);
  }

  // Waits for the chunks and flattens them (see map()).
  template <class V>
  std::vector<V> collect(std::vector<Future<std::vector<V>>> chunks, const MapOptions& options) {
    Deadline deadline = options.timeout.deadline();
    std::vector<V> out;
    auto take = [&](Future<std::vector<V>>& f) {
      try {
        auto& part = deadline.is_forever() ? f.result() : f.result(deadline.remaining());
        out.insert(out.end(), part.begin(), part.end());
      } catch (...) {
        for (auto& g : chunks) g.cancel();
        throw;
      }
    };
    if (!options.unordered) {
      for (auto& f : chunks) take(f);
      return out;
    }
    std::vector<AnyFuture> any(chunks.begin(), chunks.end());
    for (AnyFuture done : as_completed(any, options.timeout)) {
      auto f = done.as<std::vector<V>>();
      take(f);
    }
    return out;
  }

  void admit(detail::Entry e);

  int workers_ = 0;
  std::shared_ptr<detail::ExecutorState> state_;
};

// mpi4py.futures' MPICommExecutor(comm=COMM_WORLD, root): for a program whose ranks all
// run main (a Session created with {.serve = false}). Collective: every rank constructs
// one. On `root` it holds an MPIPoolExecutor over all the other ranks; on the others the
// constructor serves tasks until the root's MPICommExecutor is destroyed, and then
// executor() is null — as mpi4py's `with MPICommExecutor() as ex: if ex is not None:`.
//
//   gilfree::mpi::Session session(argc, argv, {.serve = false});
//   {
//     gilfree::mpi::MPICommExecutor ce(/*root=*/0);
//     if (auto* ex = ce.executor()) use(ex->submit(f, 1).result());
//   }  // every rank goes on from here
class MPICommExecutor {
 public:
  // RuntimeError when the Session serves already or workers were spawned, or with one
  // rank; ValueError for a root out of range.
  explicit MPICommExecutor(int root = 0);
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
  // A pool over an MPIPoolExecutor with `options` (see MPIPoolExecutor's constructor).
  explicit Pool(MPIPoolExecutorOptions options = {})
      : Pool(std::make_unique<MPIPoolExecutor>(options), detail::world_workers(options.max_workers)) {}

 private:
  // (world_workers gives the executor's count whichever argument is evaluated first: the
  // workers are the world's, or spawned once.)
  Pool(std::unique_ptr<MPIPoolExecutor> ex, int workers)
      : BasicPool(std::move(ex), static_cast<std::size_t>(workers), "MPIPool") {}
};

}  // namespace gilfree::mpi
