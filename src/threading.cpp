#include "gilfree/threading.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <typeinfo>

namespace gilfree {

std::uint64_t get_ident() noexcept { return static_cast<std::uint64_t>(pthread_self()); }

std::uint64_t get_native_id() noexcept {
  thread_local const std::uint64_t tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  return tid;
}

// ---- Lock -----------------------------------------------------------------------------

bool Lock::acquire_slow(bool blocking, const Timeout& timeout) {
  if (!blocking || timeout.duration().count() == 0) return false;
  Deadline deadline = timeout.deadline();
  if (detail::spin_until([this] {
        return state_.load(std::memory_order_relaxed) == kUnlocked && try_acquire_once();
      }))
    return true;
  // Mark the lock contended before sleeping, so the releaser knows to wake someone.
  while (state_.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
    if (!detail::futex_wait(state_, kContended, deadline))
      return state_.exchange(kContended, std::memory_order_acquire) == kUnlocked;
  }
  return true;
}

void Lock::release_slow(std::uint32_t prev) {
  if (prev == kUnlocked) throw RuntimeError("release unlocked lock");
  detail::futex_wake(state_, 1);
}

// ---- RLock ----------------------------------------------------------------------------

bool RLock::acquire(bool blocking, Timeout timeout) {
  if (!blocking && !timeout.is_forever())
    throw ValueError("can't specify a timeout for a non-blocking call");
  const auto me = get_ident();
  if (owner_.load(std::memory_order_relaxed) == me) {
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }
  if (!lock_.acquire(blocking, timeout)) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_.store(1, std::memory_order_relaxed);
  return true;
}

void RLock::release() {
  if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
  const std::size_t depth = count_.load(std::memory_order_relaxed) - 1;
  count_.store(depth, std::memory_order_relaxed);
  if (depth == 0) {
    owner_.store(0, std::memory_order_relaxed);
    lock_.release();
  }
}

std::size_t RLock::release_save() {
  if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
  std::size_t depth = count_.load(std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  owner_.store(0, std::memory_order_relaxed);
  lock_.release();
  return depth;
}

void RLock::acquire_restore(std::size_t depth) {
  lock_.acquire();
  owner_.store(get_ident(), std::memory_order_relaxed);
  count_.store(depth, std::memory_order_relaxed);
}

// ---- Condition ------------------------------------------------------------------------

// A thread blocked in wait(): a node of the condition's FIFO, on the waiter's stack.
// The list is guarded by the condition's lock; `state` is the hand-off to the sleeper.
struct Condition::Waiter {
  static constexpr std::uint32_t kWaiting = 0, kNotified = 1, kSleeping = 2;
  std::atomic<std::uint32_t> state{kWaiting};
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
};

const Condition::Ops Condition::lock_ops = {
    [](void* l, bool blocking, const Timeout& t) {
      return static_cast<Lock*>(l)->acquire(blocking, t);
    },
    [](void* l) { static_cast<Lock*>(l)->release(); },
    [](void* l) { return static_cast<Lock*>(l)->locked(); },
    [](void* l) -> std::size_t { return static_cast<Lock*>(l)->release(), 0; },
    [](void* l, std::size_t) { static_cast<Lock*>(l)->acquire(); },
};

const Condition::Ops Condition::rlock_ops = {
    [](void* l, bool blocking, const Timeout& t) {
      return static_cast<RLock*>(l)->acquire(blocking, t);
    },
    [](void* l) { static_cast<RLock*>(l)->release(); },
    [](void* l) { return static_cast<RLock*>(l)->is_owned(); },
    [](void* l) { return static_cast<RLock*>(l)->release_save(); },
    [](void* l, std::size_t depth) { static_cast<RLock*>(l)->acquire_restore(depth); },
};

Condition::Condition()
    : own_lock_(std::make_unique<RLock>()), lock_(own_lock_.get()), ops_(&rlock_ops) {}
Condition::Condition(Lock& lock) : lock_(&lock), ops_(&lock_ops) {}
Condition::Condition(RLock& lock) : lock_(&lock), ops_(&rlock_ops) {}
Condition::~Condition() = default;

void Condition::check_owned(const char* what) const {
  if (!ops_->is_owned(lock_)) throw RuntimeError(what);
}

bool Condition::wait(Timeout timeout) {
  check_owned("cannot wait on un-acquired lock");
  const Deadline deadline = timeout.deadline();
  Waiter self;
  // Enqueue while holding the lock, so a notify after our release cannot miss us.
  self.prev = tail_;
  (tail_ ? tail_->next : head_) = &self;
  tail_ = &self;
  n_waiters_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t saved = ops_->release_save(lock_);

  auto notified = [&] {
    return self.state.load(std::memory_order_acquire) == Waiter::kNotified;
  };
  if (!(deadline.expired() || detail::spin_then_yield_until(notified))) {
    std::uint32_t expected = Waiter::kWaiting;
    if (self.state.compare_exchange_strong(expected, Waiter::kSleeping,
                                           std::memory_order_acq_rel)) {
      while (self.state.load(std::memory_order_acquire) == Waiter::kSleeping &&
             detail::futex_wait(self.state, Waiter::kSleeping, deadline)) {
      }
    }
  }
  ops_->acquire_restore(lock_, saved);
  // A notify that raced with our timeout still counts: the notifier dequeued us.
  if (notified()) return true;
  n_waiters_.fetch_sub(1, std::memory_order_relaxed);
  (self.prev ? self.prev->next : head_) = self.next;
  (self.next ? self.next->prev : tail_) = self.prev;
  return false;
}

void Condition::notify(std::size_t n) {
  check_owned("cannot notify on un-acquired lock");
  while (head_ && n-- > 0) {
    Waiter* w = head_;
    head_ = w->next;
    (head_ ? head_->prev : tail_) = nullptr;
    n_waiters_.fetch_sub(1, std::memory_order_relaxed);
    // The waiter cannot return before it re-acquires the lock we hold, so `w` stays valid.
    if (w->state.exchange(Waiter::kNotified, std::memory_order_acq_rel) == Waiter::kSleeping)
      detail::futex_wake(w->state, 1);
  }
}

void Condition::notify_all() { notify(SIZE_MAX); }

// ---- Semaphore ------------------------------------------------------------------------

Semaphore::Semaphore(std::int64_t value) : value_(value) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
}

bool Semaphore::acquire_slow(bool blocking, const Timeout& timeout) {
  if (!blocking || timeout.duration().count() == 0) return false;
  return detail::await(ec_, timeout.deadline(), [this] { return try_take(); });
}

void Semaphore::wake(std::int64_t n) noexcept {
  ec_.notify(static_cast<int>(std::min<std::int64_t>(n, INT_MAX)));
}

void Semaphore::release(std::int64_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  value_.fetch_add(n, std::memory_order_release);
  wake(n);
}

void BoundedSemaphore::release(std::int64_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  std::int64_t v = value_.load(std::memory_order_relaxed);
  do {
    if (v + n > initial_) throw ValueError("Semaphore released too many times");
  } while (!value_.compare_exchange_weak(v, v + n, std::memory_order_release,
                                         std::memory_order_relaxed));
  wake(n);
}

// ---- thread registry ------------------------------------------------------------------

namespace detail {

// Everything about one thread that outlives the Thread object if it has to: the OS
// thread holds a reference until it ends.
struct ThreadState {
  std::mutex mu;     // guards name and handle
  std::string name;
  std::atomic<bool> daemon{false};
  std::atomic<bool> started{false};  // start() was called
  std::atomic<bool> alive{false};
  std::atomic<std::uint64_t> ident{0};
  std::atomic<std::uint64_t> native_id{0};
  Event running;   // set once the OS thread is about to call run()
  Event finished;  // set once run() and the thread's clean-up are over
  std::thread handle;  // joinable for a non-daemon thread until reaped
  Task target;
  // Guarded by the registry's mutex: the Thread object current_thread() returns, and a
  // stand-in we own when the user's object is gone (or never existed: main, dummies).
  Thread* self = nullptr;
  std::unique_ptr<Thread> stand_in;

