// The compiled part of gilfree/futures.hpp: the future state machine's slow paths, the
// log hook, as_completed, wait, and ThreadPoolExecutor's workers.
#include "gilfree/futures.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "describe.hpp"
#include "gilfree/detail/fork.hpp"
#include "gilfree/threading.hpp"

namespace gilfree {

std::string_view to_string(FutureState state) noexcept {
  switch (state) {
    case FutureState::PENDING:
      return "PENDING";
    case FutureState::RUNNING:
      return "RUNNING";
    case FutureState::CANCELLED:
      return "CANCELLED";
    case FutureState::CANCELLED_AND_NOTIFIED:
      return "CANCELLED_AND_NOTIFIED";
    case FutureState::FINISHED:
      return "FINISHED";
  }
  return "?";
}

namespace detail {

void keep_failed(SharedStateBase* state) noexcept {
  struct Holder {
    SharedStateBase* s = nullptr;
    ~Holder() {
      if (s) s->release();
    }
  };
  static thread_local Holder held;
  if (held.s == state) return;
  state->add_ref();
  if (held.s) held.s->release();
  held.s = state;
}

EventCount& parking_lot(const void* p) noexcept {
  static EventCount lot[64];
  auto h = reinterpret_cast<std::uintptr_t>(p);
  h ^= h >> 17;
  return lot[(h >> 6) & 63];
}

// ---- SharedStateBase ------------------------------------------------------------------

SharedStateBase::~SharedStateBase() {
  CallbackNode* c = callbacks_;
  while (c) {
    delete std::exchange(c, c->next);
  }
}

bool SharedStateBase::cancel() {
  lock_.lock();
  for (;;) {
    auto st = static_cast<FutureState>(state_.load(std::memory_order_acquire));
    if (st == FutureState::RUNNING || st == FutureState::FINISHED) {
      lock_.unlock();
      return false;
    }
    if (st == FutureState::CANCELLED || st == FutureState::CANCELLED_AND_NOTIFIED) {
      lock_.unlock();
      return true;
    }
    auto expected = static_cast<std::uint32_t>(FutureState::PENDING);
    if (state_.compare_exchange_strong(expected,
                                       static_cast<std::uint32_t>(FutureState::CANCELLED),
                                       std::memory_order_acq_rel)) {
      break;
    }
    // A worker started it between our load and the CAS: look again.
  }
  after_done_locked(std::nullopt);  // Python's cancel() runs callbacks, not waiters
  return true;
}

SharedStateBase::Start SharedStateBase::try_start() noexcept {
  auto expected = static_cast<std::uint32_t>(FutureState::PENDING);
  if (state_.compare_exchange_strong(expected, static_cast<std::uint32_t>(FutureState::RUNNING),
                                     std::memory_order_acq_rel)) {
    return Start::started;
  }
  if (expected != static_cast<std::uint32_t>(FutureState::CANCELLED)) return Start::busy;
  lock_.lock();
  if (state_.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(FutureState::CANCELLED)) {
    lock_.unlock();
    return Start::busy;
  }
  state_.store(static_cast<std::uint32_t>(FutureState::CANCELLED_AND_NOTIFIED),
               std::memory_order_release);
  notify_waiters_locked(Waiter::Event::cancelled);
  lock_.unlock();
  return Start::cancelled;
}

bool SharedStateBase::set_running_or_notify_cancel() {
  switch (try_start()) {
    case Start::started:
      return true;
    case Start::cancelled:
      return false;
    case Start::busy:
      break;
  }
  log_error("Future " + repr() + " in unexpected state: " + std::string(to_string(state())),
            nullptr);
  throw RuntimeError("Future in unexpected state");
}

void SharedStateBase::set_exception(std::exception_ptr error) {
  if (!error) throw ValueError("set_exception needs an exception");
  finish([&] { error_ = std::move(error); });
}

void SharedStateBase::add_done_callback(std::function<void(SharedStateBase&)> fn) {
  lock_.lock();
  if (state_.load(std::memory_order_acquire) < static_cast<std::uint32_t>(FutureState::CANCELLED)) {
    try {
      callbacks_ = new CallbackNode{callbacks_, std::move(fn)};
    } catch (...) {
      lock_.unlock();
      throw;
    }
    lock_.unlock();
    return;
  }
  lock_.unlock();
  try {
    fn(*this);
  } catch (...) {
    log_error("exception calling callback for " + repr(), std::current_exception());
  }
}

bool SharedStateBase::add_waiter(WaiterLink* link) noexcept {
  lock_.lock();
  if (notified_done()) {
    lock_.unlock();
    return false;
  }
  link->prev = nullptr;
  link->next = waiters_;
  if (waiters_) waiters_->prev = link;
  waiters_ = link;
  link->linked = true;
  lock_.unlock();
  return true;
}

void SharedStateBase::remove_waiter(WaiterLink* link) noexcept {
  lock_.lock();
  if (link->linked) {
    if (link->prev) {
      link->prev->next = link->next;
    } else {
      waiters_ = link->next;
    }
    if (link->next) link->next->prev = link->prev;
    link->linked = false;
  }
  lock_.unlock();
}

void SharedStateBase::notify_waiters_locked(Waiter::Event event) noexcept {
  WaiterLink* w = std::exchange(waiters_, nullptr);
  while (w) {
    WaiterLink* next = w->next;  // `w` may be freed once its owner hears of this
    w->linked = false;
    w->owner->on_done(this, event);
    w = next;
  }
}

void SharedStateBase::after_done_locked(std::optional<Waiter::Event> event) noexcept {
  if (event) notify_waiters_locked(*event);
  CallbackNode* list = std::exchange(callbacks_, nullptr);
  lock_.unlock();
  parking_lot(this).notify_all();
  run_callbacks(list);
}

void SharedStateBase::run_callbacks(CallbackNode* list) noexcept {
  // The list is newest-first; Python calls callbacks in the order they were added.
  CallbackNode* ordered = nullptr;
  while (list) {
    CallbackNode* next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    CallbackNode* next = ordered->next;
    try {
      ordered->fn(*this);
    } catch (...) {
      log_error("exception calling callback for " + repr(), std::current_exception());
    }
    delete ordered;
    ordered = next;
  }
}

void SharedStateBase::throw_invalid_state(FutureState st) const {
  throw InvalidStateError(std::string(to_string(st)) + ": " + repr());
}

std::string SharedStateBase::repr() const {
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", static_cast<const void*>(this));
  std::string out = std::string("<Future at ") + addr + " state=";
  auto st = state();
  switch (st) {
    case FutureState::PENDING:
      out += "pending";
      break;
    case FutureState::RUNNING:
      out += "running";
      break;
    case FutureState::CANCELLED:
    case FutureState::CANCELLED_AND_NOTIFIED:
      out += "cancelled";
      break;
    case FutureState::FINISHED:
      out += "finished";
      if (error_) {
        out += " raised " + exception_name(error_);
      } else {
        out += " returned " + type_name(value_type());
      }
      break;
  }
  return out + ">";
}

// ---- as_completed ---------------------------------------------------------------------

class AsCompletedCore final : public Waiter {
 public:
  explicit AsCompletedCore(Deadline deadline) : deadline_(deadline) {}
  AsCompletedCore(const AsCompletedCore&) = delete;
  ~AsCompletedCore() {
    for (auto& [s, link] : pending_) {
      s->remove_waiter(&link);
      s->release();
    }
  }

