// ProcessPoolExecutor (gilfree/futures/process.hpp): the manager thread, the workers' loop
// and their wire protocol.
//
// Wire (CPython's length framing, 4-byte big-endian length or -1 and an 8-byte length,
// around each message; one AF_UNIX stream socket per worker, to an abstract address the
// executor listens on, so that fork, forkserver and spawn workers all reach it alike):
//   worker -> manager  'H' token[16] id[u32]             ready (after the initializer)
//                      'E' token[16] id[u32] error       the initializer threw
//                      'R' mark[u64] { ok[u8] len[u32] frame }...
//                                                        replies that did not go to the ring
//                                                        (or none: a wake-up), see below
//   manager -> worker  'T' { len[u32] frame }...         calls (encode_call frames)
//                      'S'                               stop: exit once done
// The manager writes without blocking (a per-worker output buffer, POLLOUT), so a worker
// that is slow to read never stalls it; a worker writes blocking, since the manager always
// reads.
//
// Replies travel through a per-worker ring in shared memory (ReplyRing, made by the
// manager with map_shared, so fork, forkserver and spawn workers all map it). A worker
// publishes each call's reply there (ReplyRing::tail) as soon as the call returns, before
// it starts the next, with no system call; it announces what it published
// (ReplyRing::announced: take these now) after the last call of a batch, or kAnnounceEvery
// after the first reply not yet announced, so that the manager takes replies in batches;
// and it writes to its socket only to wake a manager that may be asleep in poll() when it
// announces (a wake-up 'R' with no replies; a Dekker handshake on ReplyRing::sleeping), or
// for a reply that does not fit the ring (too large, or the ring is full: an 'R' with that
// reply). `mark` is how far the worker had published into the ring when it wrote the
// message, so the manager takes the ring's replies before `mark`, then the message's, then
// the ring's after it: replies stay in call order whichever way they came.
//
// Which calls a worker holds is known exactly (they are sent in order and replied in
// order), so when its sentinel (pidfd) fires the manager reads what it had written (its
// socket and its ring, which outlives it), and the first call without a reply is the one
// it died in. A finished call's reply is in the ring before the next call starts, so no
// finished call is ever blamed for a death, and the calls behind the dead one never ran.
#include "gilfree/futures/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "gilfree/multiprocessing/connection.hpp"
#include "gilfree/multiprocessing/detail/shared_futex.hpp"

