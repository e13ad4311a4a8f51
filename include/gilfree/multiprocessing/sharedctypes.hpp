// gilfree/multiprocessing/sharedctypes.hpp — multiprocessing's Value, Array, RawValue and
// RawArray for trivially copyable T, in shared memory (memfd: inherited by fork children,
// opened by forkserver/spawn children; gone with the last process that maps it, so a
// SIGKILLed creator leaks nothing). As in Python, Value/Array carry an RLock by default and every single access
// takes it, so `v.set_value(v.value() + 1)` still races between the two accesses (lost
// updates) while the same inside `std::lock_guard g(v.get_lock())` is exact.
// Copies are handles to the same memory; passing to a Process works under every start
// method, as synchronize.hpp says.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "detail/shared_futex.hpp"
#include "reduction.hpp"
#include "synchronize.hpp"

namespace gilfree::multiprocessing {

// Options of Value and Array.
struct SharedOptions {
  // Python's lock=True: a new RLock guards every access. false gives the raw object (then
  // get_lock() is an error, as Python's raw object has no get_lock).
  bool lock = true;
};

namespace detail {
template <class T>
std::shared_ptr<T> shared_array(std::size_t n) {
  static_assert(std::is_trivially_copyable_v<T>, "shared ctypes hold trivially copyable types");
  static_assert(alignof(T) <= 4096);
  auto mem = map_shared(std::max<std::size_t>(1, n * sizeof(T)));
  T* p = static_cast<T*>(mem.get());
  for (std::size_t i = 0; i < n; ++i) new (p + i) T();
  return std::shared_ptr<T>(std::move(mem), p);
}
}  // namespace detail

// multiprocessing.RawValue: one T in shared memory, no lock.
// Its wire form (a Process argument under forkserver/spawn) is BlockHandle's.
template <class T>
class RawValue : public detail::BlockHandle<T> {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // A value initialised to `init`.
  explicit RawValue(T init = T()) : detail::BlockHandle<T>(detail::shared_array<T>(1)) {
    *this->b_ = init;
  }
  // Reads the value.
  T value() const noexcept { return *this->b_; }
  // Writes the value.
  void set_value(T v) noexcept { *this->b_ = v; }
  // The shared object itself.
  T& get_obj() const noexcept { return *this->b_; }
};

// multiprocessing.RawArray: n T's in shared memory, no lock; indexing is unchecked.
template <class T>
class RawArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // An empty array (to be assigned, or read from a message).
  RawArray() : RawArray(std::size_t{0}) {}
  // n value-initialised elements.
  explicit RawArray(std::size_t n) : p_(detail::shared_array<T>(n)), n_(n) {}
  // A copy of `init`.
  RawArray(std::initializer_list<T> init) : RawArray(std::span<const T>(init.begin(), init.size())) {}
  explicit RawArray(std::span<const T> init) : RawArray(init.size()) {
    std::copy(init.begin(), init.end(), p_.get());
  }
  // Element i.
  T& operator[](std::size_t i) const noexcept { return p_.get()[i]; }
  std::size_t size() const noexcept { return n_; }
  T* data() const noexcept { return p_.get(); }
  T* begin() const noexcept { return p_.get(); }
  T* end() const noexcept { return p_.get() + n_; }

  // The wire form: the element count and a reference to the shared block.
  template <class A>
  void save(A& ar) const {
    ar(static_cast<std::uint64_t>(n_));
    detail::save_block(ar, p_, std::max<std::size_t>(1, n_ * sizeof(T)));
  }
  template <class A>
  void load(A& ar) {
    std::uint64_t n = 0;
    ar(n);
    if (n > (std::uint64_t{1} << 48) / sizeof(T)) throw UnpicklingError("absurd RawArray size");
    detail::load_block(ar, p_, std::max<std::size_t>(1, static_cast<std::size_t>(n) * sizeof(T)));
    n_ = static_cast<std::size_t>(n);
  }

 private:
  std::shared_ptr<T> p_;
  std::size_t n_;
};

// multiprocessing.Value: one T in shared memory, each access under get_lock() (an RLock,
// as Python's default) unless created with {.lock = false}.
template <class T>
class Value {
 public:
  using Options = SharedOptions;

  // A value initialised to `init`.
  explicit Value(T init = T(), Options options = {}) : raw_(init) {
    if (options.lock) lock_.emplace();
  }
  // Reads the value under the lock.
  T value() const {
    if (!lock_) return raw_.value();
    std::lock_guard<RLock> g(*lock_);
    return raw_.value();
  }
  // Writes the value under the lock.
  void set_value(T v) {
    if (!lock_) return raw_.set_value(v);
    std::lock_guard<RLock> g(*lock_);
    raw_.set_value(v);
  }
  // The lock; RuntimeError if created with {.lock = false}.
  RLock& get_lock() const {
    if (!lock_) throw RuntimeError("this Value was created with lock = false and has no lock");
    return *lock_;
  }
  // The unsynchronised object (Python's get_obj()); hold get_lock() around compound updates.
  T& get_obj() const noexcept { return raw_.get_obj(); }

  // The wire form: the value's block and its lock, if any.
  template <class A>
  void serialize(A& ar) {
    ar(raw_, lock_);
  }

 private:
  RawValue<T> raw_;
  mutable std::optional<RLock> lock_;
};

// multiprocessing.Array: n T's in shared memory, each access under get_lock() unless created
// with {.lock = false}; an index past the end is std::out_of_range (Python's IndexError).
template <class T>
class Array {
 public:
  using Options = SharedOptions;

  // An empty array (to be assigned, or read from a message).
  Array() : Array(std::size_t{0}) {}
  // n value-initialised elements (Python's Array(typecode, n)).
  explicit Array(std::size_t n, Options options = {}) : raw_(n) {
    if (options.lock) lock_.emplace();
  }
  // A copy of `init` (Python's Array(typecode, sequence)).
  Array(std::initializer_list<T> init, Options options = {})
      : Array(std::span<const T>(init.begin(), init.size()), options) {}
  explicit Array(std::span<const T> init, Options options = {}) : raw_(init) {
    if (options.lock) lock_.emplace();
  }
  // Element i, read under the lock.
  T get(std::size_t i) const {
    check(i);
    auto g = guard();
    return raw_[i];
  }
  // Writes element i under the lock.
  void set(std::size_t i, T v) {
    check(i);
    auto g = guard();
    raw_[i] = v;
  }
  // All elements, copied under the lock (Python's arr[:]).
  std::vector<T> to_vector() const {
    auto g = guard();
    return std::vector<T>(raw_.begin(), raw_.end());
  }
  // The number of elements.
  std::size_t size() const noexcept { return raw_.size(); }
  // The lock; RuntimeError if created with {.lock = false}.
  RLock& get_lock() const {
    if (!lock_) throw RuntimeError("this Array was created with lock = false and has no lock");
    return *lock_;
  }
  // The unsynchronised elements (Python's get_obj()).
  std::span<T> get_obj() const noexcept { return {raw_.data(), raw_.size()}; }

  // The wire form: the elements' block and the lock, if any.
  template <class A>
  void serialize(A& ar) {
    ar(raw_, lock_);
  }

 private:
  void check(std::size_t i) const {
    if (i >= raw_.size()) throw std::out_of_range("invalid index");
  }
  std::unique_lock<RLock> guard() const {
    return lock_ ? std::unique_lock<RLock>(*lock_) : std::unique_lock<RLock>();
  }
  RawArray<T> raw_;
  mutable std::optional<RLock> lock_;
};

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