  void add(SharedStateBase* s) {
    WaiterLink* link;
    {
      std::lock_guard g(mu_);
      auto [it, inserted] = pending_.try_emplace(s);
      if (!inserted) return;
      s->add_ref();
      ++total_;
      link = &it->second;
      link->owner = this;
    }
    if (!s->add_waiter(link)) push_ready(s);  // already done: yielded first
  }

  void on_done(SharedStateBase* s, Event) noexcept override { push_ready(s); }

  AnyFuture next() {
    for (;;) {
      {
        std::unique_lock g(mu_);
        if (!ready_.empty()) {
          SharedStateBase* s = ready_.front();
          ready_.pop_front();
          nready_.fetch_sub(1, std::memory_order_relaxed);
          auto node = pending_.extract(s);
          g.unlock();
          s->remove_waiter(&node.mapped());  // waits out a notification still in flight
          return AnyFutureAccess::adopt(s);  // our reference goes to the caller
        }
        if (pending_.empty()) return AnyFuture();
      }
      if (!detail::await(ec_, deadline_,
                         [this] { return nready_.load(std::memory_order_acquire) > 0; })) {
        std::lock_guard g(mu_);
        if (!ready_.empty()) continue;
        char msg[96];
        std::snprintf(msg, sizeof msg, "%zu (of %zu) futures unfinished", pending_.size(), total_);
        throw TimeoutError(msg);
      }
    }
  }

