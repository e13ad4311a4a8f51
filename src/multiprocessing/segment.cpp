// The memory of the process-shared objects: memfd arenas that every start method can reach
// (fork inherits the mapping; a forkserver or spawn child gets the descriptor with its
// start; any other receiver opens the sender's through /proc/<pid>/fd/<n>; either way
// checked against the arena's random id). See detail/shared_futex.hpp.
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "gilfree/detail/fork.hpp"
#include "gilfree/multiprocessing/detail/fd_passing.hpp"
#include "gilfree/multiprocessing/detail/shared_futex.hpp"
#include "gilfree/multiprocessing/exceptions.hpp"

namespace gilfree::multiprocessing::detail {
namespace {

constexpr std::uint64_t kMagic = 0x6766617265616e31ull;  // "gfarean1"
constexpr std::size_t kHeader = 64;                      // magic, id; keeps blocks aligned
constexpr std::size_t kArenaBytes = 64 * 1024;
constexpr std::size_t kAlign = 64;

struct ArenaHeader {
  std::uint64_t magic;
  std::uint64_t id;
};

// One memfd and this process's mapping of it.
struct Segment {
  int fd = -1;
  char* base = nullptr;
  std::size_t size = 0;
  std::uint64_t id = 0;
  std::size_t used = kHeader;  // bump allocation, creator only (never reused: freed whole)
  pid_t maker = 0;             // the process that allocates from it
  ~Segment() {
    if (base) ::munmap(base, size);
    if (fd >= 0) ::close(fd);
  }
};

// The deleter of every Segment: std::get_deleter finds it through any block's
// shared_ptr, which is how shared_ref() learns the descriptor behind a block.
struct SegmentDeleter {
  Segment* seg = nullptr;
  void operator()(Segment* s) const noexcept { delete s; }
};

std::shared_ptr<Segment> own(Segment* s) { return std::shared_ptr<Segment>(s, SegmentDeleter{s}); }

struct Registry {
  std::mutex mu;
  std::shared_ptr<Segment> current;                          // the arena small blocks come from
  std::unordered_map<std::uint64_t, std::weak_ptr<Segment>> by_id;  // mapped here, by id
};
// Never destroyed (blocks may die during exit). Made on first use, since a program's own
// static objects (a global mp::Value) may need it before this file's statics are
// initialised, and in any case during static initialisation (below), so that no first use
// can race a fork(). The fork handlers keep the mutex consistent in a fork child.
// The handlers reach it through this pointer, not through reg(): a fork() during reg()'s
// first call must not wait for its initialisation guard.
std::atomic<Registry*> g_reg_ptr{nullptr};
void reg_lock() noexcept {
  if (auto* r = g_reg_ptr.load(std::memory_order_acquire)) r->mu.lock();
}
GILFREE_FORK_PATH void reg_unlock() noexcept {  // parent and child
  if (auto* r = g_reg_ptr.load(std::memory_order_acquire)) r->mu.unlock();
}
Registry& reg() {
  static Registry* r = [] {
    auto* made = new Registry;
    g_reg_ptr.store(made, std::memory_order_release);  // before the handlers: they pair
    ::pthread_atfork(reg_lock, reg_unlock, reg_unlock);
    return made;
  }();
  return *r;
}
[[maybe_unused]] Registry& g_reg_made_early = reg();

std::uint64_t random_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    if (::getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) {
      id = static_cast<std::uint64_t>(::getpid()) * 0x9e3779b97f4a7c15ull ^
           static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&id));
    }
  }
  return id;
}

std::shared_ptr<Segment> new_segment(std::size_t bytes) {
  auto* s = new Segment;
  auto seg = own(s);
  s->fd = ::memfd_create("gilfree-shared", MFD_CLOEXEC);
  if (s->fd < 0) throw OSError("memfd_create", errno);
  if (::ftruncate(s->fd, static_cast<off_t>(bytes)) != 0) throw OSError("ftruncate", errno);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (p == MAP_FAILED) throw OSError("mmap", errno);
  s->base = static_cast<char*>(p);
  s->size = bytes;
  s->id = random_id();
  s->maker = self_pid();
  auto* h = reinterpret_cast<ArenaHeader*>(s->base);
  h->magic = kMagic;
  h->id = s->id;
  return seg;
}

std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

// Records a segment mapped here (called with the mutex); drops the expired entries now
// and then so the table stays the size of what is alive.
void remember(const std::shared_ptr<Segment>& seg) {
  auto& m = reg().by_id;
  if (m.size() >= 64 && (m.size() & (m.size() - 1)) == 0) std::erase_if(m, [](auto& kv) { return kv.second.expired(); });
  m[seg->id] = seg;
}

}  // namespace

