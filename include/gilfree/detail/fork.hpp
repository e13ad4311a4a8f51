// gilfree/detail/fork.hpp — what the library does around fork(), for the parts of it
// (and the multiprocessing layer) that must survive being copied into a child.
//
// A fork child has one thread: the one that called fork(). Everything else the parent's
// threads were doing is gone, including locks they held. Python's answer
// (threading._after_fork, os.register_at_fork) is ours too:
//  * before fork() the library takes its internal locks (the thread registry, the futures
//    allocator's depot, the log hook), so the child gets them unlocked and their data
//    consistent; after fork() both sides release them;
//  * in the child, the forking thread becomes the main thread (main_thread() returns it,
//    with the child's own get_native_id()), enumerate() lists only it, the Thread objects
//    of the parent's other threads read as finished (join() returns at once, exit()
//    does not wait for them), and the library's per-thread state of the forking thread
//    (its allocator cache, its "I am a worker of executor X" mark) is valid again;
//  * objects whose threads did not come along (a ThreadPoolExecutor) remember the
//    fork_generation() they were made in and refuse work in a child with a clear error.
//  * each of those objects, and its pthread_atfork registration, is made during static
//    initialisation, while the program has one thread: made lazily, a first use racing a
//    fork() in another thread would leave the child its one-time-setup guard taken by a
//    thread the child does not have, and the child's first use would wait forever;
// Not covered: a user's own lock, or a Future's internal lock, held by another thread at
// the time of fork() stays held in the child (as in Python).
#pragma once

#include <atomic>
#include <cstdint>

// Marks the code a fork child runs: the library's pthread_atfork child handlers (every
// fork() of the program runs them, before fork() returns) and a Process child's own path.
// A fork child gets no page table entries for program text (the kernel leaves file-backed
// mappings to fault in again), so it takes a page fault for each 64 KiB window of code it
// runs, 13-25 us each on this project's VMs. GCC places `hot` functions together
// (.text.hot), so these share one or two windows instead of one per source file.
#define GILFREE_FORK_PATH [[gnu::hot]]

namespace gilfree::detail {

// How many fork() children deep this process is, counted since the first call: 0 in the
// original process, one more in each child. Installs the counting handler on first use.
std::uint32_t fork_generation() noexcept;

// The counter fork_generation() reads, for hot paths that installed the handlers once
// (by calling fork_generation()) and then only compare.
inline std::atomic<std::uint32_t> fork_generation_counter{0};

// Installs the handler that counts fork generations (and clears the forking thread's
// BlockingHook in the child); idempotent. The thread registry, the allocator's depot, the
// log hook and excepthook install their own handlers when first used, so the library's
// locks are held across a fork() only once they exist.
void install_fork_handlers() noexcept;

// Python's threading._shutdown(): waits until every non-daemon gilfree::Thread of this
// process (other than the caller's) has finished. In a fork child the parent's threads
// read as finished, so a child waits only for the threads it started itself; a process
// child calls this after run(), as Python's process bootstrap does.
void shutdown_threads();

}  // namespace gilfree::detail
