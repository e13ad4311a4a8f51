// The MPI side of gilfree::mpi: the Session (init, the workers' serve loop, finalize), the
// dispatcher thread on rank 0, and how exceptions cross.
//
// Messages (bytes, MPI_BYTE, on a duplicate of MPI_COMM_WORLD so that user traffic on
// MPI_COMM_WORLD never mixes with ours):
//   rank 0 -> worker  kTask: a batch of call frames (multiprocessing::encode_call), each
//                     as [u32 length][frame]; kStop: empty. An executor's initializer is
//                     one more call frame, ahead of its first task in a batch to each worker.
//   worker -> rank 0  kReply: one reply per call, in order, each as [u8 ok][u32 length]
//                     [frame]: a value frame (dumps<R>) or "<type>\0<message>"
// Rank 0 sends with MPI_Isend and keeps up to kDepth batches in flight per worker, so a
// worker finds its next batch waiting. A batch holds one task when the queue is short and
// up to kMaxBatch when it is deep: per-message costs (a context switch on an oversubscribed
// machine) are then paid once per batch, not per task. Both sides poll with MPI_Improbe
// and a capped exponential back-off (as mpi4py.futures), because a blocked MPI_Recv spins
// a core that the 2-core machines this runs on need for the tasks.
#include "gilfree/mpi/futures.hpp"

#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>

#include "gilfree/errors.hpp"
#include "gilfree/multiprocessing/exceptions.hpp"

namespace gilfree::mpi {
namespace {

constexpr int kTask = 1, kStop = 2, kReply = 3, kHello = 4;
constexpr std::size_t kDepth = 2, kMaxBatch = 64;

void put_u32(std::string& out, std::uint32_t n) { out.append(reinterpret_cast<const char*>(&n), 4); }
std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t n;
  std::memcpy(&n, in.data() + at, 4);
  return n;
}

struct World {
  MPI_Comm comm = MPI_COMM_NULL;  // our duplicate of MPI_COMM_WORLD
  int rank = 0;
  int size = 0;
  bool active = false;
  // Where tasks go: the ranks `workers` of `tasks`, which is `comm` (static world: ranks
  // 1..N-1; MPICommExecutor: all but its root) or, in spawn mode, the inter-communicator
  // to the spawned workers (their ranks 0..n-1). On a worker: where tasks come from.
  MPI_Comm tasks = MPI_COMM_NULL;
  std::vector<int> workers;  // the worker ranks in `tasks`
  int root = 0;              // on a worker: the rank in `tasks` that sends the tasks
  bool spawned = false;  // `tasks` is an inter-communicator this process must disconnect
  // Spawn mode: the workers' pids (they run on this machine). Open MPI aborts a spawned job
  // whose rank dies but leaves its parent running, so rank 0 watches them itself.
  std::vector<int> worker_pids;
};
World& world() {
  static World w;
  return w;
}

// Polls `probe` until it returns true: a few yields, then sleeps doubling from 10 us to
// 1 ms, so an idle rank costs almost no CPU and a busy one answers within a few us.
template <class Probe>
void poll_until(Probe&& probe) {
  int spins = 0;
  auto sleep = std::chrono::microseconds(10);
  while (!probe()) {
    if (spins < 64) {
      ++spins;
      sched_yield();
      continue;
    }
    std::this_thread::sleep_for(sleep);
    if (sleep < std::chrono::milliseconds(1)) sleep *= 2;
  }
}

// A fingerprint of this process's program file: ranks must run the same binary for
// functions to cross.
std::uint64_t binary_fingerprint() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::uint64_t h = 14695981039346656037ull;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
    if (!in) break;
  }
  return h;
}

