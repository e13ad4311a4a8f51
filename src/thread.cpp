// The thread registry (which threads are alive, their Thread objects, main_thread(),
// current_thread(), enumerate()), Thread itself, thread identity, and excepthook.
#include "gilfree/threading.hpp"

#include <cxxabi.h>
#include <pthread.h>

#include <atomic>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <typeinfo>

#include "gilfree/detail/fork.hpp"

namespace gilfree {

std::uint64_t get_ident() noexcept { return static_cast<std::uint64_t>(pthread_self()); }

namespace {
// The calling thread's kernel id, cached; refreshed in a fork child, where the forking
// thread has a new one.
thread_local std::uint64_t tls_tid = 0;
}  // namespace

std::uint64_t get_native_id() noexcept {
  if (tls_tid == 0) tls_tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  return tls_tid;
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
  // Set by start() when the object is a plain Thread (run() not overridden): the thread then
  // runs `target` through this state and never touches the object, which a daemon's owner
  // may destroy at any moment after start().
  bool plain_run = false;
  // Guarded by the registry's mutex: the Thread object current_thread() returns, and a
  // stand-in we own when the user's object is gone (or never existed: main, dummies).
  Thread* self = nullptr;
  std::unique_ptr<Thread> stand_in;

  static void main(std::shared_ptr<ThreadState> st);
  // Thread::run()'s body: calls the target once and drops it.
  static void run_target(ThreadState& st) {
    if (st.target) {
      st.target();
      st.target.reset();
    }
  }
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
  std::shared_ptr<ThreadState> main;  // guarded by mu; made on first use of main_thread()
  std::atomic<std::uint64_t> name_counter{0};
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
void registry_prepare() noexcept;
void registry_parent() noexcept;
void registry_child() noexcept;

// Set once the registry exists. The fork handlers use it, not registry(): a thread that
// is registering them holds registry()'s static-initialisation guard, and a fork()
// running the handlers meanwhile must not wait for that guard.
std::atomic<Registry*> registry_ptr{nullptr};  // atomic: TSan cannot see glibc's atfork lock

GILFREE_FORK_PATH Registry& registry() {  // a Process child's shutdown_threads() asks
  static Registry* r = [] {
    auto* made = new Registry;
    registry_ptr.store(made, std::memory_order_release);
    pthread_atfork(registry_prepare, registry_parent, registry_child);
    return made;
  }();
  return *r;
}

// Made during static initialisation (see detail/fork.hpp: a lazy first use racing a fork).
[[maybe_unused]] const bool registry_made_early = (registry(), true);

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

GILFREE_FORK_PATH void join_non_daemon_threads() {  // a Process child runs it as it ends
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

// ---- fork ---------------------------------------------------------------------------
// Python's threading._after_fork (see detail/fork.hpp): the registry's lock is held
// across fork(), so the child's copy is consistent; in the child only the forking thread
// is alive, and it is the main thread.

void registry_prepare() noexcept { registry_ptr.load(std::memory_order_acquire)->mu.lock(); }
void registry_parent() noexcept { registry_ptr.load(std::memory_order_acquire)->mu.unlock(); }

// The handles of a fork parent's threads, which do not exist in the child; never
// destroyed (a joinable std::thread's destructor would terminate).
std::vector<std::thread>* abandoned_handles = nullptr;

GILFREE_FORK_PATH void registry_child() noexcept {
  Registry& reg = *registry_ptr.load(std::memory_order_acquire);
  tls_tid = 0;  // the forking thread has a new kernel id
  std::shared_ptr<ThreadState> me;
  for (auto& st : reg.alive) {
    // Another thread may have held a state's own lock: that thread is gone.
    new (&st->mu) std::mutex();
    if (st.get() == tls_current) {
      me = st;
      continue;
    }
    st->alive = false;
    // Its OS thread does not exist here: joining or detaching the handle would act on
    // the parent's thread, so the handle is let go (a few bytes, once per fork), kept
    // reachable so LeakSanitizer does not report it when the child exits.
    if (st->handle.joinable()) {
      if (!abandoned_handles) abandoned_handles = new std::vector<std::thread>;
      abandoned_handles->push_back(std::move(st->handle));
    }
    st->finished.set();  // join() and exit() do not wait for it
  }
  reg.alive.clear();
  if (me) {
    me->ident = get_ident();
    me->native_id = get_native_id();
    if (tls_exit.dummy == me) {  // a foreign thread becomes the main thread, as in Python
      me->name = "MainThread";
      me->daemon = false;
    }
    reg.alive.push_back(me);
    reg.main = me;
  } else {
    reg.main.reset();  // made again, for this thread, on first use
  }
  reg.mu.unlock();
}

}  // namespace

GILFREE_FORK_PATH void shutdown_threads() { join_non_daemon_threads(); }

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
    if (st->plain_run)
      run_target(*st);
    else
      self->run();  // a subclass's run(): its object must outlive it
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
  detail::ThreadState::run_target(*st);
}

void Thread::start() {
  // Our own reference: once the new thread runs, another thread may join it and destroy
  // this Thread object (and with it state_) before start() returns.
  std::shared_ptr<detail::ThreadState> st = state_;
  bool expected = false;
  if (!st->started.compare_exchange_strong(expected, true))
    throw RuntimeError("threads can only be started once");
  auto& reg = detail::registry();
  st->plain_run = typeid(*this) == typeid(Thread);
  {
    std::lock_guard g(reg.mu);
    st->self = this;
    if (!st->daemon && !reg.exit_hook_installed) {
      reg.exit_hook_installed = true;
      std::atexit(detail::join_non_daemon_threads);
    }
  }
  reg.add(st);
  try {
    // Under the state's lock, so a join() (whose reap() takes it) cannot run between the
    // thread's start and the handle's store: it would find no handle to join, and the
    // joinable handle stored after it would terminate the program when destroyed.
    std::lock_guard g(st->mu);
    std::thread t(detail::ThreadState::main, st);
    if (st->daemon)
      t.detach();
    else
      st->handle = std::move(t);
  } catch (const std::system_error& e) {
    // As Python: the thread never started, so it may be started again and is not joined.
    reg.remove(st.get());
    {
      std::lock_guard g(reg.mu);
      st->self = nullptr;
    }
    st->started = false;
    throw RuntimeError(std::string("can't start new thread: ") + e.what());
  }
  st->running.wait();
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
  auto& reg = detail::registry();
  std::shared_ptr<detail::ThreadState> st;
  {
    std::lock_guard g(reg.mu);
    st = reg.main;
  }
  if (!st) {
    auto made = detail::ThreadState::adopt_running("MainThread", false, 0,
                                                   static_cast<std::uint64_t>(::getpid()));
    std::lock_guard g(reg.mu);
    if (!reg.main) {
      reg.main = made;
    } else {  // another thread won the race: drop ours
      made->alive = false;
      reg.alive.erase(std::remove(reg.alive.begin(), reg.alive.end(), made), reg.alive.end());
    }
    st = reg.main;
  }
  if (is_process_main_thread() && !st->ident) st->ident = get_ident();
  std::lock_guard g(reg.mu);
  return *st->self;
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

}  // namespace gilfree
