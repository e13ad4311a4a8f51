// gilfree/multiprocessing/reduction.hpp — what crosses a process boundary, and how.
//
// Values cross as cereal binary archives inside a small frame header that names the
// value's type (a hash of its type name), so that reading the wrong type is an error,
// not garbage. Decoding is bounded: every element count is checked against the bytes
// that remain, so a corrupt or hostile message fails fast without a large allocation.
//
//   std::string frame = mp::dumps(std::vector<int>{1, 2, 3});
//   auto v = mp::loads<std::vector<int>>(frame);          // UnpicklingError if not that type
//
// Functions cross as "calls": a trampoline registered at static-initialisation time in
// every process that runs the same binary, keyed by a hash of its type name, plus the
// callable's identity (a plain function's offset in its module, nothing for a
// captureless lambda, the serialized object for a cereal-serializable function object)
// and the encoded arguments. A lambda with captures cannot cross; `remotable` says so at
// compile time and `encode_call` refuses it with a static_assert.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <concepts>
#include <cstddef>  // offsetof, size_t
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "exceptions.hpp"

namespace gilfree::multiprocessing {

namespace detail {

// FNV-1a, the hash of type names and trampoline keys.
constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// A readable name for a mangled type name (for error messages).
std::string demangle(const char* mangled);

// The hash that every frame carries for the type of its body.
template <class T>
std::uint64_t type_hash() noexcept {
  static const std::uint64_t h = fnv1a(typeid(T).name());
  return h;
}

// A cereal input archive over a byte range that never reads past it and rejects any
// element count larger than the bytes left (each element of a container costs at least
// one byte), so decoding garbage is an error, never a huge allocation or a crash.
class BoundedInputArchive
    : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  BoundedInputArchive(const char* data, std::size_t size)
      : cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision>(this),
        pos_(data), end_(data + size) {}

  // Copies `size` bytes out; UnpicklingError when fewer remain.
  void loadBinary(void* out, std::size_t size) {
    if (size > remaining())
      throw UnpicklingError("truncated message: " + std::to_string(size) + " bytes needed, " +
                            std::to_string(remaining()) + " left");
    if (size) std::memcpy(out, pos_, size);
    pos_ += size;
  }
  // Reads an element count and checks it against the bytes left.
  void loadSize(cereal::size_type& n) {
    loadBinary(&n, sizeof n);
    if (n > remaining())
      throw UnpicklingError("element count " + std::to_string(n) + " exceeds the " +
                            std::to_string(remaining()) + " bytes left in the message");
  }
  // Bytes not yet read.
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }

 private:
  const char* pos_;
  const char* end_;
};

}  // namespace detail
}  // namespace gilfree::multiprocessing

