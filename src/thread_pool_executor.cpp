// ThreadPoolExecutor's workers, queue and shutdown (see futures/thread_pool_executor.hpp).
#include "gilfree/futures/thread_pool_executor.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gilfree/detail/fork.hpp"
#include "gilfree/threading.hpp"

namespace gilfree {

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

// The pool's state. It is also each worker's BlockingHook: the same-pool deadlock guard.
struct ThreadPoolExecutor::Impl final : detail::BlockingHook {
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
    drain([](detail::WorkItem* w) {
      w->future().cancel();
      w->run();
    });
  }

  // The deadlock guard (see ThreadPoolExecutor): a worker about to block on a future
  // whose call is one of ours and has not started runs it here. A fork child's thread is
  // nobody's worker (the hook is reset there), and never runs an inherited task.
  void before_blocking(detail::SharedStateBase* s) noexcept override {
    if (s->state() != FutureState::PENDING || inherited()) return;
    auto* w = dynamic_cast<detail::WorkItem*>(s);
    if (w != nullptr && w->owner() == static_cast<const Executor*>(owner_)) w->run();
  }

  void leave() noexcept {
    if (gate_.fetch_sub(kSubmitter, std::memory_order_acq_rel) - kSubmitter == kShut)
      work_ec_.notify_all();  // the last submitter after shutdown: let idle workers exit
  }

  void schedule(detail::WorkItem* task, const Deadline& deadline) {
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
  // work) — so a submit makes no syscall while workers are busy or searching. No fence:
  // the push is a seq_cst exchange that TaskQueue::empty() reads with a seq_cst load, and
  // the loads here are seq_cst, so the push is ordered before them against a worker's
  // announce-then-look (a locked instruction fewer per submit: each of the four it had
  // cost about a quarter of schedule() in perf).
  void wake_if_nobody_spins() noexcept {
    if (spinning_.load(std::memory_order_seq_cst) == 0) wake_one();
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
    if (waking_.load(std::memory_order_seq_cst) ||
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
    detail::current_blocking_hook = this;
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
        auto* w = static_cast<detail::WorkItem*>(n);
        w->run(hook);
        w->release();
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
      auto* w = static_cast<detail::WorkItem*>(n);
      each(w);
      w->release();
    }
  }

  void wait_for_submitters() {
    while ((gate_.load(std::memory_order_acquire) & ~kShut) != 0) std::this_thread::yield();
  }

  void initializer_failed() {
    broken_.store(true, std::memory_order_seq_cst);
    space_ec_.notify_all();
    wait_for_submitters();
    drain([](detail::WorkItem* w) {
      auto& s = w->future();
      if (s.try_start() != detail::SharedStateBase::Start::started) return;
      try {
        s.set_exception(std::make_exception_ptr(BrokenThreadPool(kBrokenMessage)));
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
      drain([](detail::WorkItem* w) {
        w->future().cancel();
        w->run();  // CANCELLED → CANCELLED_AND_NOTIFIED: wait()/as_completed() hear it
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

void ThreadPoolExecutor::schedule(detail::WorkItem* task, const Deadline& deadline) {
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