// The worker ranks' loop: run each task, send its reply, until kStop.
void serve() {
  const int root = world().root;
  World& w = world();
  std::string frame, out;
  for (;;) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    poll_until([&] {
      MPI_Improbe(root, MPI_ANY_TAG, w.tasks, &flag, &msg, &st);
      return flag != 0;
    });
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    frame.resize(static_cast<std::size_t>(count));
    MPI_Mrecv(frame.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
    if (st.MPI_TAG == kStop) return;
    out.clear();
    for (std::size_t at = 0; at + 4 <= frame.size();) {
      std::uint32_t n = get_u32(frame, at);
      std::string_view call = std::string_view(frame).substr(at + 4, n);
      at += 4 + n;
      detail::Reply& r = detail::current_reply();
      r.ok = false;
      r.frame.clear();
      try {
        multiprocessing::run_call(call);
      } catch (...) {
        detail::reply_current_exception();  // the call could not even be decoded
      }
      out.push_back(r.ok ? 1 : 0);
      put_u32(out, static_cast<std::uint32_t>(r.frame.size()));
      out += r.frame;
    }
    MPI_Send(out.data(), static_cast<int>(out.size()), MPI_BYTE, root, kReply, w.tasks);
  }
}

// ---- the dispatcher on rank 0 ---------------------------------------------------------

struct InFlight {
  std::vector<detail::Entry> entries;
  std::string message;
  MPI_Request request = MPI_REQUEST_NULL;
  // Adds `e`'s frame to the message and `e` to the entries (the replies come in this order).
  void add(detail::Entry e) {
    put_u32(message, static_cast<std::uint32_t>(e.frame.size()));
    message += e.frame;
    std::string().swap(e.frame);
    entries.push_back(std::move(e));
  }
};

// Why `owner` is broken, or empty.
std::string broken_reason(detail::ExecutorState& owner) {
  std::lock_guard g(owner.mu);
  return owner.broken;
}

// Fails a task of a broken executor (its future is running or done by now).
void refuse(detail::Entry& e, const std::string& why) {
  e.future.set_exception(std::make_exception_ptr(BrokenExecutor(why)));
  e.owner->finished();
}

// What a worker runs for an initializer (wrap_initializer): the ProcessCall's frame.
struct RunInitializer {
  void operator()(const std::string& call) const { multiprocessing::run_call(call); }
};

class Dispatcher {
 public:
  static Dispatcher& get() {
    static Dispatcher d;
    return d;
  }
  // A program that exits without ending its Session (std::exit on rank 0) must not die in
  // std::thread's destructor as well: the thread is left to the process's end.
  ~Dispatcher() {
    if (thread_.joinable()) thread_.detach();
  }

  void enqueue(detail::Entry e) {
    {
      std::lock_guard g(mu_);
      queue_.push_back(std::move(e));
      if (!thread_.joinable()) {
        inflight_.assign(
            static_cast<std::size_t>(*std::max_element(world().workers.begin(), world().workers.end()) + 1),
            {});
        stop_ = false;
        thread_ = std::thread([this] { loop(); });
      }
    }
    cv_.notify_one();
  }

