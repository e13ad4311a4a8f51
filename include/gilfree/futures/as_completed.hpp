// gilfree/futures/as_completed.hpp — as_completed() and wait() over futures from any
// executor.
//
// Over futures of one type (Future<T>) both give back Future<T>, as Python gives back the
// very future objects: `for (auto f : as_completed(fs)) use(f.result());`. Over a mix of
// element types, or AnyFuture, they give back AnyFuture (as<T>() converts back).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ranges>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../timeout.hpp"
#include "future.hpp"

namespace gilfree {

namespace detail {

// Any range whose elements convert to AnyFuture.
template <class R>
concept future_range =
    std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, AnyFuture>;

template <class X>
struct is_typed_future : std::false_type {};
template <class T>
struct is_typed_future<Future<T>> : std::true_type {};

// The handle type a range of futures gives back: its element type if that is a
// Future<T>, else AnyFuture.
template <class R>
using future_handle_t =
    std::conditional_t<is_typed_future<std::ranges::range_value_t<R>>::value,
                       std::ranges::range_value_t<R>, AnyFuture>;

// The completion queue behind AsCompleted (src/as_completed.cpp).
class AsCompletedCore;
// Makes a core whose timeout counts from now.
std::unique_ptr<AsCompletedCore, void (*)(AsCompletedCore*)> make_as_completed_core(
    Timeout timeout);
// Adds a future (a no-op if already added and not yet yielded); ValueError if empty.
void as_completed_add(AsCompletedCore& core, const AnyFuture& future);
// Blocks for the next completed future and returns its state with one reference for the
// caller, or nullptr when none is left; TimeoutError when the timeout passes.
SharedStateBase* as_completed_next(AsCompletedCore& core);
// Futures added and not yet yielded.
std::size_t as_completed_size(const AsCompletedCore& core);

}  // namespace detail

// ---- as_completed ---------------------------------------------------------------------

// The range as_completed() returns: yields each future once, as it completes (those
// already done first), as the handle type H (Future<T> or AnyFuture). It is a completion
// queue: add() may be called at any time, also while iterating and from other threads.
// A future is released as soon as it is yielded. Move-only; destroying it detaches it
// from the futures still pending.
template <class H = AnyFuture>
class AsCompleted {
 public:
  class iterator {
   public:
    using value_type = H;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    const H& operator*() const noexcept { return current_; }
    const H* operator->() const noexcept { return &current_; }
    // Blocks for the next completed future; TimeoutError when the timeout passes first.
    iterator& operator++() {
      current_ = empty();  // release the yielded future at once
      if (auto* s = detail::as_completed_next(*owner_->core_))
        current_ = detail::AnyFutureAccess::adopt_as<H>(s);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.current_.valid();
    }

   private:
    friend class AsCompleted;
    explicit iterator(AsCompleted* owner) : owner_(owner) { ++*this; }
    AsCompleted* owner_ = nullptr;
    H current_ = empty();
    // An empty handle (Future<T>() would make a new pending future).
    static H empty() noexcept {
      if constexpr (std::is_same_v<H, AnyFuture>) {
        return H();
      } else {
        return detail::AnyFutureAccess::adopt_as<H>(nullptr);
      }
    }
  };

  // An empty completion queue whose timeout counts from now (forever by default).
  explicit AsCompleted(Timeout timeout = {}) : core_(detail::make_as_completed_core(timeout)) {}
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) noexcept = default;

  // Adds a future to yield when it completes; a future already pending here or waiting
  // to be yielded is ignored (each is yielded once). ValueError for an empty handle.
  void add(const H& future) { detail::as_completed_add(*core_, future); }
  // Adds every future of `futures`.
  template <detail::future_range R>
  void add_all(R&& futures) {
    for (auto&& f : futures) add(H(f));
  }
  // Blocks until the first completed future (TimeoutError when the timeout passes).
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }
  // Futures added but not yet yielded.
  std::size_t size() const { return detail::as_completed_size(*core_); }

 private:
  std::unique_ptr<detail::AsCompletedCore, void (*)(detail::AsCompletedCore*)> core_;
};

// Python's as_completed(fs, timeout): a lazy input range over `futures` (from any
// executors) yielding each once as it completes, already-done ones first, duplicates
// once — as Future<T> when `futures` holds Future<T>, else as AnyFuture; iterating raises
// TimeoutError("N (of M) futures unfinished") when `timeout` (counted from this call)
// passes first. More futures may be add()ed.
template <detail::future_range R>
[[nodiscard]] AsCompleted<detail::future_handle_t<R>> as_completed(R&& futures,
                                                                   Timeout timeout = {}) {
  AsCompleted<detail::future_handle_t<R>> r(timeout);
  r.add_all(std::forward<R>(futures));
  return r;
}
[[nodiscard]] inline AsCompleted<> as_completed(std::initializer_list<AnyFuture> futures,
                                                Timeout timeout = {}) {
  AsCompleted<> r(timeout);
  r.add_all(futures);
  return r;
}

// ---- wait -----------------------------------------------------------------------------

// When wait() returns, as Python's module constants.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

// wait()'s answer: the futures that completed (finished or cancelled-and-notified) and
// those that did not, as Python's DoneAndNotDoneFutures; H as for as_completed().
template <class H = AnyFuture>
struct DoneAndNotDoneFutures {
  std::unordered_set<H> done;
  std::unordered_set<H> not_done;
};

// Python's wait(fs, timeout, return_when): blocks until `return_when` holds — any future
// completes (FIRST_COMPLETED), any finishes with an exception or all complete
// (FIRST_EXCEPTION), all complete (ALL_COMPLETED) — or `timeout` passes; never throws
// TimeoutError (check not_done).
DoneAndNotDoneFutures<> wait(const std::vector<AnyFuture>& futures, Timeout timeout = {},
                             ReturnWhen return_when = ALL_COMPLETED);
template <detail::future_range R>
  requires(!std::same_as<std::remove_cvref_t<R>, std::vector<AnyFuture>>)
DoneAndNotDoneFutures<detail::future_handle_t<R>> wait(R&& futures, Timeout timeout = {},
                                                       ReturnWhen return_when = ALL_COMPLETED) {
  using H = detail::future_handle_t<R>;
  std::vector<AnyFuture> v;
  for (auto&& f : futures) v.emplace_back(AnyFuture(f));
  auto any = wait(v, timeout, return_when);
  if constexpr (std::is_same_v<H, AnyFuture>) {
    return any;
  } else {
    using T = typename H::element_type;
    DoneAndNotDoneFutures<H> r;
    for (const auto& f : any.done) r.done.insert(f.template as<T>());
    for (const auto& f : any.not_done) r.not_done.insert(f.template as<T>());
    return r;
  }
}

}  // namespace gilfree
