// multiprocessing's Lock, RLock, Semaphore, BoundedSemaphore and Event over shared futex
// words; see synchronize.hpp for the robustness argument.
#include "gilfree/multiprocessing/synchronize.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "gilfree/detail/fork.hpp"
#include "gilfree/detail/wait/futex.hpp"
#include "gilfree/detail/wait/spin.hpp"
#include "gilfree/multiprocessing/detail/shared_futex.hpp"

namespace gilfree::multiprocessing {
namespace detail {

// Process-shared futex: gilfree's one futex home (detail/wait/futex.hpp), shared scope.
bool shared_futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const Deadline& deadline) noexcept {
  return gilfree::detail::futex_wait(word, expected, deadline,
                                     gilfree::detail::FutexScope::process_shared);
}

void shared_futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  gilfree::detail::futex_wake(word, count, gilfree::detail::FutexScope::process_shared);
}

std::shared_ptr<void> map_shared_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw OSError("mmap(MAP_SHARED|MAP_ANONYMOUS)", errno);
  return std::shared_ptr<void>(p, [bytes](void* q) { ::munmap(q, bytes); });
}

namespace {
std::atomic<pid_t> g_pid{0};
thread_local pid_t t_tid = 0;
// The fork child's only thread is the forking one: forget its cached ids.
GILFREE_FORK_PATH void forget_ids_in_child() noexcept {
  g_pid.store(0, std::memory_order_relaxed);
  t_tid = 0;
}
const int g_atfork = ::pthread_atfork(nullptr, nullptr, forget_ids_in_child);
}  // namespace

pid_t self_pid() noexcept {
  pid_t p = g_pid.load(std::memory_order_relaxed);
  if (p == 0) {
    p = ::getpid();
    g_pid.store(p, std::memory_order_relaxed);
  }
  return p;
}

pid_t self_tid() noexcept {
  if (t_tid == 0) t_tid = static_cast<pid_t>(::syscall(SYS_gettid));
  return t_tid;
}

bool id_alive(pid_t id) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(id));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT && errno != ESRCH;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;  // the entry vanished under us
  buf[n] = '\0';
  const char* rp = std::strrchr(buf, ')');  // the name may contain ')' — the last one ends it
  if (!rp || rp[1] == '\0') return true;
  const char state = rp[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

}  // namespace detail