  std::size_t size() const {
    std::lock_guard g(mu_);
    return pending_.size();
  }

 private:
  void push_ready(SharedStateBase* s) noexcept {
    {
      std::lock_guard g(mu_);
      ready_.push_back(s);
      nready_.fetch_add(1, std::memory_order_release);
    }
    ec_.notify_one();
  }

  Deadline deadline_;
  mutable std::mutex mu_;
  std::unordered_map<SharedStateBase*, WaiterLink> pending_;  // owns one reference each
  std::deque<SharedStateBase*> ready_;                        // done, not yet yielded
  std::atomic<std::size_t> nready_{0};
  std::size_t total_ = 0;
  EventCount ec_;
};

}  // namespace detail

AsCompleted::AsCompleted(Timeout timeout)
    : core_(std::make_unique<detail::AsCompletedCore>(timeout.deadline())) {}
AsCompleted::AsCompleted(AsCompleted&&) noexcept = default;
AsCompleted& AsCompleted::operator=(AsCompleted&&) noexcept = default;
AsCompleted::~AsCompleted() = default;

void AsCompleted::add(const AnyFuture& future) {
  if (!future.valid()) throw ValueError("as_completed: empty future");
  core_->add(detail::AnyFutureAccess::state(future));
}

std::size_t AsCompleted::size() const { return core_->size(); }

AsCompleted::iterator& AsCompleted::iterator::operator++() {
  current_ = AnyFuture();  // release the yielded future at once
  current_ = owner_->core_->next();
  return *this;
}

// ---- AnyFuture ------------------------------------------------------------------------

void AnyFuture::add_done_callback(std::function<void(AnyFuture)> fn) const {
  s_->add_done_callback([fn = std::move(fn)](detail::SharedStateBase& s) {
    s.add_ref();
    fn(detail::AnyFutureAccess::adopt(&s));
  });
}

// ---- wait -----------------------------------------------------------------------------

namespace {

class WaitWaiter final : public detail::Waiter {
 public:
  WaitWaiter(ReturnWhen when, std::size_t pending) : when_(when), remaining_(pending) {}
  void on_done(detail::SharedStateBase*, Event event) noexcept override {
    if (when_ == FIRST_COMPLETED || (when_ == FIRST_EXCEPTION && event == Event::exception)) {
      fire();
    } else if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      fire();
    }
  }
  bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }
  detail::EventCount& ec() noexcept { return ec_; }

 private:
  void fire() noexcept {
    fired_.store(true, std::memory_order_release);
    ec_.notify_all();
  }
  ReturnWhen when_;
  std::atomic<std::size_t> remaining_;
  std::atomic<bool> fired_{false};
  detail::EventCount ec_;
};

bool finished_with_exception(const AnyFuture& f) {
  auto* s = detail::AnyFutureAccess::state(f);
  return s->state() == FutureState::FINISHED && s->stored_exception() != nullptr;
}

}  // namespace

DoneAndNotDoneFutures wait(const std::vector<AnyFuture>& futures, Timeout timeout,
                           ReturnWhen return_when) {
  const Deadline deadline = timeout.deadline();
  DoneAndNotDoneFutures r;
  std::vector<AnyFuture> pending;
  for (const auto& f : futures) {
    if (!f.valid()) throw ValueError("wait: empty future");
    if (r.done.count(f) || r.not_done.count(f)) continue;
    if (detail::AnyFutureAccess::state(f)->notified_done()) {
      r.done.insert(f);
    } else {
      r.not_done.insert(f);
      pending.push_back(f);
    }
  }
  if (return_when == FIRST_COMPLETED && !r.done.empty()) return r;
  if (return_when == FIRST_EXCEPTION) {
    for (const auto& f : r.done)
      if (finished_with_exception(f)) return r;
  }
  if (pending.empty()) return r;

  WaitWaiter waiter(return_when, pending.size());
  std::vector<detail::WaiterLink> links(pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto* s = detail::AnyFutureAccess::state(pending[i]);
    links[i].owner = &waiter;
    if (!s->add_waiter(&links[i])) {
      using E = detail::Waiter::Event;
      waiter.on_done(s, s->state() != FutureState::FINISHED ? E::cancelled
                        : s->stored_exception()              ? E::exception
                                                             : E::result);
    }
  }
  detail::await(waiter.ec(), deadline, [&] { return waiter.fired(); });
  for (std::size_t i = 0; i < pending.size(); ++i)
    detail::AnyFutureAccess::state(pending[i])->remove_waiter(&links[i]);

  for (const auto& f : pending) {
    if (detail::AnyFutureAccess::state(f)->notified_done()) {
      r.not_done.erase(f);
      r.done.insert(f);
    }
  }
  return r;
}

