// The registry of Process subclasses that cross to forkserver and spawn children
// (register_process in gilfree/multiprocessing/process.hpp). Decoding goes through the
// trampoline registry of reduction.hpp (a subclass's frame is a call frame); this file keeps
// the other direction, type → encoder, and the object a decoded frame hands to the worker.
#include <memory>
#include <mutex>
#include <typeindex>
#include <unordered_map>

#include "gilfree/multiprocessing/process.hpp"

namespace gilfree::multiprocessing::detail {

namespace {
struct Types {
  std::mutex mu;
  std::unordered_map<std::type_index, ProcessEncoder> encoders;
};
Types& types() {
  static Types* t = new Types;  // never destroyed: registered during static initialisation
  return *t;
}
// The object the last decoded subclass frame made (a child decodes one, on its main thread).
std::unique_ptr<Process>& handed_over() {
  static auto* p = new std::unique_ptr<Process>;
  return *p;
}
}  // namespace

void register_process_type(const std::type_info& type, ProcessEncoder encode) noexcept {
  Types& t = types();
  std::lock_guard l(t.mu);
  t.encoders[std::type_index(type)] = encode;
}

// The encoder of `type`, or nullptr when it was not registered.
ProcessEncoder find_process_encoder(const std::type_info& type) {
  Types& t = types();
  std::lock_guard l(t.mu);
  auto it = t.encoders.find(std::type_index(type));
  return it == t.encoders.end() ? nullptr : it->second;
}

void hand_over_process(std::unique_ptr<Process> p) noexcept { handed_over() = std::move(p); }

// The object hand_over_process received (nullptr if none), which the caller now owns.
std::unique_ptr<Process> take_handed_over_process() noexcept { return std::move(handed_over()); }

}  // namespace gilfree::multiprocessing::detail
