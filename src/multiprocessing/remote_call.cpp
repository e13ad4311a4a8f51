// How a task's result and exception cross a process boundary
// (gilfree/multiprocessing/detail/remote_call.hpp): shared by ProcessPoolExecutor and the
// MPI executor.
#include "gilfree/multiprocessing/detail/remote_call.hpp"

#include <mutex>
#include <new>
#include <stdexcept>
#include <typeinfo>
#include <unordered_map>

#include "gilfree/errors.hpp"

namespace gilfree::multiprocessing::detail {

namespace {

using Factory = std::exception_ptr (*)(const std::string&);

template <class E>
std::exception_ptr make(const std::string& what) {
  return std::make_exception_ptr(E(what));
}

struct Known {
  std::mutex mu;
  std::unordered_map<std::string, Factory> by_name;
  Known() {
    add<ValueError>();
    add<RuntimeError>();
    add<TimeoutError>();
    add<CancelledError>();
    add<InvalidStateError>();
    add<BrokenExecutor>();
    add<BrokenProcessPool>();
    add<BrokenThreadPool>();
    add<Empty>();
    add<Full>();
    add<ShutDown>();
    add<PicklingError>();
    add<UnpicklingError>();
    add<ProcessError>();
    add<AuthenticationError>();
    add<EOFError>();
    add<AssertionError>();
    add<RemoteError>();
    add<std::runtime_error>();
    add<std::logic_error>();
    add<std::invalid_argument>();
    add<std::out_of_range>();
    add<std::length_error>();
    add<std::domain_error>();
    add<std::overflow_error>();
    add<std::underflow_error>();
    add<std::range_error>();
  }
  template <class E>
  void add() {
    by_name.emplace(demangle(typeid(E).name()), &make<E>);
  }
};
Known& known() {
  static Known* k = new Known;  // never destroyed: workers may run during exit
  return *k;
}

}  // namespace

Reply& current_reply() noexcept {
  thread_local Reply r;
  return r;
}

void reply_current_exception() noexcept {
  Reply& r = current_reply();
  r.ok = false;
  try {
    std::string type = "unknown exception", what;
    try {
      throw;
    } catch (const std::exception& e) {
      type = demangle(typeid(e).name());
      what = e.what();
    } catch (...) {
    }
    r.frame = type;
    r.frame.push_back('\0');
    r.frame += what;
  } catch (...) {
    r.frame = std::string("std::bad_alloc\0", 15);
  }
}

std::pair<std::string, std::string> split_error(std::string_view frame) {
  auto nul = frame.find('\0');
  std::string type(frame.substr(0, nul));
  std::string what(nul == std::string_view::npos ? std::string_view() : frame.substr(nul + 1));
  return {std::move(type), std::move(what)};
}

std::exception_ptr rebuild_exception(std::string_view frame) {
  auto [type, what] = split_error(frame);
  if (type == "std::bad_alloc") return std::make_exception_ptr(std::bad_alloc());
  Factory f = nullptr;
  {
    Known& k = known();
    std::lock_guard g(k.mu);
    auto it = k.by_name.find(type);
    if (it != k.by_name.end()) f = it->second;
  }
  if (f) return f(what);
  return std::make_exception_ptr(RemoteError(type + ": " + what));
}

void register_exception_factory(const char* mangled_name, Factory make) {
  Known& k = known();
  std::string name = demangle(mangled_name);
  std::lock_guard g(k.mu);
  k.by_name[name] = make;
}

}  // namespace gilfree::multiprocessing::detail