// ---- ThreadPoolExecutor ---------------------------------------------------------------

namespace {

constexpr const char* kBrokenMessage =
    "A thread initializer failed, the thread pool is not usable anymore";
constexpr const char* kForkedMessage =
    "this ThreadPoolExecutor was inherited through fork(): its worker threads exist only "
    "in the parent process";

std::atomic<int> executor_counter{0};

int default_max_workers() {
  unsigned n = std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  return static_cast<int>(std::min(32u, n + 4));
}

}  // namespace

struct ThreadPoolExecutor::Impl {
  // gate_: bit 0 = shut down; the rest counts submitters between their check and their
  // push, so shutdown can wait for them instead of taking a lock on every submit.
  static constexpr std::uint64_t kShut = 1;
  static constexpr std::uint64_t kSubmitter = 2;

  Impl(ThreadPoolExecutor* owner, Options o)
      : owner_(owner),
        max_workers_(o.max_workers.value_or(default_max_workers())),
        prefix_(o.thread_name_prefix),
        initializer_(std::move(o.initializer)),
        max_pending_(o.max_pending),
        generation_(detail::fork_generation()) {
    if (max_workers_ <= 0) throw ValueError("max_workers must be greater than 0");
    if (prefix_.empty())  // Python counts only the executors that need a default name
      prefix_ = "ThreadPoolExecutor-" +
                std::to_string(executor_counter.fetch_add(1, std::memory_order_relaxed));
  }

  // True in a fork child of the process that made this executor (see detail/fork.hpp).
  bool inherited() const noexcept {
    return detail::fork_generation_counter.load(std::memory_order_relaxed) != generation_;
  }

  ~Impl() {
    // In a fork child the queue's lock may have been held by a parent's worker: leave
    // the queue alone (its tasks never run here; their futures stay pending).
    if (inherited()) return;
    // Nothing can run what is left (no worker was ever started, or all failed): cancel it.
    drain([](detail::SharedStateBase* s) {
      s->cancel();
      s->run_task();
    });
  }

  void leave() noexcept {
    if (gate_.fetch_sub(kSubmitter, std::memory_order_acq_rel) - kSubmitter == kShut)
      work_ec_.notify_all();  // the last submitter after shutdown: let idle workers exit
  }

  void schedule(detail::SharedStateBase* task, const Deadline& deadline) {
    if (inherited()) throw BrokenThreadPool(kForkedMessage);
    std::uint64_t g = gate_.fetch_add(kSubmitter, std::memory_order_acq_rel);
    if (broken_.load(std::memory_order_acquire)) {
      leave();
      throw BrokenThreadPool(kBrokenMessage);
    }
    if (g & kShut) {
      leave();
      throw RuntimeError("cannot schedule new futures after shutdown");
    }
    if (max_pending_ != 0) reserve_slot(deadline);
    queue_.push(task);  // with the reference submit_until() made for the queue
    if (nthreads_.load(std::memory_order_relaxed) < max_workers_ && !claim_idle()) {
      try {
        spawn();
      } catch (...) {
        leave();
        throw;
      }
    }
    wake_if_nobody_spins();
    leave();
  }

