// Function identity and frame checks for gilfree/multiprocessing/reduction.hpp.
#include "gilfree/multiprocessing/reduction.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gilfree::multiprocessing::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(mangled);
}

FrameHeader read_header(std::string_view frame) {
  FrameHeader h;
  if (frame.size() < sizeof h)
    throw UnpicklingError("message of " + std::to_string(frame.size()) +
                          " bytes is shorter than a frame header");
  std::memcpy(&h, frame.data(), sizeof h);
  if (h.magic[0] != 'G' || h.magic[1] != 'F')
    throw UnpicklingError("message is not a gilfree frame (bad magic)");
  if (h.version != 1)
    throw UnpicklingError("message has frame version " + std::to_string(h.version) +
                          ", this program reads version 1");
  return h;
}

namespace {
// Built on first use: trampolines register during static initialisation, in any order.
struct Registry {
  std::mutex mu;
  std::unordered_map<std::uint64_t, TrampolineFn> fns;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: workers may run during exit
  return *r;
}
}  // namespace

std::uint64_t register_trampoline(std::uint64_t key, TrampolineFn fn) noexcept {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  r.fns.emplace(key, fn);
  return key;
}

TrampolineFn find_trampoline(std::uint64_t key) {
  Registry& r = registry();
  std::lock_guard g(r.mu);
  auto it = r.fns.find(key);
  if (it == r.fns.end())
    throw PicklingError("function not found in this program (key " + std::to_string(key) +
                        "): the worker runs a different build");
  return it->second;
}

void rethrow_call_decode_error(const char* type_name) {
  try {
    throw;
  } catch (const PicklingError&) {
    throw;
  } catch (const std::exception& e) {
    throw UnpicklingError("could not decode the call " + demangle(type_name) + ": " + e.what());
  }
}

namespace {
struct Lookup {
  std::uintptr_t addr = 0;       // in: the address to find
  const char* name = nullptr;    // in: the module to find
  std::uintptr_t base = 0;       // out
  std::string module;            // out
  std::string build_id;          // out: the module's GNU build-id, "" if it has none
  bool found = false;
  bool executable = false;       // out (find_by_name: addr is an offset in a PF_X segment)
};

// The GNU build-id note of a loaded module (the linker's hash of its contents), or "".
std::string build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const std::size_t align = ph.p_align >= 8 ? 8 : 4;
    auto round = [align](std::size_t n) { return (n + align - 1) / align * align; };
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const char* name = p + sizeof n;
      const char* desc = name + round(n.n_namesz);
      if (desc + n.n_descsz > end) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0)
        return std::string(desc, n.n_descsz);
      p = desc + round(n.n_descsz);
    }
  }
  return {};
}

int find_by_address(dl_phdr_info* info, std::size_t, void* data) {
  auto* l = static_cast<Lookup*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (l->addr >= lo && l->addr < lo + ph.p_memsz) {
      l->base = info->dlpi_addr;
      l->module = info->dlpi_name ? info->dlpi_name : "";
      l->build_id = build_id_of(info);
      l->found = true;
      return 1;
    }
  }
  return 0;
}

// The main program: it is loaded first, never moves and is never unloaded, so its layout
// is looked up once.
struct ProgramLayout {
  std::uintptr_t base = 0;
  std::string build_id;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> loaded;  // [lo, hi) addresses
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> code;    // [lo, hi) offsets
  bool contains(std::uintptr_t addr) const {
    for (auto [lo, hi] : loaded)
      if (addr >= lo && addr < hi) return true;
    return false;
  }
  bool is_code(std::uintptr_t offset) const {
    for (auto [lo, hi] : code)
      if (offset >= lo && offset < hi) return true;
    return false;
  }
};