  static void main(std::shared_ptr<ThreadState> st);
  // State for a thread gilfree did not start (main, foreign), already running, with a
  // stand-in Thread object; registered as alive.
  static std::shared_ptr<ThreadState> adopt_running(std::string name, bool daemon,
                                                    std::uint64_t ident,
                                                    std::uint64_t native_id);
  void reap() {
    std::lock_guard g(mu);
    if (handle.joinable()) {
      if (handle.get_id() == std::this_thread::get_id())
        handle.detach();
      else
        handle.join();
    }
  }
};

namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<ThreadState>> alive;
  std::atomic<std::uint64_t> name_counter{0};
  ExceptHook hook;  // guarded by mu; empty = default
  bool exit_hook_installed = false;

  void add(std::shared_ptr<ThreadState> st) {
    std::lock_guard g(mu);
    alive.push_back(std::move(st));
  }
  void remove(ThreadState* st) {
    std::lock_guard g(mu);
    alive.erase(std::remove_if(alive.begin(), alive.end(),
                               [st](const auto& p) { return p.get() == st; }),
                alive.end());
  }
};

// Never destroyed: daemon threads may still use it while the process exits.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

std::string new_name(const char* prefix) {
  return prefix + std::to_string(++registry().name_counter);
}

thread_local ThreadState* tls_current = nullptr;

// Per-thread exit callbacks (local<T> values) and, for foreign threads, the dummy
// Thread that represents them; run when the OS thread ends.
struct ThreadExit {
  std::vector<std::function<void()>> callbacks;
  std::shared_ptr<ThreadState> dummy;
  void run_callbacks() {
    while (!callbacks.empty()) {
      auto cbs = std::move(callbacks);
      callbacks.clear();
      for (auto& cb : cbs) cb();
    }
  }
  ~ThreadExit() {
    run_callbacks();
    if (dummy) {
      std::unique_ptr<Thread> doomed;
      {
        std::lock_guard g(registry().mu);
        dummy->alive = false;
        doomed = std::move(dummy->stand_in);
        dummy->self = nullptr;
      }
      registry().remove(dummy.get());
      tls_current = nullptr;
      dummy->finished.set();
    }
  }
};
thread_local ThreadExit tls_exit;

void join_non_daemon_threads() {
  for (;;) {
    std::shared_ptr<ThreadState> next;
    {
      std::lock_guard g(registry().mu);
      for (auto& st : registry().alive)
        if (!st->daemon && st.get() != tls_current && st->self && st->stand_in == nullptr)
          next = st;
    }
    if (!next) return;
    next->finished.wait();
    next->reap();
  }
}

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* s = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : t.name();
  std::free(s);
  return out;
}

}  // namespace

