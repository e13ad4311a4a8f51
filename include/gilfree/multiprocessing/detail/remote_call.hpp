// gilfree/multiprocessing/detail/remote_call.hpp — a call that returns its result across a
// process boundary: the pieces that every executor of processes (ProcessPoolExecutor,
// gilfree::mpi) shares, so that a task's function, its result and its exception cross
// the same way whichever transport carries the frames.
//
//   parent: encode_call(Capture<Fn>{FnBox<Fn>{fn}}, args...)  -> call frame
//   worker: run_call(frame) runs fn(args...) and leaves a Reply in current_reply():
//           ok: a value frame (dumps<R>, VoidResult for void)
//           error: "<demangled type>\0<what()>"
//   parent: loads<R>(reply.frame), or rebuild_exception(reply.frame): the same type where
//           it is known (gilfree's, the standard library's, register_exception<E>()),
//           else RemoteError("<type>: <what>")
#pragma once

#include <cereal/types/variant.hpp>  // std::monostate: what a void call yields in a chunk

#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../exceptions.hpp"
#include "../reduction.hpp"

namespace gilfree::multiprocessing::detail {

// The Pool front's chunk (pool.hpp), declared here so that an executor can recognise it.
template <class F, class Item, bool Star>
struct ChunkCall;

// What a worker sends back for one call: a value frame (dumps<R>) or an error.
struct Reply {
  bool ok = false;
  std::string frame;
};
// The reply of the call this thread is running (set by Capture, read by the worker loop).
Reply& current_reply() noexcept;
// Stores the exception in flight as an error reply ("<type>\0<message>").
void reply_current_exception() noexcept;
// Rebuilds a call's exception from an error reply's frame (see the top of this file).
std::exception_ptr rebuild_exception(std::string_view frame);
// The type name and message of an error reply's frame.
std::pair<std::string, std::string> split_error(std::string_view frame);

// The value a void call sends.
struct VoidResult {
  template <class Archive>
  void serialize(Archive&) {}
};

// A chunk of void calls yields a vector of monostates, which has no bytes per element for
// the bounded archive to count: it crosses as its length.
template <class R>
inline constexpr bool is_monostate_vector = std::is_same_v<R, std::vector<std::monostate>>;

// The function object that crosses for every call: runs fn(args...) on the worker and
// leaves its result (or exception) in current_reply().
template <class F>
struct Capture {
  FnBox<F> box;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(box);
  }
  template <class... A>
    requires std::invocable<F&, A&&...>  // as callable as fn (call_stored asks)
  void operator()(A&&... args) {
    Reply& r = current_reply();
    try {
      using R = std::invoke_result_t<F&, A&&...>;
      if constexpr (std::is_void_v<R>) {
        std::invoke(box.fn, std::forward<A>(args)...);
        r.frame = multiprocessing::dumps(VoidResult{});
      } else if constexpr (is_monostate_vector<R>) {
        r.frame = multiprocessing::dumps(
            static_cast<std::uint64_t>(std::invoke(box.fn, std::forward<A>(args)...).size()));
      } else {
        r.frame = multiprocessing::dumps(std::invoke(box.fn, std::forward<A>(args)...));
      }
      r.ok = true;
    } catch (...) {
      reply_current_exception();
    }
  }
};

// The Pool front's chunk (ChunkCall, which holds the user's function as is) in a form that
// crosses: the same loop, the function in a FnBox.
template <class F, class Item, bool Star>
struct RemoteChunk {
  FnBox<F> box;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(box);
  }
  auto operator()(std::vector<Item>&& items) {
    return ChunkCall<F, Item, Star>{box.fn}(std::move(items));
  }
};
template <class T>
struct is_chunk_call : std::false_type {};
template <class F, class Item, bool Star>
struct is_chunk_call<ChunkCall<F, Item, Star>> : std::true_type {};
template <class F, class Item, bool Star>
RemoteChunk<F, Item, Star> to_remote(const ChunkCall<F, Item, Star>& c) {
  return RemoteChunk<F, Item, Star>{FnBox<F>{c.fn}};
}

// Completes `future` (a Future<R>) from a reply: the value decoded as R, or the rebuilt
// exception; a reply that cannot be decoded fails the future with UnpicklingError.
template <class R, class Fut>
void complete_from_reply(const Fut& future, bool ok, std::string_view frame) {
  try {
    if (!ok) {
      future.set_exception(rebuild_exception(frame));
    } else if constexpr (std::is_void_v<R>) {
      (void)multiprocessing::loads<VoidResult>(frame);
      future.set_result();
    } else if constexpr (is_monostate_vector<R>) {
      const auto n = multiprocessing::loads<std::uint64_t>(frame);
      if (n > (std::uint64_t(1) << 32)) throw UnpicklingError("absurd chunk length");
      future.set_result(R(static_cast<std::size_t>(n)));
    } else {
      future.set_result(multiprocessing::loads<R>(frame));
    }
  } catch (...) {
    if (!future.done()) {
      try {
        future.set_exception(std::current_exception());
      } catch (...) {
      }
    }
  }
}

// register_exception's registry.
void register_exception_factory(const char* mangled_name,
                                std::exception_ptr (*make)(const std::string& what));

}  // namespace gilfree::multiprocessing::detail

namespace gilfree::multiprocessing {

// Makes a worker's exception of type E come back to the caller as an E (built from its
// what() string) instead of RemoteError. gilfree's exceptions and the standard library's
// are known already. Call it in every process of the program (e.g. from a static
// initialiser), before the first task.
template <class E>
  requires std::constructible_from<E, std::string>
void register_exception() {
  detail::register_exception_factory(typeid(E).name(), [](const std::string& what) {
    return std::make_exception_ptr(E(what));
  });
}

}  // namespace gilfree::multiprocessing
