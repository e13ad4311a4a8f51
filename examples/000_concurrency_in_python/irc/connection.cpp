#include "connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <mutex>

namespace irc {

Connection::Connection(int fd_, std::string host_, std::uint64_t id_, std::size_t sendq_lines)
    : fd(fd_), host(std::move(host_)), id(id_), sendq(static_cast<long>(sendq_lines)) {}

Connection::~Connection() {
  if (abandon.load()) {
    // What the peer did not read is dropped: close with a reset, not a graceful close
    // that would keep the kernel trickling megabytes to a peer that does not read.
    linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  ::close(fd);
}

void Connection::send(std::string line) {
  if (sendq.try_put(std::move(line))) return;
  if (!sendq.is_shutdown()) kill("SendQ exceeded");
}

void Connection::kill(const std::string& reason, int how) {
  {
    std::scoped_lock g(reason_lock_);
    if (killed_.load()) return;
    reason_ = reason;
    killed_.store(true);
  }
  // SHUT_RDWR: the reader's recv() returns 0 and a writer stuck in send() fails.
  // The fd stays open (the reaper closes it), so it cannot be reused under our feet.
  if (how == SHUT_RDWR) abandon = true;
  if (how >= 0) ::shutdown(fd, how);
}

std::string Connection::kill_reason() const {
  std::scoped_lock g(reason_lock_);
  return reason_;
}

}  // namespace irc