std::uint64_t thread_serial() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  thread_local const std::uint64_t serial = ++counter;
  return serial;
}

void at_thread_exit(std::function<void()> fn) { tls_exit.callbacks.push_back(std::move(fn)); }

std::shared_ptr<ThreadState> ThreadState::adopt_running(std::string name, bool daemon,
                                                        std::uint64_t ident,
                                                        std::uint64_t native_id) {
  auto st = std::make_shared<ThreadState>();
  st->name = std::move(name);
  st->daemon = daemon;
  st->started = true;
  st->alive = true;
  st->ident = ident;
  st->native_id = native_id;
  st->running.set();
  st->stand_in.reset(new Thread(Thread::Adopt{}, st));
  st->self = st->stand_in.get();
  registry().add(st);
  return st;
}

void ThreadState::main(std::shared_ptr<ThreadState> st) {
  tls_current = st.get();
  st->ident = get_ident();
  st->native_id = get_native_id();
  {
    std::lock_guard g(st->mu);
    pthread_setname_np(pthread_self(), st->name.substr(0, 15).c_str());
  }
  st->alive = true;
  Thread* self;
  {
    std::lock_guard g(registry().mu);
    self = st->self;
  }
  st->running.set();
  try {
    self->run();
  } catch (...) {
    Thread* who;
    {
      std::lock_guard g(registry().mu);
      who = st->self;  // the user's object may have been handed to a stand-in meanwhile
    }
    try {
      excepthook(ExceptHookArgs{std::current_exception(), who});
    } catch (...) {
      // A failing hook must not take the process down; Python ignores it likewise.
    }
  }
  tls_exit.run_callbacks();
  std::unique_ptr<Thread> doomed;
  {
    std::lock_guard g(registry().mu);
    st->alive = false;
    doomed = std::move(st->stand_in);
  }
  registry().remove(st.get());
  tls_current = nullptr;
  st->finished.set();
}

}  // namespace detail

// ---- Thread ---------------------------------------------------------------------------

Thread::Thread(Options options) : state_(std::make_shared<detail::ThreadState>()) {
  state_->name = options.name.empty() ? detail::new_name("Thread-") : std::move(options.name);
  state_->daemon = options.daemon.value_or(current_thread().daemon());
}