int find_program(dl_phdr_info* info, std::size_t, void* data) {
  auto* p = static_cast<ProgramLayout*>(data);  // the first module is the program
  p->base = info->dlpi_addr;
  p->build_id = build_id_of(info);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    p->loaded.emplace_back(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
    if (ph.p_flags & PF_X) p->code.emplace_back(ph.p_vaddr, ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

const ProgramLayout& program_layout() {
  static const ProgramLayout* layout = [] {
    auto* p = new ProgramLayout;  // never destroyed: workers may run during exit
    dl_iterate_phdr(find_program, p);
    return p;
  }();
  return *layout;
}

int find_by_name(dl_phdr_info* info, std::size_t, void* data) {
  auto* l = static_cast<Lookup*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (std::strcmp(name, l->name) == 0) {
    l->base = info->dlpi_addr;
    l->build_id = build_id_of(info);
    l->found = true;
    // The target must lie in one of the module's executable segments.
    l->executable = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const auto& ph = info->dlpi_phdr[i];
      if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && l->addr >= ph.p_vaddr &&
          l->addr < ph.p_vaddr + ph.p_memsz)
        l->executable = true;
    }
    return 1;
  }
  return 0;
}
}  // namespace

void look_up_program_layout() { (void)program_layout(); }

FunctionRef function_to_ref(const void* fn) {
  const ProgramLayout& program = program_layout();
  const auto addr = reinterpret_cast<std::uintptr_t>(fn);
  if (program.contains(addr))
    return FunctionRef{"", static_cast<std::uint64_t>(addr - program.base), program.build_id};
  Lookup l;
  l.addr = reinterpret_cast<std::uintptr_t>(fn);
  dl_iterate_phdr(find_by_address, &l);
  if (!l.found) throw PicklingError("the function is not in any loaded module (JIT code?)");
  return FunctionRef{l.module, static_cast<std::uint64_t>(l.addr - l.base), l.build_id};
}

namespace {
// An offset into another build of the module (a binary replaced on disk, a stale frame)
// would be a jump into the middle of unrelated code.
void check_build(const FunctionRef& ref, const std::string& here) {
  if (!ref.build_id.empty() && !here.empty() && ref.build_id != here)
    throw PicklingError("the function's module '" + ref.module +
                        "' is a different build here (its build-id differs)");
}

[[noreturn]] void not_code(const FunctionRef& ref) {
  throw PicklingError("function offset " + std::to_string(ref.offset) + " is not code in '" +
                      ref.module + "'");
}
}  // namespace

void* ref_to_function(const FunctionRef& ref) {
  if (ref.module.empty()) {  // the main program
    const ProgramLayout& program = program_layout();
    check_build(ref, program.build_id);
    if (!program.is_code(static_cast<std::uintptr_t>(ref.offset))) not_code(ref);
    return reinterpret_cast<void*>(program.base + ref.offset);
  }
  Lookup l;
  l.name = ref.module.c_str();
  l.addr = static_cast<std::uintptr_t>(ref.offset);
  dl_iterate_phdr(find_by_name, &l);
  if (!l.found && !ref.module.empty()) {
    if (dlopen(ref.module.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr)
      throw PicklingError("the function's library " + ref.module +
                          " is not loaded in this process and cannot be loaded: " + dlerror());
    dl_iterate_phdr(find_by_name, &l);
  }
  if (!l.found) throw PicklingError("the function's module '" + ref.module + "' is not loaded");
  check_build(ref, l.build_id);
  if (!l.executable) not_code(ref);
  return reinterpret_cast<void*>(l.base + ref.offset);
}

}  // namespace gilfree::multiprocessing::detail

namespace gilfree::multiprocessing {

void run_call(std::string_view frame) {
  detail::FrameHeader h = detail::read_header(frame);
  if (h.kind != detail::FrameKind::call) throw UnpicklingError("the message is not a call");
  std::string_view body = frame.substr(sizeof(detail::FrameHeader));
  if (detail::fnv1a(body) != h.type_hash)
    throw UnpicklingError("corrupt call frame (checksum mismatch)");
  detail::TrampolineFn fn = detail::find_trampoline(h.key);
  detail::BoundedInputArchive ar(body.data(), body.size());
  fn(ar);
}

}  // namespace gilfree::multiprocessing