namespace {

constexpr std::uint32_t kWaiters = 0x80000000u;
constexpr std::uint32_t kIdMask = ~kWaiters;

// The deadline of one sleep: the caller's, or kRecheck from now if that is sooner.
Deadline slice(const Deadline& d) {
  auto r = Deadline(Deadline::clock::now() + kRecheck);
  if (d.is_forever() || r.time_point() < d.time_point()) return r;
  return d;
}

// The owner-word protocol shared by Lock (id = pid) and RLock (id = tid): Drepper's
// "mutex 3" (0 / id / id|waiters) plus take-over from a dead owner.
bool acquire_word(detail::LockBlock& b, std::uint32_t me, bool block, const Timeout& timeout) {
  std::uint32_t expected = 0;
  if (b.word.compare_exchange_strong(expected, me, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    b.owner_died.store(0, std::memory_order_relaxed);
    return true;
  }
  if (block) {
    // Brief spin: a holder on another core usually releases within a wake-up's cost.
    gilfree::detail::spin_until([&] { return b.word.load(std::memory_order_relaxed) == 0; });
  }
  const Deadline deadline = block ? timeout.deadline() : Deadline(Deadline::clock::now());
  bool checked_owner = false;
  for (;;) {
    std::uint32_t v = b.word.load(std::memory_order_relaxed);
    if (v == 0) {
      // Keep the waiters bit: others may sleep, and a release must wake them.
      if (b.word.compare_exchange_weak(v, me | kWaiters, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        b.owner_died.store(0, std::memory_order_relaxed);
        return true;
      }
      continue;
    }
    const bool out_of_time = deadline.expired();
    if (out_of_time || checked_owner) {
      checked_owner = false;
      if (!detail::id_alive(static_cast<pid_t>(v & kIdMask))) {
        if (b.word.compare_exchange_strong(v, me | kWaiters, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
          b.owner_died.store(1, std::memory_order_relaxed);
          b.count = 0;
          return true;
        }
        continue;
      }
      if (out_of_time) {
        // A wake may have been meant for us; pass it on if the lock is free now.
        if (b.word.load(std::memory_order_relaxed) == kWaiters)
          detail::shared_futex_wake(b.word, 1);
        return false;
      }
    }
    if (!(v & kWaiters)) {
      if (!b.word.compare_exchange_weak(v, v | kWaiters, std::memory_order_relaxed)) continue;
      v |= kWaiters;
    }
    if (!detail::shared_futex_wait(b.word, v, slice(deadline))) checked_owner = true;
  }
}

void release_word(detail::LockBlock& b) {
  std::uint32_t old = b.word.exchange(0, std::memory_order_release);
  if (old & kWaiters) detail::shared_futex_wake(b.word, 1);
}

void check_args(bool block, const Timeout& timeout) {
  if (!block && !timeout.is_forever())
    throw ValueError("can't specify a timeout for a non-blocking call");
}

}  // namespace

// ---- Lock

Lock::Lock() : BlockHandle(detail::make_shared_block<detail::LockBlock>()) {}

bool Lock::acquire(bool block, Timeout timeout) {
  check_args(block, timeout);
  return acquire_word(*b_, static_cast<std::uint32_t>(detail::self_pid()), block, timeout);
}

void Lock::release() {
  // The unlocked check and the exchange are one step, so two racing releases of a held
  // lock cannot both succeed.
  std::uint32_t v = b_->word.load(std::memory_order_relaxed);
  do {
    if (v == 0) throw ValueError("semaphore or lock released too many times");
  } while (!b_->word.compare_exchange_weak(v, 0, std::memory_order_release,
                                           std::memory_order_relaxed));
  if (v & kWaiters) detail::shared_futex_wake(b_->word, 1);
}

bool Lock::locked() const noexcept { return b_->word.load(std::memory_order_relaxed) != 0; }
bool Lock::owner_died() const noexcept { return b_->owner_died.load(std::memory_order_relaxed); }

// ---- RLock

RLock::RLock() : BlockHandle(detail::make_shared_block<detail::LockBlock>()) {}

bool RLock::acquire(bool block, Timeout timeout) {
  check_args(block, timeout);
  const auto me = static_cast<std::uint32_t>(detail::self_tid());
  if ((b_->word.load(std::memory_order_relaxed) & kIdMask) == me) {
    ++b_->count;
    return true;
  }
  if (!acquire_word(*b_, me, block, timeout)) return false;
  b_->count = 1;
  return true;
}

void RLock::release() {
  if (!is_owned())
    throw AssertionError("attempt to release recursive lock not owned by thread");
  if (--b_->count == 0) release_word(*b_);
}

std::uint32_t RLock::release_save() {
  const std::uint32_t depth = b_->count;
  b_->count = 0;
  release_word(*b_);
  return depth;
}

void RLock::acquire_restore(std::uint32_t depth) {
  acquire_word(*b_, static_cast<std::uint32_t>(detail::self_tid()), true, Timeout());
  b_->count = depth;
}

bool RLock::is_owned() const noexcept {
  return (b_->word.load(std::memory_order_relaxed) & kIdMask) ==
         static_cast<std::uint32_t>(detail::self_tid());
}
bool RLock::owner_died() const noexcept { return b_->owner_died.load(std::memory_order_relaxed); }

// ---- Semaphore

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  b_ = detail::make_shared_block<detail::SemBlock>();
  b_->value.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  b_->max_value = bounded ? static_cast<std::uint32_t>(value) : 0;
}

bool Semaphore::acquire(bool block, Timeout timeout) {
  check_args(block, timeout);
  auto& b = *b_;
  auto try_take = [&] {
    std::uint32_t c = b.value.load(std::memory_order_relaxed);
    while (c > 0) {
      if (b.value.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                        std::memory_order_relaxed))
        return true;
    }
    return false;
  };
  if (try_take()) return true;
  if (!block) return false;
  const Deadline deadline = timeout.deadline();
  for (;;) {
    if (deadline.expired()) {
      // Pass on a wake we may have consumed.
      if (b.value.load() > 0 && b.waiters.load() > 0) detail::shared_futex_wake(b.value, 1);
      return false;
    }
    // seq_cst pairs with release(): either it sees our count or we see its value.
    b.waiters.fetch_add(1);
    if (b.value.load() == 0) detail::shared_futex_wait(b.value, 0, slice(deadline));
    b.waiters.fetch_sub(1);
    if (try_take()) return true;
  }
}

void Semaphore::release() {
  auto& b = *b_;
  if (b.max_value) {
    std::uint32_t c = b.value.load(std::memory_order_relaxed);
    do {
      if (c >= b.max_value) throw ValueError("semaphore or lock released too many times");
    } while (!b.value.compare_exchange_weak(c, c + 1));
  } else {
    b.value.fetch_add(1);
  }
  if (b.waiters.load() > 0) detail::shared_futex_wake(b.value, 1);
}

int Semaphore::get_value() const noexcept {
  return static_cast<int>(b_->value.load(std::memory_order_relaxed));
}

// ---- Condition

Condition::Condition(RLock lock)
    : BlockHandle(detail::make_shared_block<detail::CondBlock>()), lock_(std::move(lock)) {}

namespace {
constexpr std::uint64_t kWaiter = 1ull << 32;

// Takes a wake token and leaves the waiters in one step, if a token is there.
bool take_token(detail::CondBlock& b) {
  std::uint64_t s = b.state.load();
  while ((s & 0xffffffffu) > 0)
    if (b.state.compare_exchange_weak(s, s - kWaiter - 1)) return true;
  return false;
}
}  // namespace

bool Condition::wait(Timeout timeout) {
  if (!lock_.is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  auto& b = *b_;
  const Deadline deadline = timeout.deadline();
  b.state.fetch_add(kWaiter);  // under the lock, so a notify from now on counts us
  // Only tokens of a notify after this point are ours to take (the old glibc condvar's
  // generation rule): otherwise a thread that notifies and then waits would take back
  // the token it just gave.
  const std::uint32_t generation = b.seq.load();
  const std::uint32_t depth = lock_.release_save();
  bool notified = false;
  for (;;) {
    const std::uint32_t seen = b.seq.load();
    if (seen != generation && take_token(b)) {
      notified = true;
      break;
    }
    if (deadline.expired()) break;
    detail::shared_futex_wait(b.seq, seen, slice(deadline));
  }
  lock_.acquire_restore(depth);
  // Under the lock again, so no notify runs now: a token issued after our timeout is ours.
  if (!notified) {
    notified = b.seq.load() != generation && take_token(b);
    if (!notified) b.state.fetch_sub(kWaiter);
  }
  return notified;
}

void Condition::notify(int n) {
  if (!lock_.is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  if (n <= 0) return;
  auto& b = *b_;
  std::uint64_t s = b.state.load();
  for (;;) {
    const std::uint64_t waiting = s >> 32, tokens = s & 0xffffffffu;
    if (waiting <= tokens) return;
    const std::uint64_t k = std::min<std::uint64_t>(static_cast<std::uint64_t>(n), waiting - tokens);
    if (b.state.compare_exchange_weak(s, s + k)) break;
  }
  b.seq.fetch_add(1);  // after the tokens: a waiter that sees the new generation finds them
  detail::shared_futex_wake(b.seq, INT_MAX);  // the unentitled go back to sleep
}

void Condition::notify_all() { notify(INT_MAX); }

// ---- Event

Event::Event() : BlockHandle(detail::make_shared_block<detail::EventBlock>()) {}

bool Event::is_set() const noexcept { return b_->flag.load(std::memory_order_acquire) != 0; }

void Event::set() {
  b_->flag.store(1);
  if (b_->waiters.load() > 0) detail::shared_futex_wake(b_->flag, INT_MAX);
}

void Event::clear() noexcept { b_->flag.store(0, std::memory_order_relaxed); }

bool Event::wait(Timeout timeout) {
  auto& b = *b_;
  if (b.flag.load(std::memory_order_acquire)) return true;
  const Deadline deadline = timeout.deadline();
  for (;;) {
    if (deadline.expired()) return b.flag.load(std::memory_order_acquire) != 0;
    b.waiters.fetch_add(1);
    if (b.flag.load() == 0) detail::shared_futex_wait(b.flag, 0, slice(deadline));
    b.waiters.fetch_sub(1);
    if (b.flag.load(std::memory_order_acquire)) return true;
  }
}

}  // namespace gilfree::multiprocessing

// ---- Barrier
//
// Python's threading.Barrier (filling -> draining -> filling, resetting, broken) over the
// block's pid-owned lock and a sequence word as its condition. Every party inside wait()
// holds a slot with its pid; a sleeper that has slept kRecheck looks for slots whose
// process is gone and removes them (breaking a filling barrier), so a dead party never
// leaves the others waiting for its departure.

namespace gilfree::multiprocessing {
namespace {

constexpr std::int32_t kFilling = 0, kDraining = 1, kResetting = -1, kBroken = -2;

// The barrier's lock, held for the scope; a lock taken over from a dead holder breaks the
// barrier (its update may be half done) and recounts the parties inside from the slots.
class BarrierGuard {
 public:
  explicit BarrierGuard(detail::BarrierBlock& b) : b_(b) { lock(); }
  ~BarrierGuard() {
    if (held_) release_word(b_.mu);
  }
  BarrierGuard(const BarrierGuard&) = delete;
  BarrierGuard& operator=(const BarrierGuard&) = delete;

  void lock() {
    acquire_word(b_.mu, static_cast<std::uint32_t>(detail::self_pid()), true, Timeout());
    held_ = true;
    if (b_.mu.owner_died.load(std::memory_order_relaxed)) {
      b_.mu.owner_died.store(0, std::memory_order_relaxed);
      std::uint32_t n = 0;
      for (std::uint32_t i = 0; i < b_.parties; ++i)
        if (b_.slots()[i].load(std::memory_order_relaxed) != 0) ++n;
      b_.count.store(n, std::memory_order_relaxed);
      b_.state.store(kBroken, std::memory_order_relaxed);
      notify_all();
    }
  }
  void unlock() {
    held_ = false;
    release_word(b_.mu);
  }
  void notify_all() {
    b_.seq.fetch_add(1);
    detail::shared_futex_wake(b_.seq, INT_MAX);
  }
  // Python's _exit: the last party out of a draining or resetting barrier refills it.
  void leave(std::uint32_t slot) {
    b_.slots()[slot].store(0, std::memory_order_relaxed);
    if (b_.count.fetch_sub(1, std::memory_order_relaxed) == 1) {
      const std::int32_t s = b_.state.load(std::memory_order_relaxed);
      if (s == kDraining || s == kResetting) {
        b_.state.store(kFilling, std::memory_order_relaxed);
        notify_all();
      }
    }
  }
  // Removes the parties whose process is gone (not this one); a party lost while the
  // barrier fills breaks it.
  void sweep() {
    const pid_t me = detail::self_pid();
    for (std::uint32_t i = 0; i < b_.parties; ++i) {
      const pid_t p = b_.slots()[i].load(std::memory_order_relaxed);
      if (p == 0 || p == me || detail::id_alive(p)) continue;
      if (b_.state.load(std::memory_order_relaxed) == kFilling) {
        b_.state.store(kBroken, std::memory_order_relaxed);
        notify_all();
      }
      leave(i);
    }
  }
  // Releases the lock, sleeps until a notify, `deadline` or kRecheck, relocks; sweeps
  // for dead parties when the sleep ran its full slice.
  void wait(const Deadline& deadline) {
    const std::uint32_t seen = b_.seq.load();
    unlock();
    const bool woken = detail::shared_futex_wait(b_.seq, seen, slice(deadline));
    lock();
    if (!woken || b_.seq.load() == seen) sweep();
  }
  void break_barrier() {
    b_.state.store(kBroken, std::memory_order_relaxed);
    notify_all();
  }

 private:
  detail::BarrierBlock& b_;
  bool held_ = false;
};

}  // namespace

Barrier::Barrier(std::size_t parties, std::function<void()> action, Timeout timeout)
    : action_(std::move(action)) {
  if (parties < 1) throw ValueError("parties must be > 0");
  if (parties > 1u << 20) throw ValueError("parties must be at most 1048576");
  const std::size_t bytes = sizeof(detail::BarrierBlock) + parties * sizeof(std::int32_t);
  auto mem = detail::map_shared(bytes);
  auto* blk = new (mem.get()) detail::BarrierBlock();
  blk->parties = static_cast<std::uint32_t>(parties);
  blk->timeout_ns = timeout.is_forever() ? -1 : timeout.duration().count();
  for (std::size_t i = 0; i < parties; ++i) new (blk->slots() + i) std::atomic<std::int32_t>(0);
  b_ = std::shared_ptr<detail::BarrierBlock>(std::move(mem), blk);
}

detail::BarrierBlock& Barrier::b() const {
  if (!b_) throw ValueError("this Barrier is an empty handle");
  return *b_;
}

std::size_t Barrier::wait(Timeout timeout) {
  auto& b = this->b();
  const Deadline deadline = timeout.deadline();
  BarrierGuard g(b);
  // Python's _enter: wait while the previous round drains or a reset completes.
  for (;;) {
    const std::int32_t s = b.state.load(std::memory_order_relaxed);
    if (s != kDraining && s != kResetting) break;
    g.wait(Deadline());
  }
  if (b.state.load(std::memory_order_relaxed) < 0) throw BrokenBarrierError();
  const std::uint32_t index = b.count.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t slot = 0;
  while (b.slots()[slot].load(std::memory_order_relaxed) != 0) ++slot;  // count < parties
  b.slots()[slot].store(detail::self_pid(), std::memory_order_relaxed);
  try {
    if (index + 1 == b.parties) {
      // Python's _release: the last party runs the action, under the lock as Python does.
      try {
        if (action_) action_();
      } catch (...) {
        g.break_barrier();
        throw;
      }
      b.state.store(kDraining, std::memory_order_relaxed);
      g.notify_all();
    } else {
      // Python's _wait.
      while (b.state.load(std::memory_order_relaxed) == kFilling) {
        if (deadline.expired()) {
          g.break_barrier();
          throw BrokenBarrierError();
        }
        g.wait(deadline);
      }
      if (b.state.load(std::memory_order_relaxed) < 0) throw BrokenBarrierError();
    }
  } catch (...) {
    g.leave(slot);
    throw;
  }
  g.leave(slot);
  return index;
}

void Barrier::reset() {
  auto& b = this->b();
  BarrierGuard g(b);
  if (b.count.load(std::memory_order_relaxed) > 0) {
    const std::int32_t s = b.state.load(std::memory_order_relaxed);
    if (s == kFilling || s == kBroken) b.state.store(kResetting, std::memory_order_relaxed);
  } else {
    b.state.store(kFilling, std::memory_order_relaxed);
  }
  g.notify_all();
}

void Barrier::abort() {
  auto& b = this->b();
  BarrierGuard g(b);
  g.break_barrier();
}

std::size_t Barrier::parties() const { return b().parties; }

Timeout Barrier::default_timeout() const {
  const auto ns = b().timeout_ns;
  return ns < 0 ? Timeout() : Timeout(std::chrono::nanoseconds(ns));
}

std::size_t Barrier::n_waiting() const {
  auto& b = this->b();
  return b.state.load(std::memory_order_relaxed) == kFilling ? b.count.load(std::memory_order_relaxed)
                                                             : 0;
}

bool Barrier::broken() const { return b().state.load(std::memory_order_relaxed) == kBroken; }

detail::SharedRef Barrier::block_ref() const {
  auto& b = this->b();
  return detail::shared_ref(b_, sizeof(detail::BarrierBlock) + b.parties * sizeof(std::int32_t));
}

std::optional<detail::FunctionRef> Barrier::action_ref() const {
  if (!action_) return std::nullopt;
  if (auto* f = action_.target<void (*)()>())
    return detail::function_to_ref(reinterpret_cast<const void*>(*f));
  throw PicklingError("a Barrier's action must be a plain function to cross to another process");
}

void Barrier::attach(const detail::SharedRef& ref, const std::optional<detail::FunctionRef>& action) {
  if (ref.size < sizeof(detail::BarrierBlock)) throw UnpicklingError("a Barrier's block is too small");
  auto mem = detail::attach_shared(ref);
  auto* blk = static_cast<detail::BarrierBlock*>(mem.get());
  if (ref.size < sizeof(detail::BarrierBlock) + std::uint64_t{blk->parties} * sizeof(std::int32_t))
    throw UnpicklingError("a Barrier's block is too small for its parties");
  b_ = std::shared_ptr<detail::BarrierBlock>(std::move(mem), blk);
  action_ = {};
  if (action) action_ = reinterpret_cast<void (*)()>(detail::ref_to_function(*action));
}

}  // namespace gilfree::multiprocessing