namespace gilfree {
namespace detail {

namespace mp = ::gilfree::multiprocessing;
namespace mpd = ::gilfree::multiprocessing::detail;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kTokenSize = 16;
constexpr std::size_t kMaxBatch = 64;
// The bytes of a worker's reply ring (a power of two); a reply larger than a quarter of it
// goes through the socket instead.
constexpr std::size_t kRingBytes = 64 * 1024;
constexpr std::uint32_t kRingWrap = 0xffffffffu;  // record length: the rest of the lap is unused
// A worker in the middle of a batch of calls announces the replies it has put in its ring
// (and wakes a sleeping manager for them) at most this long after the first of them, at
// the batch's end at once: taking replies one by one as they trickle in would cost the
// manager a loop and the waiting caller a wake-up per reply. (Unannounced replies are
// taken too, whenever the manager reads the ring: at a death nothing is lost.)
constexpr auto kAnnounceEvery = std::chrono::milliseconds(1);

void put_u32(std::string& out, std::uint32_t n) { out.append(reinterpret_cast<const char*>(&n), 4); }
std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t n;
  std::memcpy(&n, in.data() + at, 4);
  return n;
}

// Appends CPython's length prefix for a message of `n` bytes.
void put_length(std::string& out, std::size_t n) {
  if (n > 0x7fffffffu) {
    const unsigned char m[4] = {0xff, 0xff, 0xff, 0xff};
    out.append(reinterpret_cast<const char*>(m), 4);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  } else {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
}

// The head of a worker's reply ring; kRingBytes of records follow it in the same shared
// block. A record is len[u32] ok[u32] and the reply frame, padded to 8 bytes; a record
// never wraps (a kRingWrap length skips to the next lap). Offsets count bytes since the
// start and only grow.
struct ReplyRing {
  alignas(64) std::atomic<std::uint64_t> tail{0};      // published by the worker
  std::atomic<std::uint64_t> announced{0};             // what the worker asks to be taken
  alignas(64) std::atomic<std::uint64_t> head{0};      // consumed by the manager
  alignas(64) std::atomic<std::uint32_t> sleeping{0};  // 1: the manager may be in poll()
  char* data() noexcept { return reinterpret_cast<char*>(this) + sizeof(ReplyRing); }
};
static_assert(std::is_trivially_destructible_v<ReplyRing>);

constexpr std::size_t record_bytes(std::size_t frame) { return 8 + (frame + 7) / 8 * 8; }

// A ring as one process holds it: its shared block (keeps the mapping) and its head.
struct RingRef {
  std::shared_ptr<void> block;
  ReplyRing* ring = nullptr;

  static RingRef make() {
    RingRef r;
    r.block = mpd::map_shared(sizeof(ReplyRing) + kRingBytes);
    r.ring = new (r.block.get()) ReplyRing;
    return r;
  }
  template <class A>
  void save(A& ar) const {
    const bool has = ring != nullptr;
    ar(has);
    if (has) ar(mpd::shared_ref(block, sizeof(ReplyRing) + kRingBytes));
  }
  template <class A>
  void load(A& ar) {
    bool has = false;
    ar(has);
    if (!has) return;
    mpd::SharedRef ref;
    ar(ref);
    if (ref.size < sizeof(ReplyRing) + kRingBytes)
      throw mp::UnpicklingError("a reply ring is smaller than it must be");
    block = mpd::attach_shared(ref);
    ring = static_cast<ReplyRing*>(block.get());
  }
};

// What a worker needs to know (it crosses to forkserver and spawn workers as an argument).
struct WorkerBoot {
  std::string address;
  std::string token;
  std::uint32_t id = 0;
  std::string initializer;
  std::uint64_t max_tasks = 0;  // 0: no limit
  RingRef ring;                 // no ring: every reply goes through the socket
  template <class A>
  void serialize(A& ar) {
    ar(address, token, id, initializer, max_tasks, ring);
  }
};

// ---- the worker's side ------------------------------------------------------------------

// A worker's side of its replies: into the ring when they fit, else through the socket.
class ReplyWriter {
 public:
  ReplyWriter(mp::Connection& conn, ReplyRing* ring) : conn_(conn), ring_(ring) {}

  // One call's reply; `more`: more calls of this batch follow at once (the manager need
  // not be woken for this one yet).
  void put(bool ok, std::string_view frame, bool more) {
    if (ring_ && record_bytes(frame.size()) <= kRingBytes / 4 && to_ring(ok, frame, more)) return;
    unannounced_ = false;
    msg_.assign(1, 'R');
    put_mark();
    msg_.push_back(ok ? 1 : 0);
    put_u32(msg_, static_cast<std::uint32_t>(frame.size()));
    msg_ += frame;
    conn_.send_bytes(msg_);
  }

 private:
  bool to_ring(bool ok, std::string_view frame, bool more) {
    const std::size_t need = record_bytes(frame.size());
    const std::size_t left = kRingBytes - tail_ % kRingBytes;  // a multiple of 8, >= 8
    const std::size_t skip = left < need ? left : 0;
    if (tail_ + skip + need - ring_->head.load(std::memory_order_acquire) > kRingBytes)
      return false;  // full: the manager is behind
    char* data = ring_->data();
    if (skip) {
      std::memcpy(data + tail_ % kRingBytes, &kRingWrap, 4);
      tail_ += skip;
    }
    char* rec = data + tail_ % kRingBytes;
    const std::uint32_t len = static_cast<std::uint32_t>(frame.size()), flag = ok ? 1 : 0;
    std::memcpy(rec, &len, 4);
    std::memcpy(rec + 4, &flag, 4);
    std::memcpy(rec + 8, frame.data(), frame.size());
    tail_ += need;
    ring_->tail.store(tail_, std::memory_order_release);  // from now on it survives us
    if (more) {
      if (!unannounced_) {
        unannounced_ = true;
        first_unannounced_ = Clock::now();
        return true;
      }
      if (Clock::now() - first_unannounced_ < kAnnounceEvery) return true;
    }
    unannounced_ = false;
    ring_->announced.store(tail_, std::memory_order_release);
    // Dekker with the manager's sleeping = 1 then `announced` check: one of us sees the
    // other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ring_->sleeping.load(std::memory_order_relaxed) != 0 &&
        ring_->sleeping.exchange(0, std::memory_order_relaxed) != 0) {
      msg_.assign(1, 'R');
      put_mark();
      conn_.send_bytes(msg_);  // a wake-up: no replies
    }
    return true;
  }
  void put_mark() { msg_.append(reinterpret_cast<const char*>(&tail_), 8); }

  mp::Connection& conn_;
  ReplyRing* ring_;
  std::uint64_t tail_ = 0;  // what this worker has published
  bool unannounced_ = false;  // replies published but not announced
  Clock::time_point first_unannounced_{};
  std::string msg_;
};

// A worker process's whole life: connect, initialise, run calls until told to stop.
void process_pool_worker(WorkerBoot boot) {
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is the parent's to handle (it stops the pool)
  mp::Connection conn = mp::Client(mp::Address{boot.address});
  std::string hello;
  hello.push_back('H');
  hello += boot.token;
  put_u32(hello, boot.id);
  if (!boot.initializer.empty()) {
    try {
      mp::run_call(boot.initializer);
    } catch (...) {
      mpd::reply_current_exception();
      hello[0] = 'E';
      hello += mpd::current_reply().frame;
      conn.send_bytes(hello);
      throw mp::SystemExit{1};
    }
  }
  conn.send_bytes(hello);
  ReplyWriter replies(conn, boot.ring.ring);
  std::uint64_t done = 0;
  for (;;) {
    std::string msg;
    try {
      msg = conn.recv_bytes();
    } catch (const mp::EOFError&) {
      return;  // the executor is gone
    }
    if (msg.empty() || msg[0] == 'S') return;
    if (msg[0] != 'T') continue;
    for (std::size_t at = 1; at + 4 <= msg.size();) {
      std::uint32_t n = get_u32(msg, at);
      std::string_view call = std::string_view(msg).substr(at + 4, n);
      at += 4 + n;
      mpd::Reply& r = mpd::current_reply();
      r.ok = false;
      r.frame.clear();
      try {
        mp::run_call(call);
      } catch (...) {
        mpd::reply_current_exception();  // the call could not even be decoded
      }
      replies.put(r.ok, r.frame, at + 4 <= msg.size());
      if (boot.max_tasks != 0 && ++done >= boot.max_tasks)
        return;  // retire: the manager sent no more than this (and reads the ring at exit)
    }
  }
}

// ---- the manager's side -----------------------------------------------------------------

std::string describe_exit(int code) {
  if (code < 0) {
    const char* abbrev = ::sigabbrev_np(-code);
    return "signal " + std::to_string(-code) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "exit code " + std::to_string(code);
}

struct Worker {
  std::uint32_t id = 0;
  std::unique_ptr<mp::Process> proc;
  pid_t pid = 0;
  int sentinel = -1;
  int fd = -1;         // the socket, once the worker said hello
  bool ready = false;  // said hello
  bool stopping = false;  // sent 'S'
  bool retiring = false;  // was sent its last call (max_tasks_per_child)
  bool reaped = false;
  bool timed_out = false;  // killed by the manager for a task timeout
  std::string out;         // bytes not yet written
  std::size_t out_pos = 0;
  std::string in;          // bytes read, not yet parsed
  std::deque<ProcessTask> inflight;  // sent, no reply yet, in order
  std::size_t batches = 0;           // messages of calls not yet fully answered
  std::deque<std::size_t> batch_left;
  std::uint64_t sent = 0;
  Clock::time_point head_started{};  // when the first call in flight started
  RingRef ring;                      // its reply ring (none: replies come by the socket)
  std::uint64_t ring_head = 0;       // what the manager has taken from it

  // True when the worker has announced replies not yet taken.
  bool ring_pending() const {
    return ring.ring && ring.ring->announced.load(std::memory_order_acquire) > ring_head;
  }
};

struct PendingConn {
  int fd = -1;
  std::string in;
};

enum class Stop { none, terminate, kill };

class ProcessPoolCore {
 public:
  ProcessPoolCore(ProcessPoolExecutorOptions options, bool pool_role);
  ~ProcessPoolCore();

  void admit(ProcessTask task);
  void shutdown(bool wait, bool cancel_futures, Stop stop);
  std::vector<pid_t> pids() const {
    std::lock_guard g(mu_);
    return pids_;
  }
  int max_workers() const noexcept { return max_workers_; }

 private:
  void run() noexcept;
  void loop();
  void start_worker();
  void wake();
  void dispatch();
  void send_to(Worker& w, std::vector<ProcessTask>& batch);
  void flush(Worker& w);
  void read_worker(Worker& w, bool drain, bool unannounced = false);
  void parse_worker(Worker& w);
  void take_ring(Worker& w, std::uint64_t upto);
  void take_reply(Worker& w, bool ok, std::string_view frame);
  void read_pending(PendingConn& p);
  void on_exit(Worker& w);
  void accept_pending();
  void break_pool(const std::string& message);
  void fail(ProcessTask& t, std::exception_ptr e);
  void stop_idle_workers();
  void update_pids();
  bool room(const Worker& w, bool timed) const;
  std::size_t active_workers() const;

  // Fixed at construction.
  int max_workers_;
  std::string method_;
  std::string initializer_;
  std::size_t max_tasks_;
  WorkerDeathPolicy policy_;
  bool pool_role_;
  bool daemon_;
  std::string address_;
  std::string token_;
  int wake_fd_ = -1;
  std::unique_ptr<mp::Listener> listener_;

  // Shared with callers, under mu_.
  mutable std::mutex mu_;
  std::deque<ProcessTask> queue_;
  bool shut_ = false;
  bool sleeping_ = false;
  std::string broken_;  // non-empty: the pool is broken, with this message
  Stop stop_ = Stop::none;
  std::vector<pid_t> pids_;
  std::thread thread_;
  std::mutex join_mu_;

  // The manager thread's own.
  std::map<std::uint32_t, Worker> workers_;
  std::vector<PendingConn> pending_;
  std::uint32_t next_id_ = 1;
  bool stop_signalled_ = false;
};

ProcessPoolCore::ProcessPoolCore(ProcessPoolExecutorOptions o, bool pool_role)
    : pool_role_(pool_role) {
  if (o.max_workers && *o.max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  if (o.max_tasks_per_child && *o.max_tasks_per_child == 0)
    throw ValueError("max_tasks_per_child must be >= 1");
  max_workers_ = o.max_workers.value_or(mp::cpu_count());
  method_ = o.mp_context ? o.mp_context->get_start_method() : mp::get_start_method();
  initializer_ = o.initializer.frame();
  max_tasks_ = o.max_tasks_per_child.value_or(0);
  policy_ = pool_role ? WorkerDeathPolicy::respawn : o.on_worker_death;
  daemon_ = pool_role;
  std::random_device rd;
  token_.resize(kTokenSize);
  for (auto& c : token_) c = static_cast<char>(rd());
  static std::atomic<unsigned> counter{0};
  char name[96];
  std::snprintf(name, sizeof name, "gilfree-pool-%d-%u-%08x", static_cast<int>(::getpid()),
                counter.fetch_add(1), static_cast<unsigned>(rd()));
  address_ = std::string(1, '\0') + name;
  listener_ = std::make_unique<mp::Listener>(
      mp::Address{address_}, mp::ListenerOptions{.family = "AF_UNIX", .backlog = 2 * max_workers_ + 8});
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw mp::OSError("eventfd", errno);
  try {
    // From this thread, before the manager exists: a fork (or the fork server's first
    // fork) then copies a process with no thread of ours.
    for (int i = 0; i < max_workers_; ++i) start_worker();
  } catch (...) {
    for (auto& [id, w] : workers_) {
      w.proc->kill();
      w.proc->join(Timeout(std::chrono::seconds(5)));
    }
    workers_.clear();
    ::close(wake_fd_);
    throw;
  }
  update_pids();
  thread_ = std::thread([this] { run(); });
}

ProcessPoolCore::~ProcessPoolCore() {
  shutdown(true, false, Stop::none);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ProcessPoolCore::start_worker() {
  WorkerBoot boot;
  boot.address = address_;
  boot.token = token_;
  boot.id = next_id_++;
  boot.initializer = initializer_;
  boot.max_tasks = max_tasks_;
  try {
    boot.ring = RingRef::make();
  } catch (const mp::OSError&) {
    // No shared memory to be had (memfd_create refused): every reply takes the socket.
  }
  auto proc = std::make_unique<mp::Process>(
      mp::ProcessOptions{.daemon = daemon_, .start_method = method_}, &process_pool_worker, boot);
  proc->start();
  Worker& w = workers_[boot.id];
  w.id = boot.id;
  w.pid = proc->pid().value_or(0);
  w.sentinel = proc->sentinel();
  w.proc = std::move(proc);
  w.ring = std::move(boot.ring);  // kept until it is reaped: a spawned worker maps it late
}

void ProcessPoolCore::update_pids() {
  std::vector<pid_t> p;
  for (auto& [id, w] : workers_)
    if (!w.reaped && !w.timed_out) p.push_back(w.pid);  // not one being killed
  std::lock_guard g(mu_);
  pids_ = std::move(p);
}

void ProcessPoolCore::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

void ProcessPoolCore::admit(ProcessTask task) {
  bool need_wake = false;
  {
    std::lock_guard g(mu_);
    if (!broken_.empty()) throw BrokenProcessPool(broken_);
    if (shut_) throw RuntimeError("cannot schedule new futures after shutdown");
    queue_.push_back(std::move(task));
    need_wake = std::exchange(sleeping_, false);
  }
  if (need_wake) wake();
}

void ProcessPoolCore::shutdown(bool wait, bool cancel_futures, Stop stop) {
  std::deque<ProcessTask> dropped;
  {
    std::lock_guard g(mu_);
    shut_ = true;
    if (stop != Stop::none && stop_ == Stop::none) stop_ = stop;
    if (cancel_futures) {  // a requeued call has started: it is not cancelled
      std::deque<ProcessTask> keep;
      for (auto& t : queue_) (t.started ? keep : dropped).push_back(std::move(t));
      queue_.swap(keep);
    }
  }
  for (auto& t : dropped) {
    t.future.cancel();
    (void)t.future.set_running_or_notify_cancel();  // CANCELLED -> ..._AND_NOTIFIED
  }
  wake();
  if (!wait) return;
  std::lock_guard g(join_mu_);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void ProcessPoolCore::run() noexcept {
  try {
    loop();
  } catch (...) {
    // Nothing in the loop should throw; if it does, fail what is left rather than hang.
    try {
      break_pool(std::string("the process pool's manager failed: ") + [] {
        try {
          throw;
        } catch (const std::exception& e) {
          return std::string(e.what());
        } catch (...) {
          return std::string("unknown error");
        }
      }());
      for (auto& [id, w] : workers_) {
        if (!w.reaped) {
          w.proc->kill();
          w.proc->join(Timeout(std::chrono::seconds(5)));
        }
        if (w.fd >= 0) ::close(w.fd);
      }
    } catch (...) {
    }
  }
  for (auto& p : pending_) ::close(p.fd);
  pending_.clear();
  workers_.clear();
  listener_.reset();
  update_pids();
}

std::size_t ProcessPoolCore::active_workers() const {
  std::size_t n = 0;
  for (auto& [id, w] : workers_)
    if (!w.reaped && !w.retiring && !w.stopping && !w.timed_out) ++n;
  return n;
}

bool ProcessPoolCore::room(const Worker& w, bool timed) const {
  if (!w.ready || w.reaped || w.stopping || w.retiring || w.timed_out) return false;
  if (w.inflight.empty()) return true;
  if (timed) return false;
  if (w.inflight.front().timeout) return false;  // a timed call runs alone
  // A second batch behind a deep first one, so the worker never waits for the manager;
  // never behind a single call (it may be long: what waits here could not be cancelled).
  return w.batches < 2 && w.inflight.size() >= 2;
}

void ProcessPoolCore::dispatch() {
  for (;;) {
    std::vector<ProcessTask> batch;
    Worker* target = nullptr;
    {
      std::lock_guard g(mu_);
      if (queue_.empty()) return;
      const bool timed = queue_.front().timeout.has_value();
      std::size_t ready = 0;
      for (auto& [id, w] : workers_) {
        if (w.ready && !w.reaped && !w.stopping && !w.retiring) ++ready;
        if (room(w, timed) && (!target || w.inflight.size() < target->inflight.size())) target = &w;
      }
      if (!target) return;
      std::size_t want = timed ? 1 : std::clamp<std::size_t>(queue_.size() / std::max<std::size_t>(ready, 1), 1, kMaxBatch);
      if (max_tasks_ != 0) want = std::min<std::size_t>(want, max_tasks_ - target->sent);
      while (batch.size() < want && !queue_.empty()) {
        if (!batch.empty() && queue_.front().timeout) break;  // a timed call goes alone
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (batch.back().timeout) break;
      }
    }
    // Start them (a call cancelled while queued is dropped here, as CPython does).
    std::erase_if(batch, [](ProcessTask& t) {
      if (t.started) return false;
      t.started = true;
      return !t.future.set_running_or_notify_cancel();
    });
    if (!batch.empty()) send_to(*target, batch);
  }
}

void ProcessPoolCore::send_to(Worker& w, std::vector<ProcessTask>& batch) {
  std::size_t body = 1;
  for (auto& t : batch) body += 4 + t.frame.size();
  if (w.out_pos == w.out.size()) {
    w.out.clear();
    w.out_pos = 0;
  }
  w.out.reserve(w.out.size() + body + 12);
  put_length(w.out, body);
  w.out.push_back('T');
  if (w.inflight.empty()) w.head_started = Clock::now();
  for (auto& t : batch) {
    put_u32(w.out, static_cast<std::uint32_t>(t.frame.size()));
    w.out += t.frame;  // kept: a call requeued after its worker died is sent again
    w.inflight.push_back(std::move(t));
  }
  w.sent += batch.size();
  ++w.batches;
  w.batch_left.push_back(batch.size());
  if (max_tasks_ != 0 && w.sent >= max_tasks_) w.retiring = true;
  flush(w);
}

void ProcessPoolCore::flush(Worker& w) {
  while (w.fd >= 0 && w.out_pos < w.out.size()) {
    ssize_t n = ::send(w.fd, w.out.data() + w.out_pos, w.out.size() - w.out_pos,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      w.out_pos += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // The worker is gone (EPIPE, ECONNRESET): its sentinel says the rest.
    w.out_pos = w.out.size();
    return;
  }
  if (w.out_pos == w.out.size()) {
    w.out.clear();
    w.out_pos = 0;
  }
}

// Reads what the worker wrote, in call order; `drain`: until EOF or nothing is left (it
// has ended). How far to take the ring is read first: a socket message written before the
// worker published that far is then already there to be read, and its replies go before
// the ring records that follow its mark.
void ProcessPoolCore::read_worker(Worker& w, bool drain, bool unannounced) {
  // Only what the worker announced, unless it has ended or is looked at for the rest: the
  // replies then come in the batches it meant, one wake-up of their callers per batch.
  ReplyRing* ring = w.ring.ring;
  const std::uint64_t tail =
      !ring ? 0
            : (drain || unannounced ? ring->tail : ring->announced).load(std::memory_order_acquire);
  if (w.fd >= 0) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(w.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        w.in.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf && !drain) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;  // EOF, EAGAIN or an error
    }
    parse_worker(w);
  }
  take_ring(w, tail);
}

// Splits `in` into CPython-framed messages; returns false when more bytes are needed.
bool next_message(std::string& in, std::size_t& pos, std::string_view& msg) {
  if (in.size() - pos < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data() + pos);
  std::uint64_t n = (std::uint64_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
  std::size_t head = 4;
  if (n == 0xffffffffu) {
    if (in.size() - pos < 12) return false;
    n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | p[4 + i];
    head = 12;
  }
  if (in.size() - pos - head < n) return false;
  msg = std::string_view(in).substr(pos + head, static_cast<std::size_t>(n));
  pos += head + static_cast<std::size_t>(n);
  return true;
}

void ProcessPoolCore::parse_worker(Worker& w) {
  std::size_t pos = 0;
  std::string_view msg;
  while (next_message(w.in, pos, msg)) {
    if (msg.size() < 9 || msg[0] != 'R') continue;
    std::uint64_t mark;
    std::memcpy(&mark, msg.data() + 1, 8);
    take_ring(w, mark);  // the ring's replies written before this message
    for (std::size_t at = 9; at + 5 <= msg.size();) {
      const bool ok = msg[at] != 0;
      const std::uint32_t n = get_u32(msg, at + 1);
      std::string_view frame = msg.substr(at + 5, n);
      at += 5 + n;
      take_reply(w, ok, frame);
    }
  }
  w.in.erase(0, pos);
}

// Takes the ring's records up to offset `upto` (no further than the worker published).
void ProcessPoolCore::take_ring(Worker& w, std::uint64_t upto) {
  ReplyRing* ring = w.ring.ring;
  if (!ring || upto <= w.ring_head) return;
  // A mark is never past the tail (the worker publishes before it writes), but a worker's
  // memory is not to be trusted blindly.
  upto = std::min(upto, ring->tail.load(std::memory_order_acquire));
  const char* data = ring->data();
  while (w.ring_head < upto) {
    const std::size_t at = w.ring_head % kRingBytes;
    std::uint32_t len, flag;
    std::memcpy(&len, data + at, 4);
    if (len == kRingWrap) {
      w.ring_head += kRingBytes - at;
      continue;
    }
    std::memcpy(&flag, data + at + 4, 4);
    if (record_bytes(len) > kRingBytes - at) {  // corrupt: drop the rest
      w.ring_head = upto;
      break;
    }
    take_reply(w, flag != 0, std::string_view(data + at + 8, len));
    w.ring_head += record_bytes(len);
  }
  ring->head.store(w.ring_head, std::memory_order_release);  // the worker may reuse it now
}

// One reply: it completes the oldest call the worker holds.
void ProcessPoolCore::take_reply(Worker& w, bool ok, std::string_view frame) {
  if (w.inflight.empty()) return;  // a reply for a call already failed (timeout)
  ProcessTask t = std::move(w.inflight.front());
  w.inflight.pop_front();
  w.head_started = Clock::now();
  if (!w.batch_left.empty() && --w.batch_left.front() == 0) {
    w.batch_left.pop_front();
    --w.batches;
  }
  t.complete(t.future, ok, frame);
}

void ProcessPoolCore::read_pending(PendingConn& p) {
  char buf[4096];
  bool eof = false;
  for (;;) {
    ssize_t n = ::recv(p.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      p.in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    eof = n == 0;
    break;
  }
  std::size_t pos = 0;
  std::string_view msg;
  if (!next_message(p.in, pos, msg)) {
    if (eof) {  // closed before its hello: drop it (its sentinel says why)
      ::close(p.fd);
      p.fd = -1;
    }
    return;
  }
  if (msg.size() < 1 + kTokenSize + 4 || (msg[0] != 'H' && msg[0] != 'E') ||
      msg.substr(1, kTokenSize) != token_) {
    ::close(p.fd);  // not one of ours
    p.fd = -1;
    return;
  }
  const std::uint32_t id = get_u32(msg, 1 + kTokenSize);
  auto it = workers_.find(id);
  if (it == workers_.end() || it->second.reaped || it->second.fd >= 0) {
    ::close(p.fd);
    p.fd = -1;
    return;
  }
  Worker& w = it->second;
  if (msg[0] == 'E') {
    auto [type, what] = mpd::split_error(msg.substr(1 + kTokenSize + 4));
    ::close(p.fd);
    p.fd = -1;
    break_pool("A process in the process pool failed to start: its initializer raised " + type +
               ": " + what + "; the process pool is not usable anymore");
    return;
  }
  w.fd = std::exchange(p.fd, -1);
  w.ready = true;
  w.in.assign(p.in, pos);
  parse_worker(w);
}

void ProcessPoolCore::fail(ProcessTask& t, std::exception_ptr e) {
  try {
    t.future.set_exception(std::move(e));
  } catch (...) {  // already done (someone set it): theirs stands
  }
}

void ProcessPoolCore::break_pool(const std::string& message) {
  std::deque<ProcessTask> queued;
  std::string why;
  {
    std::lock_guard g(mu_);
    if (broken_.empty()) broken_ = message;
    why = broken_;
    queued.swap(queue_);
  }
  auto error = std::make_exception_ptr(BrokenProcessPool(why));
  for (auto& t : queued)
    if (t.started || t.future.set_running_or_notify_cancel()) fail(t, error);
  for (auto& [id, w] : workers_) {
    for (auto& t : w.inflight) fail(t, error);
    w.inflight.clear();
    w.batch_left.clear();
    w.batches = 0;
    if (!w.reaped) w.proc->terminate();
  }
}

void ProcessPoolCore::accept_pending() {
  for (;;) {
    pollfd p{listener_->fileno(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return;
    try {
      mp::Connection c = listener_->accept();
      int fd = c.release();
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      pending_.push_back({fd, {}});
    } catch (...) {
      return;
    }
  }
}

void ProcessPoolCore::on_exit(Worker& w) {
  read_worker(w, true);  // its last replies count
  if (!w.ready) {  // what it said before it ended (an initializer's error) counts too
    accept_pending();
    for (auto& p : pending_)
      if (p.fd >= 0) read_pending(p);
    std::erase_if(pending_, [](const PendingConn& p) { return p.fd < 0; });
  }
  if (!w.proc->exitcode()) w.proc->join(Timeout(std::chrono::seconds(10)));
  const int code = w.proc->exitcode().value_or(255);
  w.reaped = true;
  if (w.fd >= 0) ::close(w.fd);
  w.fd = -1;
  try {
    w.proc->close();
  } catch (...) {
  }
  Stop stop;
  bool broken;
  {
    std::lock_guard g(mu_);
    stop = stop_;
    broken = !broken_.empty();
  }
  const std::string who = "pid " + std::to_string(w.pid) + ": " + describe_exit(code);
  if (w.inflight.empty() && (w.stopping || w.retiring || w.timed_out || broken || stop != Stop::none))
    return;  // an expected end
  if (stop != Stop::none) {
    auto error = std::make_exception_ptr(BrokenProcessPool(
        std::string("the worker running this call was ") +
        (stop == Stop::kill ? "killed by kill_workers()" : "terminated by terminate_workers()") +
        " (" + who + ")"));
    for (auto& t : w.inflight) fail(t, error);
    w.inflight.clear();
    return;
  }
  if (broken) {
    break_pool("");  // fails what it held with the pool's message
    return;
  }
  if (!w.ready) {
    break_pool("A child process terminated abruptly before it was ready (" + who +
               "); the process pool is not usable anymore");
    return;
  }
  if (policy_ == WorkerDeathPolicy::break_pool) {
    break_pool(
        "A process in the process pool was terminated abruptly while the future was running or "
        "pending. (" + who + ")");
    return;
  }
  // respawn: the call it was running fails; those queued behind it go back to the queue.
  if (!w.inflight.empty()) {
    ProcessTask head = std::move(w.inflight.front());
    w.inflight.pop_front();
    fail(head, std::make_exception_ptr(WorkerLostError(
                   "Worker exited prematurely: " + describe_exit(code) + " (pid " +
                   std::to_string(w.pid) + ")",
                   w.pid, code)));
    std::lock_guard g(mu_);
    while (!w.inflight.empty()) {
      queue_.push_front(std::move(w.inflight.back()));  // already RUNNING: sent as they are
      w.inflight.pop_back();
    }
  }
}

void ProcessPoolCore::stop_idle_workers() {
  for (auto& [id, w] : workers_) {
    if (w.ready && !w.reaped && !w.stopping && w.inflight.empty()) {
      w.stopping = true;
      put_length(w.out, 1);
      w.out.push_back('S');
      flush(w);
    }
  }
}

void ProcessPoolCore::loop() {
  std::vector<pollfd> pfds;
  enum Kind { kWake, kListen, kPending, kSock, kSentinel };
  std::vector<std::pair<Kind, std::uint32_t>> who;
  // How long to sleep, while workers hold calls, before looking for replies they published
  // but have not announced yet (the one before a long call would otherwise wait for its
  // end): from kAnnounceEvery, doubling while there are none, up to kUnannouncedMax.
  constexpr int kUnannouncedMax = 64;
  int unannounced_ms = static_cast<int>(kAnnounceEvery.count());
  for (;;) {
    Stop stop;
    bool shut, broken, queue_empty;
    {
      std::lock_guard g(mu_);
      stop = stop_;
      shut = shut_;
      broken = !broken_.empty();
      queue_empty = queue_.empty();
    }
    if (stop != Stop::none && !stop_signalled_) {
      stop_signalled_ = true;
      for (auto& [id, w] : workers_) {
        if (w.reaped) continue;
        if (stop == Stop::kill) {
          w.proc->kill();
        } else {
          w.proc->terminate();
        }
      }
    }
    // Keep the pool at strength (from the live count, CPython gh-115634's lesson).
    if (!shut && !broken) {
      try {
        while (active_workers() < static_cast<std::size_t>(max_workers_)) start_worker();
      } catch (const std::exception& e) {
        break_pool(std::string("could not start a worker process: ") + e.what());
      }
      update_pids();
    }
    if (!broken && stop == Stop::none) dispatch();
    std::size_t busy = 0;
    for (auto& [id, w] : workers_) busy += w.inflight.size();
    {
      std::lock_guard g(mu_);
      queue_empty = queue_.empty();
    }
    if (shut && queue_empty && busy == 0) stop_idle_workers();
    // Done once every worker has ended.
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->second.reaped) {
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    update_pids();
    if (shut && workers_.empty()) {
      std::lock_guard g(mu_);
      if (queue_.empty() || !broken_.empty() || stop_ != Stop::none) {
        // Anything still queued (broken or stopped) fails rather than waits forever.
        std::deque<ProcessTask> left;
        left.swap(queue_);
        auto error = std::make_exception_ptr(
            BrokenProcessPool(broken_.empty() ? "the process pool was stopped" : broken_));
        for (auto& t : left)
          if (t.started || t.future.set_running_or_notify_cancel()) fail(t, error);
        return;
      }
    }

    // Wait for something to happen.
    pfds.clear();
    who.clear();
    pfds.push_back({wake_fd_, POLLIN, 0});
    who.emplace_back(kWake, 0);
    pfds.push_back({listener_->fileno(), POLLIN, 0});
    who.emplace_back(kListen, 0);
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      pfds.push_back({pending_[i].fd, POLLIN, 0});
      who.emplace_back(kPending, static_cast<std::uint32_t>(i));
    }
    auto next_deadline = Clock::time_point::max();
    for (auto& [id, w] : workers_) {
      if (w.fd >= 0) {
        short ev = POLLIN;
        if (w.out_pos < w.out.size()) ev |= POLLOUT;
        pfds.push_back({w.fd, ev, 0});
        who.emplace_back(kSock, id);
      }
      pfds.push_back({w.sentinel, POLLIN, 0});
      who.emplace_back(kSentinel, id);
      if (!w.inflight.empty() && w.inflight.front().timeout && !w.timed_out)
        next_deadline = std::min(next_deadline, w.head_started + *w.inflight.front().timeout);
    }
    int timeout_ms = -1;
    if (next_deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(next_deadline - Clock::now()).count();
      timeout_ms = left <= 0 ? 0 : static_cast<int>(std::min<long long>((left + 999) / 1000, INT_MAX));
    }
    bool holding = false;  // some worker holds calls: it may publish without announcing
    for (auto& [id, w] : workers_) holding = holding || (w.ring.ring && !w.reaped && !w.inflight.empty());
    const bool look_later = holding && (timeout_ms < 0 || timeout_ms > unannounced_ms);
    if (look_later) timeout_ms = unannounced_ms;
    {
      std::lock_guard g(mu_);
      if (!queue_.empty() && !broken_.empty()) timeout_ms = 0;
      sleeping_ = true;
      if (!queue_.empty()) {
        // Calls arrived after dispatch(): look again at once if some worker has room.
        bool any = false;
        for (auto& [id, w] : workers_) any = any || room(w, queue_.front().timeout.has_value());
        if (any) timeout_ms = 0;
      }
    }
    // The workers write to their socket after announcing replies only while `sleeping` is
    // set: set it, then look at the rings once more (the other half of ReplyWriter's
    // handshake).
    for (auto& [id, w] : workers_) {
      if (!w.ring.ring || w.reaped) continue;
      w.ring.ring->sleeping.store(1, std::memory_order_seq_cst);
      if (w.ring.ring->announced.load(std::memory_order_seq_cst) > w.ring_head) timeout_ms = 0;
    }
    int r = ::poll(pfds.data(), pfds.size(), timeout_ms);
    {
      std::lock_guard g(mu_);
      sleeping_ = false;
    }
    for (auto& [id, w] : workers_)
      if (w.ring.ring) w.ring.ring->sleeping.store(0, std::memory_order_relaxed);
    if (r < 0 && errno != EINTR) throw mp::OSError("poll", errno);
    if (r == 0 && look_later) {
      bool found = false;
      for (auto& [id, w] : workers_) {
        if (w.reaped || !w.ring.ring || w.ring.ring->tail.load(std::memory_order_acquire) == w.ring_head)
          continue;
        found = true;
        read_worker(w, false, true);
      }
      unannounced_ms = found ? static_cast<int>(kAnnounceEvery.count())
                             : std::min(2 * unannounced_ms, kUnannouncedMax);
    } else if (r > 0) {
      unannounced_ms = static_cast<int>(kAnnounceEvery.count());
    }
    if (r > 0) {
      std::vector<std::uint32_t> ended;
      for (std::size_t i = 0; i < pfds.size(); ++i) {
        if (!pfds[i].revents) continue;
        auto [kind, id] = who[i];
        switch (kind) {
          case kWake: {
            std::uint64_t v;
            [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
            break;
          }
          case kListen:
            accept_pending();
            break;
          case kPending:
            read_pending(pending_[id]);
            break;
          case kSock: {
            auto it = workers_.find(id);
            if (it == workers_.end()) break;
            if (pfds[i].revents & POLLOUT) flush(it->second);
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_worker(it->second, false);
            break;
          }
          case kSentinel:
            ended.push_back(id);
            break;
        }
      }
      std::erase_if(pending_, [](const PendingConn& p) { return p.fd < 0; });
      for (auto id : ended) {
        auto it = workers_.find(id);
        if (it != workers_.end() && !it->second.reaped) on_exit(it->second);
      }
    }
    // Replies the workers announced while this thread was awake (they wrote no wake-up for
    // those).
    for (auto& [id, w] : workers_)
      if (!w.reaped && w.ring_pending()) read_worker(w, false);
    // Task time limits.
    const auto now = Clock::now();
    for (auto& [id, w] : workers_) {
      if (w.reaped || w.timed_out || w.inflight.empty() || !w.inflight.front().timeout) continue;
      const auto limit = *w.inflight.front().timeout;
      if (now < w.head_started + limit) continue;
      ProcessTask t = std::move(w.inflight.front());
      w.inflight.pop_front();
      w.timed_out = true;
      w.proc->kill();
      char msg[160];
      std::snprintf(msg, sizeof msg,
                    "Task timeout: the call ran longer than %.3g s; its worker (pid %d) was killed",
                    std::chrono::duration<double>(limit).count(), static_cast<int>(w.pid));
      fail(t, std::make_exception_ptr(TimeoutError(msg)));
    }
  }
}

}  // namespace detail

// ---- ProcessPoolExecutor ----------------------------------------------------------------

ProcessPoolExecutor::ProcessPoolExecutor(Options options)
    : core_(std::make_shared<detail::ProcessPoolCore>(std::move(options), false)) {}

ProcessPoolExecutor::ProcessPoolExecutor(Options options, detail::PoolRole)
    : core_(std::make_shared<detail::ProcessPoolCore>(std::move(options), true)) {}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(true); }

void ProcessPoolExecutor::admit(detail::ProcessTask task) { core_->admit(std::move(task)); }

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  core_->shutdown(wait, cancel_futures, detail::Stop::none);
}

void ProcessPoolExecutor::terminate_workers() { core_->shutdown(true, true, detail::Stop::terminate); }

void ProcessPoolExecutor::kill_workers() { core_->shutdown(true, true, detail::Stop::kill); }

int ProcessPoolExecutor::max_workers() const noexcept { return core_->max_workers(); }

std::vector<pid_t> ProcessPoolExecutor::worker_pids() const { return core_->pids(); }

void ProcessPoolExecutor::schedule(detail::WorkItem*, const Deadline&) {
  throw RuntimeError(
      "ProcessPoolExecutor runs functions that can cross to a process, not closures: call "
      "submit() on the ProcessPoolExecutor itself (not through Executor&)");
}

}  // namespace gilfree
