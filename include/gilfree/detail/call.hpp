// gilfree/detail/call.hpp — the worker's side of a submitted call: a function and its
// arguments, turned into a result or an error. Nothing of the parent's side (the future,
// cancellation, callbacks, ordering) is in it, so it is what an executor that runs calls
// in another process encodes and sends (CPython's _CallItem), and what such a worker
// decodes and runs.
#pragma once

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace gilfree::detail {

// The value slot of Future<T>; Future<void> stores a monostate.
template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// `fn(args...)` with the function and the arguments kept apart and typed, as submit()
// received them (decayed copies). The arguments reach `fn` as rvalues.
template <class F, class... Args>
struct Call {
  using function_type = F;
  using arguments_type = std::tuple<Args...>;
  using result_type = std::invoke_result_t<F&, Args...>;

  F fn;
  std::tuple<Args...> args;

  // Runs the call once; its exception propagates.
  result_type operator()() { return std::apply(fn, std::move(args)); }
};

// What a worker hands back for a call of result type R: the value, or the exception.
// (CPython's _ResultItem.)
template <class R>
struct Outcome {
  std::variant<stored_t<R>, std::exception_ptr> v;

  // True when the call returned.
  bool ok() const noexcept { return v.index() == 0; }
  stored_t<R>& value() noexcept { return std::get<0>(v); }
  const std::exception_ptr& error() const noexcept { return std::get<1>(v); }
};

// Runs `call` and captures how it ended; never throws.
template <class C>
Outcome<typename C::result_type> run_call(C& call) noexcept {
  using R = typename C::result_type;
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      return {std::monostate{}};
    } else {
      return {call()};
    }
  } catch (...) {
    return {std::current_exception()};
  }
}

}  // namespace gilfree::detail
