// A future's shared state: Python's state machine, callbacks, waiters (see
// detail/future_state.hpp).
#include "gilfree/detail/future_state.hpp"

#include <cstdio>
#include <utility>

#include "describe.hpp"
#include "gilfree/futures/future.hpp"

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

}  // namespace detail

// ---- AnyFuture ------------------------------------------------------------------------

void AnyFuture::add_done_callback(std::function<void(AnyFuture)> fn) const {
  s_->add_done_callback([fn = std::move(fn)](detail::SharedStateBase& s) {
    s.add_ref();
    fn(detail::AnyFutureAccess::adopt(&s));
  });
}

}  // namespace gilfree