  // After queuing work: wakes a sleeping worker unless one is spinning (it will see the
  // work) — so a submit makes no syscall while workers are busy or searching.
  void wake_if_nobody_spins() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the push before the loads below
    if (spinning_.load(std::memory_order_relaxed) == 0) wake_one();
  }

  // Wakes one sleeping worker unless a wake-up is already on its way. A woken worker
  // counts as a waiter until it runs again (tens of microseconds on a loaded machine);
  // without `waking_` every submit in that window would make another futex syscall.
  // Correctness: a sleeper clears `waking_` after announcing itself (prepare_wait) and
  // before its last look at the queue, with a fence between, so a notifier that saw the
  // flag set either had its work seen by that look or was preceded by a notifier whose
  // notify reaches the sleeper.
  void wake_one() noexcept {
    if (!work_ec_.has_waiters()) return;
    if (waking_.load(std::memory_order_relaxed) ||
        waking_.exchange(true, std::memory_order_seq_cst))
      return;
    work_ec_.notify_one();
  }

  bool work_or_exit() const noexcept {
    return !queue_.empty() || gate_.load(std::memory_order_acquire) == kShut;
  }

  // An idle worker's wait: spin a little (a handoff seen while spinning costs ~0.1 us, a
  // futex wake-up 10-50 us), then sleep on work_ec_. No sched_yield phase: on a loaded
  // machine a yield can cost a whole time slice while submitters, seeing a spinner,
  // would not wake anyone.
  void wait_for_work() {
    spinning_.fetch_add(1, std::memory_order_seq_cst);
    bool found = detail::adaptive_spin_until(detail::worker_spin_ns, [this] { return work_or_exit(); });
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
    if (found) return;
    // Sleep once; whatever woke us, the caller looks for work and, finding none, spins
    // again: a woken worker shows up as a spinner, so the submits that follow do not
    // wake another one each. Once counted as a waiter it clears waking_ (see wake_one).
    detail::sleep_once(work_ec_, Deadline(), [this] { return work_or_exit(); }, [this] {
      waking_.store(false, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    });
    waking_.store(false, std::memory_order_seq_cst);
  }

  // Python's `_idle_semaphore.acquire(timeout=0)`: takes one available worker, if any.
  bool claim_idle() noexcept {
    int i = idle_.load(std::memory_order_relaxed);
    while (i > 0) {
      if (idle_.compare_exchange_weak(i, i - 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  void reserve_slot(const Deadline& deadline) {
    auto try_take = [this] {
      std::size_t p = pending_.load(std::memory_order_relaxed);
      while (p < max_pending_) {
        if (pending_.compare_exchange_weak(p, p + 1, std::memory_order_acq_rel)) return true;
      }
      return false;
    };
    for (;;) {
      if (try_take()) return;
      bool in_time = detail::await(space_ec_, deadline, [this] {
        return pending_.load(std::memory_order_acquire) < max_pending_ ||
               (gate_.load(std::memory_order_acquire) & kShut) ||
               broken_.load(std::memory_order_acquire);
      });
      if (broken_.load(std::memory_order_acquire)) {
        leave();
        throw BrokenThreadPool(kBrokenMessage);
      }
      if (gate_.load(std::memory_order_acquire) & kShut) {
        leave();
        throw RuntimeError("cannot schedule new futures after shutdown");
      }
      if (!in_time && !try_take()) {
        leave();
        throw Full("executor queue is full");
      }
    }
  }

  void spawn() {
    std::lock_guard g(threads_mu_);
    int n = nthreads_.load(std::memory_order_relaxed);
    if (n >= max_workers_) return;
    std::string name = prefix_ + "_" + std::to_string(n);
    // Daemon: an executor that is never shut down must not keep the process alive; the
    // destructor's shutdown(true) is what joins them.
    auto t = std::make_unique<Thread>(Thread::Options{.name = name, .daemon = true},
                                      [this] { worker_main(); });
    t->start();
    threads_.push_back(std::move(t));
    nthreads_.store(n + 1, std::memory_order_release);
  }

  void took_one() noexcept {
    if (max_pending_ != 0) {
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      space_ec_.notify_one();
    }
  }

  void worker_main() {
    detail::current_worker_owner = static_cast<const Executor*>(owner_);
    if (initializer_) {
      try {
        initializer_();
      } catch (...) {
        detail::log_error("Exception in initializer:", std::current_exception());
        initializer_failed();
        return;
      }
    }
    // `available`: this worker has counted itself in idle_ (Python's idle semaphore) since
    // it last took a task. It does so just before publishing a result, so that a caller
    // who sees the result and submits again finds it available instead of starting a
    // thread; and when it finds the queue empty.
    bool available = false;
    struct HookCtx {
      Impl* self;
      bool* available;
    } ctx{this, &available};
    detail::RunHook hook{
        [](void* p) noexcept {
          auto* c = static_cast<HookCtx*>(p);
          if (!*c->available &&
              c->self->nthreads_.load(std::memory_order_relaxed) < c->self->max_workers_) {
            c->self->idle_.fetch_add(1, std::memory_order_release);
            *c->available = true;
          }
        },
        &ctx};
    int misses = 0;
    for (;;) {
      if (detail::TaskNode* n = queue_.try_pop()) {
        misses = 0;
        available = false;
        took_one();
        // A backlog and a sleeping colleague, with nobody spinning: wake it to share.
        if (work_ec_.has_waiters() && !queue_.empty() &&
            spinning_.load(std::memory_order_relaxed) == 0)
          wake_one();
        auto* s = static_cast<detail::SharedStateBase*>(n);
        s->run_task(hook);
        s->release();
        if (inherited()) return;  // the task forked and returned in the child: stop here
        continue;
      }
      if (!queue_.empty()) {  // another worker holds the consumer end, or a push is mid-way
        if (++misses < 64) {
          detail::cpu_relax();
        } else {
          std::this_thread::yield();
        }
        continue;
      }
      if (gate_.load(std::memory_order_acquire) == kShut && queue_.empty()) return;
      if (!available) {
        idle_.fetch_add(1, std::memory_order_release);
        available = true;
      }
      wait_for_work();
    }
  }

  template <class Fn>
  void drain(Fn&& each) {
    while (!queue_.empty()) {
      detail::TaskNode* n = queue_.pop();
      if (!n) {
        std::this_thread::yield();
        continue;
      }
      took_one();
      auto* s = static_cast<detail::SharedStateBase*>(n);
      each(s);
      s->release();
    }
  }

  void wait_for_submitters() {
    while ((gate_.load(std::memory_order_acquire) & ~kShut) != 0) std::this_thread::yield();
  }

  void initializer_failed() {
    broken_.store(true, std::memory_order_seq_cst);
    space_ec_.notify_all();
    wait_for_submitters();
    drain([](detail::SharedStateBase* s) {
      if (s->try_start() != detail::SharedStateBase::Start::started) return;
      try {
        s->set_exception(std::make_exception_ptr(BrokenThreadPool(kBrokenMessage)));
      } catch (...) {
      }
    });
  }

  void shutdown(bool wait, bool cancel_futures) {
    gate_.fetch_or(kShut, std::memory_order_acq_rel);
    if (inherited()) return;  // no workers to stop or join in a fork child
    space_ec_.notify_all();
    wait_for_submitters();
    if (cancel_futures) {
      drain([](detail::SharedStateBase* s) {
        s->cancel();
        s->run_task();  // CANCELLED → CANCELLED_AND_NOTIFIED: wait()/as_completed() hear it
      });
    }
    work_ec_.notify_all();
    if (!wait) return;
    std::lock_guard g(threads_mu_);
    for (auto& t : threads_) {
      if (t.get() != &current_thread()) t->join();  // a task of ours cannot join itself
    }
    threads_.clear();
  }

  ThreadPoolExecutor* owner_;
  int max_workers_;
  std::string prefix_;
  std::function<void()> initializer_;
  std::size_t max_pending_;
  std::uint32_t generation_;  // fork_generation() when made

  detail::TaskQueue queue_;
  alignas(64) std::atomic<std::uint64_t> gate_{0};
  alignas(64) std::atomic<int> idle_{0};
  alignas(64) std::atomic<int> spinning_{0};  // workers in wait_for_work()'s spin phase
  std::atomic<bool> waking_{false};            // a wake-up was sent and not yet taken
  std::atomic<int> nthreads_{0};
  std::atomic<bool> broken_{false};
  detail::EventCount work_ec_;
  alignas(64) std::atomic<std::size_t> pending_{0};
  detail::EventCount space_ec_;
  std::mutex threads_mu_;
  std::vector<std::unique_ptr<Thread>> threads_;
};

ThreadPoolExecutor::ThreadPoolExecutor(Options options)
    : impl_(std::make_unique<Impl>(this, std::move(options))) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(true); }

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  impl_->shutdown(wait, cancel_futures);
}

void ThreadPoolExecutor::schedule(detail::SharedStateBase* task, const Deadline& deadline) {
  impl_->schedule(task, deadline);
}

int ThreadPoolExecutor::max_workers() const noexcept { return impl_->max_workers_; }
const std::string& ThreadPoolExecutor::thread_name_prefix() const noexcept {
  return impl_->prefix_;
}
std::size_t ThreadPoolExecutor::num_threads() const noexcept {
  return static_cast<std::size_t>(impl_->nthreads_.load(std::memory_order_acquire));
}
bool ThreadPoolExecutor::has_queued_work() const noexcept { return !impl_->queue_.empty(); }

}  // namespace gilfree
