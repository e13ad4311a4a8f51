// Descriptors that travel with a start (gilfree/multiprocessing/detail/fd_passing.hpp).
#include "gilfree/multiprocessing/detail/fd_passing.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "gilfree/multiprocessing/exceptions.hpp"

namespace gilfree::multiprocessing::detail {

namespace {
// The start in progress on this thread (a start serializes on the thread that calls it).
thread_local PassingScope* tls_scope = nullptr;

// What this child received. A mutex, not a thread_local: a Process subclass's fields are
// decoded on the main thread, but its run() may hand a decode to another thread.
struct Received {
  std::mutex mu;
  std::vector<int> fds;  // -1 once taken
  std::size_t count = 0;
};
Received& received() {
  static Received* r = new Received;  // never destroyed: used until _exit
  return *r;
}
}  // namespace

PassingScope::PassingScope() noexcept : prev_(tls_scope) { tls_scope = this; }
PassingScope::~PassingScope() { tls_scope = prev_; }

std::int32_t pass_fd(int fd, const char* what) {
  PassingScope* s = tls_scope;
  if (!s)
    throw PicklingError(std::string(what) +
                        " can cross to another process only as an argument (or a field of a "
                        "registered Process subclass) of a Process started with the forkserver or "
                        "spawn method, whose start passes its descriptor; it cannot be sent "
                        "through a pipe or a queue");
  if (fd < 0) throw PicklingError(std::string(what) + " is closed");
  if (s->fds_.size() >= static_cast<std::size_t>(kMaxPassedFds))
    throw PicklingError("a start can pass at most " + std::to_string(kMaxPassedFds) +
                        " descriptors (connections and shared-memory segments)");
  s->fds_.push_back(fd);
  return static_cast<std::int32_t>(s->fds_.size() - 1);
}

std::int32_t try_pass_fd(int fd) {
  PassingScope* s = tls_scope;
  if (!s || fd < 0) return -1;
  auto it = std::find(s->fds_.begin(), s->fds_.end(), fd);
  if (it != s->fds_.end()) return static_cast<std::int32_t>(it - s->fds_.begin());
  if (s->fds_.size() >= static_cast<std::size_t>(kMaxPassedFds)) return -1;  // the /proc route
  s->fds_.push_back(fd);
  return static_cast<std::int32_t>(s->fds_.size() - 1);
}

void set_received_fds(std::vector<int> fds) {
  for (int fd : fds) ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // a Connection is not inheritable
  Received& r = received();
  std::lock_guard l(r.mu);
  r.fds = std::move(fds);
  r.count = r.fds.size();
}

int take_received_fd_if_present(std::int32_t index) {
  Received& r = received();
  std::lock_guard l(r.mu);
  if (index < 0 || static_cast<std::size_t>(index) >= r.count)
    throw UnpicklingError("descriptor " + std::to_string(index) +
                          " was not passed to this process (" + std::to_string(r.count) +
                          " were): a passed object can only be decoded by the child that its "
                          "start made");
  return std::exchange(r.fds[static_cast<std::size_t>(index)], -1);
}

int take_received_fd(std::int32_t index) {
  int fd = take_received_fd_if_present(index);
  if (fd < 0)
    throw UnpicklingError("descriptor " + std::to_string(index) + " passed to this process was "
                          "taken already (the object was decoded twice)");
  return fd;
}

void close_untaken_fds() noexcept {
  Received& r = received();
  std::lock_guard l(r.mu);
  for (int& fd : r.fds)
    if (fd >= 0) ::close(std::exchange(fd, -1));
}

}  // namespace gilfree::multiprocessing::detail