namespace cereal {
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(
    gilfree::multiprocessing::detail::BoundedInputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(gilfree::multiprocessing::detail::BoundedInputArchive& ar,
                                           NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(gilfree::multiprocessing::detail::BoundedInputArchive& ar,
                                      SizeTag<T>& t) {
  cereal::size_type n = 0;
  ar.loadSize(n);
  t.size = static_cast<std::remove_reference_t<T>>(n);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(gilfree::multiprocessing::detail::BoundedInputArchive& ar,
                                      BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}
namespace traits::detail {
template <>
struct get_output_from_input<gilfree::multiprocessing::detail::BoundedInputArchive> {
  using type = cereal::BinaryOutputArchive;
};
}  // namespace traits::detail
}  // namespace cereal
CEREAL_REGISTER_ARCHIVE(gilfree::multiprocessing::detail::BoundedInputArchive)

namespace gilfree::multiprocessing {

// True when T can be written to and read back from a message.
template <class T>
concept serializable =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, detail::BoundedInputArchive>::value &&
    std::default_initializable<T>;

namespace detail {

// What a frame carries: a value, a call, or a control message.
enum class FrameKind : std::uint8_t { value = 1, call = 2, control = 3 };

// The header in front of every cereal body (native byte order: frames never leave the
// machine; CPython's length framing sits outside it).
struct FrameHeader {
  char magic[2] = {'G', 'F'};
  std::uint8_t version = 1;
  FrameKind kind = FrameKind::value;
  std::uint32_t flags = 0;
  std::uint64_t key = 0;        // the trampoline key of a call, 0 otherwise
  std::uint64_t type_hash = 0;  // type_hash<T>() of the body
};
static_assert(sizeof(FrameHeader) == 24);

// Parses and checks a frame's header; UnpicklingError for a short or foreign frame.
FrameHeader read_header(std::string_view frame);

// A string-backed output stream buffer, cheaper than std::ostringstream.
class StringSink : public std::streambuf {
 public:
  explicit StringSink(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::string& out_;
};

// Appends a header for `kind`/`key`/`hash` to `out`.
inline void write_header(std::string& out, FrameKind kind, std::uint64_t key, std::uint64_t hash) {
  FrameHeader h;
  h.kind = kind;
  h.key = key;
  h.type_hash = hash;
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
}

// Runs `decode` over the body and turns every decoding failure into UnpicklingError
// naming the type; trailing bytes are an error too.
template <class T, class Decode>
void decode_body(std::string_view body, Decode&& decode) {
  try {
    BoundedInputArchive ar(body.data(), body.size());
    decode(ar);
    if (ar.remaining() != 0)
      throw UnpicklingError(std::to_string(ar.remaining()) + " bytes left over");
  } catch (const std::exception& e) {
    throw UnpicklingError("could not decode a message of " + std::to_string(body.size()) +
                          " bytes as " + demangle(typeid(T).name()) + ": " + e.what());
  }
}

}  // namespace detail

// Encodes `value` as a frame (header + cereal body).
template <serializable T>
std::string dumps(const T& value) {
  std::string out;
  out.reserve(64);
  detail::write_header(out, detail::FrameKind::value, 0, detail::type_hash<T>());
  detail::StringSink sink(out);
  std::ostream os(&sink);
  {
    cereal::BinaryOutputArchive ar(os);
    ar(value);
  }
  return out;
}

// Decodes a frame made by dumps<T>; UnpicklingError when it is not a T or is corrupt.
template <serializable T>
T loads(std::string_view frame) {
  detail::FrameHeader h = detail::read_header(frame);
  if (h.kind != detail::FrameKind::value || h.type_hash != detail::type_hash<T>())
    throw UnpicklingError("the message does not hold a " + detail::demangle(typeid(T).name()) +
                          " (another type was sent)");
  T value{};
  detail::decode_body<T>(frame.substr(sizeof(detail::FrameHeader)),
                         [&](detail::BoundedInputArchive& ar) { ar(value); });
  return value;
}

// ---- function identity --------------------------------------------------------------

namespace detail {

// Runs a decoded call; the archive is positioned after the header.
using TrampolineFn = void (*)(BoundedInputArchive&);
// Registers a trampoline at static-initialisation time; returns its key.
std::uint64_t register_trampoline(std::uint64_t key, TrampolineFn fn) noexcept;
// The trampoline for `key`; PicklingError when this program has none (another build).
TrampolineFn find_trampoline(std::uint64_t key);

// Where a plain function lives: its module ("" for the main program), its offset from
// the module's load address (stable across processes whatever ASLR did), and the module's
// build-id, so that an offset is never applied to another build of the module.
struct FunctionRef {
  std::string module;
  std::uint64_t offset = 0;
  std::string build_id;  // "" when the module has none (then not checked)
  template <class Archive>
  void serialize(Archive& ar) {
    ar(module, offset, build_id);
  }
};
FunctionRef function_to_ref(const void* fn);
// The address of `ref` in this process; PicklingError when its module is not loaded here
// and cannot be loaded, or is a different build.
void* ref_to_function(const FunctionRef& ref);
// Looks up the main program's layout (load address, segments, build-id) now rather than
// at the first call that needs it. The two functions above answer for the main program
// from it without dl_iterate_phdr; a fork server calls this before it forks, so that its
// workers inherit the answer instead of each reading the program headers again (page
// faults in every worker).
void look_up_program_layout();

template <class F>
concept plain_function = std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>;
template <class F>
concept stateless_callable =
    std::is_empty_v<std::decay_t<F>> && std::default_initializable<std::decay_t<F>>;

// F as it is stored and sent: a function type becomes a function pointer.
template <class F>
using stored_fn_t = std::conditional_t<plain_function<F>,
                                       std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>,
                                       std::decay_t<F>>;

// How a callable crosses: a plain function as its FunctionRef, a captureless lambda as
// nothing, a function object as its cereal form.
template <class Archive, class F>
void write_fn(Archive& ar, const F& fn) {
  if constexpr (plain_function<F>) {
    ar(function_to_ref(reinterpret_cast<const void*>(fn)));
  } else if constexpr (!stateless_callable<F>) {
    ar(fn);
  }
}
template <class Archive, class F>
void read_fn(Archive& ar, F& fn) {
  if constexpr (plain_function<F>) {
    FunctionRef ref;
    ar(ref);
    fn = reinterpret_cast<F>(ref_to_function(ref));
  } else if constexpr (!stateless_callable<F>) {
    ar(fn);
  }
}

// Holds any callable that can cross (F a stored_fn_t), in the form write_fn gives it.
template <class F>
struct FnBox {
  F fn{};
  template <class Archive>
  void save(Archive& ar) const {
    write_fn(ar, fn);
  }
  template <class Archive>
  void load(Archive& ar) {
    read_fn(ar, fn);
  }
};

// True when a callable can be called on its stored (decayed) arguments: as lvalues, or as
// rvalues (a move-only argument, a Connection, taken by value).
template <class F, class... Args>
concept invocable_on_stored = std::invocable<std::decay_t<F>&, std::decay_t<Args>&...> ||
                              std::invocable<std::decay_t<F>&, std::decay_t<Args>...>;

// Calls f on its stored arguments: as lvalues when it can (a function that takes a
// reference gets the stored object), else moved (a stored call runs once).
template <class F, class... A>
void call_stored(F& f, A&... a) {
  if constexpr (std::invocable<F&, A&...>) {
    std::invoke(f, a...);
  } else {
    std::invoke(f, std::move(a)...);
  }
}

// Rethrows a decoding failure of a call as UnpicklingError; a PicklingError (the callable
// is not in this build) goes on as it is.
[[noreturn]] void rethrow_call_decode_error(const char* type_name);

// Calls f(args...) in a worker after decoding the callable and its arguments.
template <class F, class... Args>
struct Trampoline {
  static void run(BoundedInputArchive& ar) {
    FnBox<F> box;
    std::tuple<Args...> args;
    try {
      ar(box, args);
      if (ar.remaining() != 0)
        throw UnpicklingError(std::to_string(ar.remaining()) + " bytes left over");
    } catch (...) {
      rethrow_call_decode_error(typeid(Trampoline).name());
    }
    std::apply([&](auto&... a) { call_stored(box.fn, a...); }, args);
  }
  static inline const std::uint64_t key =
      register_trampoline(fnv1a(typeid(Trampoline).name()), &Trampoline::run);
};

}  // namespace detail

// True when `f(args...)` can be sent to another process: f is a plain function, a
// captureless lambda or a cereal-serializable function object, and every argument is
// serializable.
template <class F, class... Args>
concept remotable =
    (detail::plain_function<F> || detail::stateless_callable<F> ||
     serializable<std::decay_t<F>>) &&
    (serializable<std::decay_t<Args>> && ...) && detail::invocable_on_stored<F, Args...>;

namespace detail {

// Encodes a call frame for trampoline `key`: `write(archive)` writes the body. A call
// carries a checksum of its body where a value carries its type hash: a corrupted function
// offset must be an error, never a jump to a random address.
template <class Write>
std::string encode_call_frame(std::uint64_t key, Write&& write) {
  std::string out;
  write_header(out, FrameKind::call, key, 0);
  StringSink sink(out);
  std::ostream os(&sink);
  {
    cereal::BinaryOutputArchive ar(os);
    write(ar);
  }
  std::uint64_t sum = fnv1a(std::string_view(out).substr(sizeof(FrameHeader)));
  std::memcpy(out.data() + offsetof(FrameHeader, type_hash), &sum, sizeof sum);
  return out;
}

// encode_call over stored (decayed) arguments, which it reads in place: no copy, so a
// move-only argument (a Connection) can be encoded from where a Process keeps it.
template <class F, class... Args>
std::string encode_stored_call(const F& f, const Args&... args) {
  return encode_call_frame(Trampoline<stored_fn_t<F>, Args...>::key,
                           [&](cereal::BinaryOutputArchive& ar) {
                             write_fn(ar, f);  // the bytes of ar(FnBox{f})
                             (ar(args), ...);  // the bytes of ar(std::tuple<Args...>)
                           });
}

}  // namespace detail

// Encodes the call `f(args...)` as a call frame that run_call executes in another
// process of the same program. A callable that cannot cross (a lambda with captures) or
// an argument that cannot be serialized is a compile-time error.
template <class F, class... Args>
std::string encode_call(F&& f, Args&&... args) {
  static_assert(detail::plain_function<F> || detail::stateless_callable<F> ||
                    serializable<detail::stored_fn_t<F>>,
                "a lambda with captures cannot cross a process boundary: pass the values as "
                "arguments, or give the callable a serialize() member");
  static_assert((serializable<std::decay_t<Args>> && ...),
                "every argument that crosses a process boundary must be serializable with "
                "cereal (a standard type, or a type with a serialize() member)");
  return detail::encode_stored_call<std::decay_t<F>, std::decay_t<Args>...>(f, args...);
}

// Runs a call frame made by encode_call in this process (a worker). PicklingError for an
// unknown function, UnpicklingError for a corrupt frame; what the function throws
// propagates.
void run_call(std::string_view frame);

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