Thread::Thread(Adopt, std::shared_ptr<detail::ThreadState> state) : state_(std::move(state)) {}

void Thread::set_target(detail::Task task) { state_->target = std::move(task); }

Thread::~Thread() {
  if (!state_ || !state_->started) return;
  if (!state_->daemon) {
    if (detail::tls_current == state_.get())
      state_->reap();  // a thread destroying its own object: detach
    else
      join();
    return;
  }
  // A daemon still running outlives this object: current_thread() gets a stand-in.
  std::lock_guard g(detail::registry().mu);
  if (state_->alive && state_->self == this) {
    state_->stand_in.reset(new Thread(Adopt{}, state_));
    state_->self = state_->stand_in.get();
  }
}

void Thread::run() {
  auto st = state_;  // `this` may be destroyed while a daemon's target runs
  if (st->target) {
    st->target();
    st->target.reset();
  }
}

void Thread::start() {
  bool expected = false;
  if (!state_->started.compare_exchange_strong(expected, true))
    throw RuntimeError("threads can only be started once");
  auto& reg = detail::registry();
  {
    std::lock_guard g(reg.mu);
    state_->self = this;
    if (!state_->daemon && !reg.exit_hook_installed) {
      reg.exit_hook_installed = true;
      std::atexit(detail::join_non_daemon_threads);
    }
  }
  reg.add(state_);
  try {
    std::thread t(detail::ThreadState::main, state_);
    if (state_->daemon) {
      t.detach();
    } else {
      std::lock_guard g(state_->mu);
      state_->handle = std::move(t);
    }
  } catch (const std::system_error& e) {
    // As Python: the thread never started, so it may be started again and is not joined.
    reg.remove(state_.get());
    {
      std::lock_guard g(reg.mu);
      state_->self = nullptr;
    }
    state_->started = false;
    throw RuntimeError(std::string("can't start new thread: ") + e.what());
  }
  state_->running.wait();
}

void Thread::join(Timeout timeout) {
  if (!state_->started) throw RuntimeError("cannot join thread before it is started");
  if (state_->alive && state_->ident == get_ident())
    throw RuntimeError("cannot join current thread");
  if (state_->finished.wait(timeout)) state_->reap();
}

bool Thread::is_alive() const noexcept { return state_->alive; }

std::string Thread::name() const {
  std::lock_guard g(state_->mu);
  return state_->name;
}

void Thread::set_name(std::string name) {
  std::lock_guard g(state_->mu);
  state_->name = std::move(name);
}

bool Thread::daemon() const noexcept { return state_->daemon; }

void Thread::set_daemon(bool daemonic) {
  if (state_->started) throw RuntimeError("cannot set daemon status of active thread");
  state_->daemon = daemonic;
}

std::optional<std::uint64_t> Thread::ident() const noexcept {
  if (auto id = state_->ident.load()) return id;
  return std::nullopt;
}

std::optional<std::uint64_t> Thread::native_id() const noexcept {
  if (auto id = state_->native_id.load()) return id;
  return std::nullopt;
}

namespace {

bool is_process_main_thread() { return ::getpid() == static_cast<pid_t>(get_native_id()); }

}  // namespace

Thread& main_thread() {
  // The first caller may be any thread: the main one is the thread whose tid is the pid.
  static Thread* main = detail::ThreadState::adopt_running(
                            "MainThread", false, 0, static_cast<std::uint64_t>(::getpid()))
                            ->self;
  if (is_process_main_thread() && !main->state_->ident) main->state_->ident = get_ident();
  return *main;
}

Thread& current_thread() {
  if (auto* st = detail::tls_current) {
    std::lock_guard g(detail::registry().mu);
    return *st->self;
  }
  if (is_process_main_thread()) {
    Thread& m = main_thread();
    detail::tls_current = m.state_.get();
    return m;
  }
  // A thread gilfree did not start: represent it by a daemon "Dummy-N", as Python does.
  auto st = detail::ThreadState::adopt_running(detail::new_name("Dummy-"), true, get_ident(),
                                               get_native_id());
  detail::tls_exit.dummy = st;
  detail::tls_current = st.get();
  return *st->self;
}

std::vector<Thread*> enumerate() {
  main_thread();  // registered on first use
  auto& reg = detail::registry();
  std::lock_guard g(reg.mu);
  std::vector<Thread*> out;
  for (auto& st : reg.alive)
    if (st->self) out.push_back(st->self);
  return out;
}

