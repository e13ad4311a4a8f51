// The futures' slab allocator (see detail/state_alloc.hpp).
#include "gilfree/detail/state_alloc.hpp"

#include <cstddef>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "fork_held.hpp"

namespace gilfree::detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
void* state_alloc(std::size_t size) { return ::operator new(size); }
void state_free(void* p, std::size_t) noexcept { ::operator delete(p); }
#else
namespace {

constexpr std::size_t kGrain = 32;                      // size classes 32, 64, ..., 256
constexpr std::size_t kClasses = 8;
constexpr std::size_t kSlabBytes = 64 * 1024;
constexpr std::size_t kLocalMax = 4096;                 // blocks a thread keeps per class
constexpr std::size_t kBatch = 2048;                    // blocks moved to/from the depot

struct FreeBlock {
  FreeBlock* next;
};

// Batches of free blocks shared by all threads, and every slab ever carved.
struct Depot {
  std::mutex mu;
  std::vector<std::pair<FreeBlock*, std::size_t>> batches[kClasses];
  std::vector<void*> slabs;  // kept reachable (and reusable) for the life of the process
};
// The depot's lock is held across fork() (see detail/fork.hpp): the child gets the
// batches consistent and the lock free. The forking thread's own cache comes along whole;
// the other threads' caches are simply gone (their blocks are lost to the child).
Depot& depot() { return fork_held<Depot>(); }
[[maybe_unused]] const bool depot_made_early = fork_held_early<Depot>();

struct LocalCache {
  FreeBlock* head[kClasses] = {};
  std::size_t count[kClasses] = {};
  char* bump = nullptr;
  char* bump_end = nullptr;

  ~LocalCache();

  void* carve(std::size_t bytes) {
    if (static_cast<std::size_t>(bump_end - bump) < bytes) {
      void* slab = ::operator new(kSlabBytes);
      {
        Depot& d = depot();
        std::lock_guard g(d.mu);
        d.slabs.push_back(slab);
      }
      bump = static_cast<char*>(slab);
      bump_end = bump + kSlabBytes;
    }
    void* p = bump;
    bump += bytes;
    return p;
  }

  // Moves `n` blocks of class `c` out as a chain (n <= count[c]).
  FreeBlock* split(std::size_t c, std::size_t n) {
    FreeBlock* first = head[c];
    FreeBlock* last = first;
    for (std::size_t i = 1; i < n; ++i) last = last->next;
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= n;
    return first;
  }
};

thread_local LocalCache cache;
// Set once `cache` is destroyed at thread exit; a state freed after that (by another
// thread-local's destructor) goes straight to the depot. Trivial, so always accessible.
thread_local bool cache_dead = false;

LocalCache::~LocalCache() {
  {
    Depot& d = depot();
    std::lock_guard g(d.mu);
    for (std::size_t c = 0; c < kClasses; ++c)
      if (head[c]) d.batches[c].emplace_back(head[c], count[c]);
  }
  for (std::size_t c = 0; c < kClasses; ++c) {
    head[c] = nullptr;
    count[c] = 0;
  }
  cache_dead = true;
}

}  // namespace

void* state_alloc(std::size_t size) {
  if (size > kGrain * kClasses) return ::operator new(size);
  std::size_t c = (size + kGrain - 1) / kGrain - 1;
  if (cache_dead) return ::operator new((c + 1) * kGrain);  // pooled when freed: harmless
  LocalCache& lc = cache;
  if (FreeBlock* b = lc.head[c]) {
    lc.head[c] = b->next;
    --lc.count[c];
    return b;
  }
  {
    Depot& d = depot();
    std::lock_guard g(d.mu);
    if (!d.batches[c].empty()) {
      auto [chain, n] = d.batches[c].back();
      d.batches[c].pop_back();
      lc.head[c] = chain->next;
      lc.count[c] = n - 1;
      return chain;
    }
  }
  return lc.carve((c + 1) * kGrain);
}

void state_free(void* p, std::size_t size) noexcept {
  if (size > kGrain * kClasses) {
    ::operator delete(p);
    return;
  }
  std::size_t c = (size + kGrain - 1) / kGrain - 1;
  auto* b = static_cast<FreeBlock*>(p);
  if (cache_dead) {
    b->next = nullptr;
    try {
      Depot& d = depot();
      std::lock_guard g(d.mu);
      d.batches[c].emplace_back(b, 1);
    } catch (...) {
    }
    return;
  }
  LocalCache& lc = cache;
  b->next = lc.head[c];
  lc.head[c] = b;
  if (++lc.count[c] > kLocalMax) {
    FreeBlock* chain = lc.split(c, kBatch);
    try {
      Depot& d = depot();
      std::lock_guard g(d.mu);
      d.batches[c].emplace_back(chain, kBatch);
    } catch (...) {
      // No memory for the depot's vector: keep the blocks here rather than lose them.
      FreeBlock* last = chain;
      while (last->next) last = last->next;
      last->next = lc.head[c];
      lc.head[c] = chain;
      lc.count[c] += kBatch;
    }
  }
}
#endif


}  // namespace gilfree::detail