  std::vector<detail::Entry> take_queued(const std::shared_ptr<detail::ExecutorState>& owner) {
    std::vector<detail::Entry> out;
    std::lock_guard g(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->owner == owner) {
        out.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  // Finishes what is queued and in flight, then stops the thread (Session's destructor).
  void stop() {
    {
      std::lock_guard g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    World& w = world();
    std::string frame;
    std::vector<detail::Entry> refused;  // queued tasks of broken executors
    for (;;) {
      // Hand queued tasks to workers with room, least loaded first.
      {
        std::unique_lock g(mu_);
        if (queue_.empty() && in_flight_ == 0) {
          if (stop_) return;
          cv_.wait(g, [&] { return stop_ || !queue_.empty(); });
          if (queue_.empty()) return;
        }
        while (!queue_.empty()) {
          int best = -1;
          for (int r : w.workers)
            if (inflight_[r].size() < kDepth &&
                (best < 0 || inflight_[r].size() < inflight_[best].size()))
              best = r;
          if (best < 0) break;
          // A fair share of the queue for this worker, between 1 and kMaxBatch tasks.
          std::size_t share = queue_.size() / w.workers.size();
          std::size_t want = std::clamp<std::size_t>(share, 1, kMaxBatch);
          InFlight batch;
          while (batch.entries.size() < want && !queue_.empty()) {
            detail::Entry e = std::move(queue_.front());
            queue_.pop_front();
            if (!e.future.set_running_or_notify_cancel()) {  // cancelled while queued
              e.owner->finished();
              continue;
            }
            if (!broken_reason(*e.owner).empty()) {  // failed below, without mu_
              refused.push_back(std::move(e));
              continue;
            }
            // The owner's initializer goes first on a rank that has not run it yet; the rank
            // runs a batch in order, so it runs before any of the owner's tasks there.
            if (!e.owner->initializer.empty()) {
              std::vector<char>& initialized = e.owner->initialized;
              initialized.resize(inflight_.size(), 0);  // indexed by worker rank
              if (!initialized[static_cast<std::size_t>(best)]) {
                initialized[static_cast<std::size_t>(best)] = 1;
                detail::Entry init;
                init.frame = e.owner->initializer;
                init.owner = e.owner;
                init.initializer = true;
                batch.add(std::move(init));
              }
            }
            batch.add(std::move(e));
          }
          if (batch.entries.empty()) continue;
          auto& slot = inflight_[best].emplace_back(std::move(batch));
          MPI_Isend(slot.message.data(), static_cast<int>(slot.message.size()), MPI_BYTE, best,
                    kTask, w.tasks, &slot.request);
          ++in_flight_;
        }
      }
      for (auto& e : refused) refuse(e, broken_reason(*e.owner));  // their callbacks may submit
      refused.clear();
      if (in_flight_ == 0) continue;
      // Collect one reply (polling with back-off, but waking for new tasks too).
      int flag = 0;
      MPI_Message msg;
      MPI_Status st;
      auto next_check = std::chrono::steady_clock::now();
      poll_until([&] {
        MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, w.tasks, &flag, &msg, &st);
        if (flag) return true;
        if (w.spawned && std::chrono::steady_clock::now() >= next_check) {
          abort_if_a_worker_died();
          next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        }
        std::lock_guard g(mu_);
        return !queue_.empty() && has_room();
      });
      if (!flag) continue;
      int count = 0;
      MPI_Get_count(&st, MPI_BYTE, &count);
      frame.resize(static_cast<std::size_t>(count));
      MPI_Mrecv(frame.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
      InFlight done;
      {
        std::lock_guard g(mu_);
        done = std::move(inflight_[st.MPI_SOURCE].front());
        inflight_[st.MPI_SOURCE].pop_front();
        --in_flight_;
      }
      MPI_Wait(&done.request, MPI_STATUS_IGNORE);  // the worker replied: the send is over
      std::size_t at = 0;
      for (auto& e : done.entries) {
        bool ok = frame[at] != 0;
        std::uint32_t n = get_u32(frame, at + 1);
        std::string_view reply = std::string_view(frame).substr(at + 5, n);
        at += 5 + n;
        if (e.initializer) {
          if (!ok) break_executor(e.owner, reply);
          continue;
        }
        // A broken executor's task that ran anyway (sent with or after the failed
        // initializer) fails as its queued tasks do.
        if (std::string why = broken_reason(*e.owner); !why.empty())
          refuse(e, why);
        else {
          e.complete(ok, reply);
          e.owner->finished();
        }
      }
    }
  }
  // `owner`'s initializer threw on a worker (`reply`: its error): the executor is broken
  // (once; the first error names it), and its queued tasks fail now.
  void break_executor(const std::shared_ptr<detail::ExecutorState>& owner, std::string_view reply) {
    auto [type, what] = multiprocessing::detail::split_error(reply);
    std::string why;
    {
      std::lock_guard g(owner->mu);
      if (!owner->broken.empty()) return;
      owner->broken = why = "A worker rank of the MPIPoolExecutor failed to start: its initializer "
                            "raised " + type + ": " + what + "; the executor is not usable anymore";
    }
    for (auto& e : take_queued(owner)) {
      if (e.future.set_running_or_notify_cancel())
        refuse(e, why);
      else
        e.owner->finished();  // cancelled while queued
    }
  }
  // Spawn mode: a worker that died takes its tasks with it and Open MPI cannot recover the
  // job (no ULFM), so this process ends, with a message and a non-zero status, rather than
  // hang waiting for their results, as a static world's mpirun would end it.
  static void abort_if_a_worker_died() {
    World& w = world();
    for (std::size_t i = 0; i < w.worker_pids.size(); ++i) {
      int pid = w.worker_pids[i];
      char path[64];
      std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
      std::ifstream in(path);
      std::string stat;
      std::getline(in, stat);
      auto close = stat.rfind(')');
      bool dead = !in || close == std::string::npos || close + 2 >= stat.size() ||
                  stat[close + 2] == 'Z' || stat[close + 2] == 'X';
      if (dead) {
        std::fprintf(stderr,
                     "gilfree::mpi: worker rank %zu (pid %d) of this MPIPoolExecutor died; an MPI "
                     "job cannot lose a rank (Open MPI has no ULFM): ending this process with "
                     "status 70\n",
                     i, pid);
        std::fflush(stderr);
        std::_Exit(70);
      }
    }
  }

  bool has_room() const {
    for (int r : world().workers)
      if (inflight_[static_cast<std::size_t>(r)].size() < kDepth) return true;
    return false;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<detail::Entry> queue_;
  std::vector<std::deque<InFlight>> inflight_;  // per worker rank, in send order
  std::size_t in_flight_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

// ---- Session ------------------------------------------------------------------------

Session::Session(int& argc, char**& argv, SessionOptions options) {
  World& w = world();
  if (w.active) throw RuntimeError("gilfree::mpi::Session: one Session per process");
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fprintf(stderr, "gilfree::mpi: the MPI library gives no MPI_THREAD_SERIALIZED\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &w.comm);
  MPI_Comm_rank(w.comm, &w.rank);
  MPI_Comm_size(w.comm, &w.size);
  w.active = true;
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  if (parent != MPI_COMM_NULL) {  // spawn mode: a worker that an MPIPoolExecutor started
    w.tasks = parent;
    int pid = static_cast<int>(::getpid());
    MPI_Send(&pid, 1, MPI_INT, 0, kHello, w.tasks);
    serve();
    MPI_Comm_disconnect(&w.tasks);
    MPI_Comm_free(&w.comm);
    MPI_Finalize();
    std::exit(0);
  }
  // Every rank must run rank 0's binary, or functions would resolve to the wrong code.
  std::uint64_t mine = binary_fingerprint(), root = mine;
  MPI_Bcast(&root, 1, MPI_UINT64_T, 0, w.comm);
  if (root != mine) {
    std::fprintf(stderr,
                 "gilfree::mpi: rank %d runs a different program than rank 0; every rank of "
                 "a gilfree::mpi job must run the same binary\n",
                 w.rank);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  if (!options.serve) return;  // MPICommExecutor will say who serves
  if (w.size > 1) {
    w.tasks = w.comm;
    for (int r = 1; r < w.size; ++r) w.workers.push_back(r);
  }
  if (w.size > 1 && w.rank != 0) {
    serve();
    MPI_Comm_free(&w.comm);
    MPI_Finalize();
    std::exit(0);
  }
}

Session::~Session() {
  World& w = world();
  if (w.rank == w.root) {
    Dispatcher::get().stop();
    for (int r : w.workers) MPI_Send(nullptr, 0, MPI_BYTE, r, kStop, w.tasks);
    if (w.spawned) MPI_Comm_disconnect(&w.tasks);
  }
  MPI_Comm_free(&w.comm);
  w.active = false;
  MPI_Finalize();
}

int Session::rank() const noexcept { return world().rank; }
int Session::size() const noexcept { return world().size; }

// ---- exceptions across ---------------------------------------------------------------

namespace detail {

namespace {
struct CallTable {
  std::mutex mu;
  std::unordered_map<std::type_index, ForwardCall> forwards;
};
CallTable& call_table() {
  static CallTable t;  // first used during static initialisation (CallRegistrar)
  return t;
}
}  // namespace

bool register_call(const std::type_info& call, ForwardCall forward) noexcept {
  try {
    CallTable& t = call_table();
    std::lock_guard g(t.mu);
    t.forwards.emplace(std::type_index(call), forward);
    return true;
  } catch (...) {
    return false;  // out of memory: that call type stays unreachable through Executor&
  }
}

ForwardCall find_call(const std::type_info& call) noexcept {
  CallTable& t = call_table();
  std::lock_guard g(t.mu);
  auto it = t.forwards.find(std::type_index(call));
  return it == t.forwards.end() ? nullptr : it->second;
}

void enqueue(Entry e) { Dispatcher::get().enqueue(std::move(e)); }

std::string wrap_initializer(const ProcessCall& call) {
  return multiprocessing::encode_call(Capture<RunInitializer>{}, call.frame());
}

std::vector<Entry> take_queued(const std::shared_ptr<ExecutorState>& owner) {
  return Dispatcher::get().take_queued(owner);
}

int world_workers(std::optional<int> max_workers) {
  World& w = world();
  if (!w.active)
    throw RuntimeError("gilfree::mpi: create a gilfree::mpi::Session first (in main)");
  if (max_workers && *max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  if (!w.workers.empty()) return static_cast<int>(w.workers.size());
  if (w.rank != w.root) throw RuntimeError("MPIPoolExecutor runs on the root rank only");  // the static world's workers, or those spawned before
  if (w.size > 1) throw RuntimeError("MPIPoolExecutor: no worker ranks");
  // Spawn mode: a plain program (a singleton) starts its workers, once, as mpi4py.futures.
  int n = max_workers.value_or(0);
  if (n == 0) {
    if (const char* env = std::getenv("GILFREE_MPI_MAX_WORKERS")) n = std::atoi(env);
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  char exe[4096];
  ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) throw RuntimeError("gilfree::mpi: cannot find this program's path");
  exe[len] = '\0';
  std::vector<int> errcodes(static_cast<std::size_t>(n));
  MPI_Comm inter = MPI_COMM_NULL;
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  int rc = MPI_Comm_spawn(exe, MPI_ARGV_NULL, n, MPI_INFO_NULL, 0, MPI_COMM_SELF, &inter,
                          errcodes.data());
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int mlen = 0;
    MPI_Error_string(rc, msg, &mlen);
    throw RuntimeError("MPIPoolExecutor: MPI_Comm_spawn of " + std::to_string(n) +
                       " workers failed: " + std::string(msg, static_cast<std::size_t>(mlen)));
  }
  w.worker_pids.assign(static_cast<std::size_t>(n), 0);
  for (int r = 0; r < n; ++r)
    MPI_Recv(&w.worker_pids[static_cast<std::size_t>(r)], 1, MPI_INT, r, kHello, inter,
             MPI_STATUS_IGNORE);
  w.tasks = inter;
  for (int r = 0; r < n; ++r) w.workers.push_back(r);
  w.spawned = true;
  return n;
}

}  // namespace detail

// ---- MPICommExecutor -------------------------------------------------------------------

MPICommExecutor::MPICommExecutor(MPI_Comm comm, int root) {
  World& w = world();
  if (!w.active) throw RuntimeError("gilfree::mpi: create a gilfree::mpi::Session first (in main)");
  if (w.spawned || !w.workers.empty() || w.tasks != MPI_COMM_NULL)
    throw RuntimeError("MPICommExecutor: the workers are taken (a Session that serves, "
                       "spawned workers, or another MPICommExecutor); create the Session "
                       "with {.serve = false}");
  if (comm == MPI_COMM_NULL) throw RuntimeError("MPICommExecutor: MPI_COMM_NULL");
  int inter = 0;
  MPI_Comm_test_inter(comm, &inter);
  if (inter) throw RuntimeError("MPICommExecutor: an intra-communicator is needed");
  int rank = 0, size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // Checked alike on every rank of `comm`, so all of them throw or none does.
  if (root < 0 || root >= size) throw ValueError("MPICommExecutor: root out of range");
  if (size < 2) throw RuntimeError("MPICommExecutor needs at least 2 ranks");
  MPI_Comm tasks = MPI_COMM_NULL;
  MPI_Comm_dup(comm, &tasks);  // collective: our traffic apart from the program's
  w.tasks = tasks;
  w.root = root;
  if (rank != root) {
    serve();  // until the root's MPICommExecutor ends
    MPI_Comm_free(&w.tasks);
    w.tasks = MPI_COMM_NULL;
    w.root = 0;
    return;
  }
  for (int r = 0; r < size; ++r)
    if (r != root) w.workers.push_back(r);
  executor_ = std::make_unique<MPIPoolExecutor>();
}

MPICommExecutor::~MPICommExecutor() {
  if (!executor_) return;
  executor_.reset();  // shutdown(true)
  World& w = world();
  Dispatcher::get().stop();
  for (int r : w.workers) MPI_Send(nullptr, 0, MPI_BYTE, r, kStop, w.tasks);
  w.workers.clear();
  MPI_Comm_free(&w.tasks);
  w.tasks = MPI_COMM_NULL;
  w.root = 0;
}

// ---- MPIPoolExecutor -------------------------------------------------------------------

MPIPoolExecutor::MPIPoolExecutor(MPIPoolExecutorOptions options)
    : workers_(detail::world_workers(options.max_workers)), state_(std::make_shared<detail::ExecutorState>()) {
  if (options.initializer) state_->initializer = detail::wrap_initializer(options.initializer);
}

MPIPoolExecutor::~MPIPoolExecutor() { shutdown(true); }

MPIPoolExecutor& MPIPoolExecutor::bootup(bool /*wait*/) {
  std::lock_guard g(state_->mu);
  if (state_->shut) throw RuntimeError("cannot bootup after shutdown");
  return *this;
}

void MPIPoolExecutor::schedule(gilfree::detail::WorkItem* item, const Deadline&) {
  if (detail::ForwardCall forward = detail::find_call(item->call_type())) {
    forward(*this, item);
    return;
  }
  throw RuntimeError(
      "MPIPoolExecutor cannot send this call to another rank: no MPIPoolExecutor::submit of "
      "its function and argument types is in the program (a closure cannot cross)");
}

void MPIPoolExecutor::admit(detail::Entry e) {
  {
    std::lock_guard g(state_->mu);
    if (!state_->broken.empty()) throw BrokenExecutor(state_->broken);
    if (state_->shut) throw RuntimeError("cannot schedule new futures after shutdown");
    ++state_->outstanding;
  }
  e.owner = state_;
  detail::enqueue(std::move(e));
}

void MPIPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  {
    std::lock_guard g(state_->mu);
    state_->shut = true;
  }
  if (cancel_futures) {
    for (auto& e : detail::take_queued(state_)) {
      e.future.cancel();
      (void)e.future.set_running_or_notify_cancel();  // CANCELLED -> ..._AND_NOTIFIED
      state_->finished();
    }
  }
  if (wait) {
    std::unique_lock g(state_->mu);
    state_->cv.wait(g, [&] { return state_->outstanding == 0; });
  }
}

}  // namespace gilfree::mpi