std::size_t active_count() { return enumerate().size(); }

// ---- excepthook -----------------------------------------------------------------------

void default_excepthook(const ExceptHookArgs& args) {
  std::string name = args.thread ? args.thread->name() : std::string("<unknown>");
  std::string what;
  try {
    std::rethrow_exception(args.exc_value);
  } catch (const std::exception& e) {
    what = detail::type_name(typeid(e)) + ": " + e.what();
  } catch (...) {
    what = "unknown exception";
  }
  std::fprintf(stderr, "Exception in thread %s:\n%s\n", name.c_str(), what.c_str());
  std::fflush(stderr);
}

void excepthook(const ExceptHookArgs& args) {
  ExceptHook hook;
  {
    std::lock_guard g(detail::registry().mu);
    hook = detail::registry().hook;
  }
  if (hook)
    hook(args);
  else
    default_excepthook(args);
}

ExceptHook set_excepthook(ExceptHook hook) {
  std::lock_guard g(detail::registry().mu);
  std::swap(detail::registry().hook, hook);
  return hook;
}

// ---- Timer ----------------------------------------------------------------------------

Timer::~Timer() {
  // run() uses this object's members: wait for it here, before they are destroyed. As in
  // Python, a non-daemon timer still fires; a daemon one (not waited for at exit) is
  // cancelled.
  if (is_alive() && get_ident() != ident()) {
    if (daemon()) cancel();
    join();
  }
}

void Timer::run() {
  finished_.wait(interval_);
  if (!finished_.is_set()) action_();
  finished_.set();
}

// ---- Barrier --------------------------------------------------------------------------

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)), default_timeout_(timeout), parties_(parties) {
  if (parties < 1) throw ValueError("parties must be > 0");
}

std::size_t Barrier::wait(Timeout timeout) { return wait_impl(timeout, nullptr, nullptr); }

std::size_t Barrier::wait(Timeout timeout, Timeout every, const std::function<void()>& poll) {
  return wait_impl(timeout, &every, &poll);
}

std::size_t Barrier::wait_impl(const Timeout& timeout, const Timeout* every,
                               const std::function<void()>* poll) {
  std::scoped_lock guard(lock_);
  enter();  // blocks while the previous cycle drains or resets
  const std::size_t index = count_++;
  struct Leave {
    Barrier* b;
    ~Leave() {
      --b->count_;
      b->exit();
    }
  } leave{this};
  if (index + 1 == parties_)
    release_all();
  else
    wait_released(timeout, every, poll);
  return index;
}

void Barrier::enter() {
  while (state_ == State::draining || state_ == State::resetting) cond_.wait();
  if (state_ == State::broken) throw BrokenBarrierError();
}

void Barrier::release_all() {
  try {
    if (action_) action_();
    state_ = State::draining;
    cond_.notify_all();
  } catch (...) {
    break_barrier();
    throw;
  }
}

void Barrier::wait_released(const Timeout& timeout, const Timeout* every,
                            const std::function<void()>* poll) {
  auto released = [this] { return state_ != State::filling; };
  const Deadline deadline = timeout.deadline();
  bool done = false;
  for (;;) {
    Timeout step = deadline.is_forever() ? Timeout() : Timeout(deadline.remaining());
    if (every && (step.is_forever() || step.duration() > every->duration())) step = *every;
    done = cond_.wait_for(released, step);
    if (done || deadline.expired() || !every) break;
    // Poll without the lock: what it runs may call this barrier.
    lock_.release();
    try {
      (*poll)();
    } catch (...) {
      lock_.acquire();
      throw;
    }
    lock_.acquire();
  }
  if (!done) {
    break_barrier();
    throw BrokenBarrierError();
  }
  if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError();
}

void Barrier::exit() {
  if (count_ == 0 && (state_ == State::resetting || state_ == State::draining)) {
    state_ = State::filling;
    cond_.notify_all();
  }
}

void Barrier::reset() {
  std::scoped_lock guard(lock_);
  if (count_ > 0) {
    if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
  } else {
    state_ = State::filling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::scoped_lock guard(lock_);
  break_barrier();
}

void Barrier::break_barrier() {
  state_ = State::broken;
  cond_.notify_all();
}

}  // namespace gilfree
