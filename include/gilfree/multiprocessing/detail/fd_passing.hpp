// gilfree/multiprocessing/detail/fd_passing.hpp — descriptors that travel with a start, as
// CPython's spawning popen's duplicate_for_child: while Process::start() serializes the
// work for a forkserver or spawn child, an object that is a descriptor (a Connection, the
// memfd of a process-shared object) registers it here and writes only its index; the start
// hands the collected descriptors to the child (spawn: inherited at fixed numbers;
// forkserver: SCM_RIGHTS to the server, whose fork has them), and the child's load() takes
// each by its index.
//
//   parent: PassingScope scope;  ... dumps(...) → Connection::save → pass_fd(fd) = index
//           start the child with scope.fds()
//   child:  set_received_fds(fds); ... Connection::load → take_received_fd(index)
#pragma once

#include <cstdint>
#include <vector>

namespace gilfree::multiprocessing::detail {

// The most descriptors one start can pass (SCM_RIGHTS takes at most 253 per message).
inline constexpr int kMaxPassedFds = 64;

// Collects the descriptors that the objects serialized on this thread pass, for as long as
// it lives (one start). Borrowed, not duplicated: they must stay open until the start ends.
class PassingScope {
 public:
  PassingScope() noexcept;
  PassingScope(const PassingScope&) = delete;
  PassingScope& operator=(const PassingScope&) = delete;
  ~PassingScope();
  // The descriptors collected so far, in index order.
  const std::vector<int>& fds() const noexcept { return fds_; }

 private:
  friend std::int32_t pass_fd(int fd, const char* what);
  friend std::int32_t try_pass_fd(int fd);
  std::vector<int> fds_;
  PassingScope* prev_;
};

// Registers `fd` to travel with the start in progress on this thread and returns its index.
// PicklingError, naming `what`, when no start is in progress (the object was sent through a
// pipe or queue) or too many descriptors are passed.
std::int32_t pass_fd(int fd, const char* what);
// The same for an object that has another route (shared memory's /proc/<pid>/fd): the index,
// or -1 when no start is in progress. The same descriptor passed twice gets one index.
std::int32_t try_pass_fd(int fd);

// In a child: the descriptors its start passed (index → descriptor), before its work is
// decoded. They are made close-on-exec.
void set_received_fds(std::vector<int> fds);
// Takes the received descriptor `index` (the caller owns it); UnpicklingError when there is
// none (not a start's child, or a corrupt payload) or it was taken already.
int take_received_fd(std::int32_t index);
// Takes the received descriptor `index` if it is still there, else returns -1 (shared
// memory: several blocks of one arena share one descriptor). UnpicklingError when `index`
// was never received.
int take_received_fd_if_present(std::int32_t index);
// Closes the received descriptors nobody took (a payload that did not use them all).
void close_untaken_fds() noexcept;

}  // namespace gilfree::multiprocessing::detail