std::shared_ptr<void> map_shared(std::size_t bytes) {
  bytes = round_up(bytes == 0 ? 1 : bytes, kAlign);
  std::shared_ptr<Segment> seg;
  std::size_t off = kHeader;
  if (bytes > kArenaBytes / 4) {
    seg = new_segment(round_up(kHeader + bytes, 4096));
    std::lock_guard<std::mutex> g(reg().mu);
    remember(seg);
  } else {
    std::lock_guard<std::mutex> g(reg().mu);
    auto& cur = reg().current;
    // A fork child must not allocate from its parent's arena: both would hand out the same
    // offsets.
    if (!cur || cur->maker != self_pid() || cur->used + bytes > cur->size) {
      cur = new_segment(kArenaBytes);
      remember(cur);
    }
    seg = cur;
    off = cur->used;
    cur->used += bytes;
  }
  void* p = seg->base + off;
  return std::shared_ptr<void>(std::move(seg), p);
}

SharedRef shared_ref(const std::shared_ptr<void>& block, std::size_t size) {
  auto* d = std::get_deleter<SegmentDeleter>(block);
  if (!d || !d->seg)
    throw PicklingError("this object's memory cannot cross to another process (not made by map_shared)");
  Segment* s = d->seg;
  SharedRef r;
  r.pid = self_pid();
  r.fd = s->fd;
  r.id = s->id;
  r.offset = static_cast<std::uint64_t>(static_cast<const char*>(block.get()) - s->base);
  r.size = size;
  // Written during a Process start: the descriptor travels with the start, and the ref
  // names it by index (pid 0), so the child needs no /proc access to a live sender.
  if (std::int32_t index = try_pass_fd(s->fd); index >= 0) {
    r.pid = 0;
    r.fd = index;
  }
  return r;
}

std::shared_ptr<void> attach_shared(const SharedRef& ref) {
  // Passed with this process's start (pid 0): the descriptor is here already; several
  // blocks of one arena share it, so only the first to attach finds it.
  int passed = ref.pid == 0 ? take_received_fd_if_present(ref.fd) : -1;
  struct Closer {
    int& fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{passed};
  std::lock_guard<std::mutex> g(reg().mu);
  std::shared_ptr<Segment> seg;
  if (auto it = reg().by_id.find(ref.id); it != reg().by_id.end()) seg = it->second.lock();
  if (!seg) {
    const std::string gone = "a shared object sent by process " + std::to_string(ref.pid) +
                             " is no longer there (keep it alive in the sender until the "
                             "receiver has started)";
    int fd;
    if (ref.pid == 0) {
      if (passed < 0)
        throw UnpicklingError("a shared object passed with this process's start has no "
                              "descriptor left (its arena is not mapped here)");
      fd = std::exchange(passed, -1);
    } else {
      char path[64];
      std::snprintf(path, sizeof path, "/proc/%d/fd/%d", static_cast<int>(ref.pid),
                    static_cast<int>(ref.fd));
      fd = ::open(path, O_RDWR | O_CLOEXEC);
      if (fd < 0) throw UnpicklingError(gone + ": " + std::strerror(errno));
    }
    auto* s = new Segment;
    auto owned = own(s);
    s->fd = fd;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kHeader)) throw UnpicklingError(gone);
    s->size = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw UnpicklingError(gone + ": mmap failed");
    s->base = static_cast<char*>(p);
    auto* h = reinterpret_cast<const ArenaHeader*>(s->base);
    if (h->magic != kMagic || h->id != ref.id) throw UnpicklingError(gone + " (descriptor reused)");
    s->id = ref.id;
    s->used = s->size;  // never allocate from an attached arena
    remember(owned);
    seg = std::move(owned);
  }
  if (ref.offset < kHeader || ref.offset > seg->size || ref.size > seg->size - ref.offset)
    throw UnpicklingError("a shared object's reference points outside its segment");
  void* p = seg->base + ref.offset;
  return std::shared_ptr<void>(std::move(seg), p);
}

void discard_shared(const std::shared_ptr<void>& block, std::size_t offset, std::size_t len) noexcept {
  auto* d = std::get_deleter<SegmentDeleter>(block);
  if (!d || !d->seg || len == 0) return;
  Segment* s = d->seg;
  const std::size_t page = 4096;
  std::size_t a = static_cast<std::size_t>(static_cast<const char*>(block.get()) - s->base) + offset;
  std::size_t b = a + len;
  a = round_up(a, page);
  b = b / page * page;
  if (b <= a) return;
  ::fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(a),
              static_cast<off_t>(b - a));
}

}  // namespace gilfree::multiprocessing::detail
