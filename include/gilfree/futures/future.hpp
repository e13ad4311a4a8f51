// gilfree/futures/future.hpp — Future<T> and AnyFuture: handles on a future's shared
// state with concurrent.futures.Future's API.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "../detail/future_state.hpp"
#include "../errors.hpp"
#include "../timeout.hpp"
#include "state.hpp"

namespace gilfree {

template <class T>
class Future;
class Executor;
namespace detail {
struct AnyFutureAccess;
}

// ---- AnyFuture ------------------------------------------------------------------------

// A Future whose element type is not known statically: what wait() and as_completed()
// deal in. Every Future<T> converts to it; as<T>() converts back. A copy shares the same
// future. A default-constructed AnyFuture is empty (valid() is false) and may only be
// assigned, compared or destroyed.
class AnyFuture {
 public:
  AnyFuture() noexcept = default;
  AnyFuture(const AnyFuture& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  AnyFuture(AnyFuture&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  AnyFuture& operator=(AnyFuture o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~AnyFuture() {
    if (s_) s_->release();
  }

  // True unless default-constructed or moved from.
  bool valid() const noexcept { return s_ != nullptr; }

  // Cancels the call if it has not started: true if it is now cancelled (or already was),
  // false if it is running or finished. Done-callbacks run at once.
  bool cancel() const { return s_->cancel(); }
  // True if the call was cancelled.
  bool cancelled() const noexcept {
    auto st = s_->state();
    return st == FutureState::CANCELLED || st == FutureState::CANCELLED_AND_NOTIFIED;
  }
  // True while the call is executing and cannot be cancelled.
  bool running() const noexcept { return s_->state() == FutureState::RUNNING; }
  // True once the call finished or was cancelled.
  bool done() const noexcept { return s_->done(); }
  // The state, with CPython's names.
  FutureState state() const noexcept { return s_->state(); }

  // Waits up to `timeout` for the call; rethrows its exception. CancelledError if
  // cancelled, TimeoutError if the timeout passes first.
  void result(Timeout timeout = {}) const {
    wait_for_done(timeout);
    if (auto& e = s_->stored_exception()) {
      detail::keep_failed(s_);
      std::rethrow_exception(e);
    }
  }
  // Waits like result() and returns the call's exception, or nullptr if it succeeded.
  // CancelledError if cancelled, TimeoutError if the timeout passes first.
  std::exception_ptr exception(Timeout timeout = {}) const {
    wait_for_done(timeout);
    if (s_->stored_exception()) detail::keep_failed(s_);
    return s_->stored_exception();
  }
  // Calls `fn(future)` when the future finishes or is cancelled, or at once on this
  // thread if it already has; callbacks run in the order added. An exception escaping
  // `fn` goes to the LogHook and changes nothing else.
  void add_done_callback(std::function<void(AnyFuture)> fn) const;

  // For executors: marks the future RUNNING and returns true, or, if it was cancelled,
  // notifies wait()/as_completed() and returns false. RuntimeError("Future in unexpected
  // state") if it is already running or done.
  [[nodiscard]] bool set_running_or_notify_cancel() const {
    return s_->set_running_or_notify_cancel();
  }
  // For executors: finishes the future with `error`. InvalidStateError if done already.
  void set_exception(std::exception_ptr error) const { s_->set_exception(std::move(error)); }

  // The Future<T> this is; std::bad_cast if its element type is not T.
  template <class T>
  [[nodiscard]] Future<T> as() const;
  // typeid of the element type (typeid(void) for Future<void>).
  const std::type_info& value_type() const noexcept { return s_->value_type(); }
  // <Future at 0x... state=pending>, as Python's repr.
  std::string repr() const { return s_ ? s_->repr() : std::string("<Future empty>"); }

  friend bool operator==(const AnyFuture& a, const AnyFuture& b) noexcept {
    return a.s_ == b.s_;
  }
  // A hash consistent with ==, for std::unordered_set.
  std::size_t hash() const noexcept { return std::hash<const void*>()(s_); }

 protected:
  struct Adopt {};
  AnyFuture(detail::SharedStateBase* s, Adopt) noexcept : s_(s) {}

  // Waits for done() (after the calling thread's BlockingHook, if any: the executors'
  // deadlock guard); throws CancelledError / TimeoutError.
  void wait_for_done(const Timeout& timeout) const {
    if (!s_->done()) {
      if (auto* hook = detail::current_blocking_hook) hook->before_blocking(s_);
      if (!s_->wait_done(timeout.deadline())) throw TimeoutError();
    }
    if (s_->state() != FutureState::FINISHED) throw CancelledError();
  }

  detail::SharedStateBase* s_ = nullptr;

  friend class Executor;
  template <class T>
  friend class Future;
  friend struct detail::AnyFutureAccess;
};

namespace detail {
// Internal access to a handle's state, for the library's own machinery.
struct AnyFutureAccess {
  static SharedStateBase* state(const AnyFuture& f) noexcept { return f.s_; }
  // A handle taking over one reference the caller holds on `s`.
  static AnyFuture adopt(SharedStateBase* s) noexcept { return AnyFuture(s, AnyFuture::Adopt{}); }
  // The same, as the handle type H (AnyFuture or Future<T>); `s` must hold a T.
  template <class H>
  static H adopt_as(SharedStateBase* s) noexcept;
};
}  // namespace detail

// ---- Future<T> ------------------------------------------------------------------------

// The result of an asynchronous call, as concurrent.futures.Future: a cheap handle that
// copies share. Future<void> is a future without a value.
template <class T>
class Future : public AnyFuture {
 public:
  using element_type = T;

  // A new pending future, as Python's Future(): for code that completes it itself with
  // set_running_or_notify_cancel() / set_result() / set_exception().
  Future() : AnyFuture(new detail::SharedState<T>(), Adopt{}) {}

  // Waits up to `timeout` and returns the value (a reference valid while any handle to
  // this future lives); rethrows the call's exception; CancelledError if cancelled;
  // TimeoutError if the timeout passes first.
  decltype(auto) result(Timeout timeout = {}) const {
    AnyFuture::result(timeout);
    if constexpr (!std::is_void_v<T>) return std::as_const(typed_state()->value());
  }

  // Finishes the future with `value`. InvalidStateError if it is done already.
  template <class U = detail::stored_t<T>>
    requires(!std::is_void_v<T> && std::constructible_from<T, U &&>)
  void set_result(U&& value) const {
    typed_state()->set_value(std::forward<U>(value));
  }
  // Finishes a Future<void>. InvalidStateError if it is done already.
  void set_result() const
    requires std::is_void_v<T>
  {
    typed_state()->set_value();
  }

  // As AnyFuture::add_done_callback, with the typed handle.
  void add_done_callback(std::function<void(Future<T>)> fn) const {
    s_->add_done_callback([fn = std::move(fn)](detail::SharedStateBase& s) {
      s.add_ref();
      fn(Future<T>(static_cast<detail::SharedState<T>*>(&s), Adopt{}));
    });
  }

 private:
  friend class AnyFuture;
  friend class Executor;
  friend struct detail::AnyFutureAccess;
  Future(detail::SharedState<T>* s, Adopt) noexcept : AnyFuture(s, Adopt{}) {}
  detail::SharedState<T>* typed_state() const noexcept {
    return static_cast<detail::SharedState<T>*>(s_);
  }
};

template <class T>
Future<T> AnyFuture::as() const {
  if (!s_ || s_->value_type() != typeid(T)) throw std::bad_cast();
  s_->add_ref();
  return Future<T>(static_cast<detail::SharedState<T>*>(s_), Adopt{});
}

template <class H>
H detail::AnyFutureAccess::adopt_as(SharedStateBase* s) noexcept {
  if constexpr (std::is_same_v<H, AnyFuture>) {
    return adopt(s);
  } else {
    using T = typename H::element_type;
    return H(static_cast<SharedState<T>*>(s), AnyFuture::Adopt{});
  }
}

}  // namespace gilfree

template <>
struct std::hash<gilfree::AnyFuture> {
  std::size_t operator()(const gilfree::AnyFuture& f) const noexcept { return f.hash(); }
};
template <class T>
struct std::hash<gilfree::Future<T>> {
  std::size_t operator()(const gilfree::Future<T>& f) const noexcept { return f.hash(); }
};

