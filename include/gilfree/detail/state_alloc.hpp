// gilfree/detail/state_alloc.hpp — where futures' shared states live.
//
// Every submit allocates one state and every dropped future frees one, often on another
// thread; with 10^6 futures in flight, glibc's malloc/free and the page faults of a heap
// that is trimmed and regrown between bursts were a third of the submitting thread's
// time. States therefore come from per-thread free lists by size class, refilled from
// 64 KiB slabs that are kept for reuse (never returned to the system); a thread whose list
// grows past a bound hands a batch to a shared depot, so blocks freed by workers flow back
// to the threads that allocate. Sizes above 256 bytes, and sanitizer builds (so that
// AddressSanitizer still sees every use after free), use plain operator new/delete.
#pragma once

#include <cstddef>

namespace gilfree::detail {

// A block of at least `size` bytes, aligned for any state.
void* state_alloc(std::size_t size);
// Returns a block from state_alloc(size) (any thread may free it).
void state_free(void* p, std::size_t size) noexcept;

}  // namespace gilfree::detail
