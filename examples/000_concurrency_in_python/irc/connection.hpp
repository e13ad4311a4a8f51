// irc/connection.hpp — one client connection as the server sees it.
//
// Each connection has two gilfree threads (started by Server): a reader that parses lines
// and runs commands, and a writer that drains `sendq` onto the socket. Every other thread
// reaches a client only through send(), which never blocks: `sendq` is a bounded
// gilfree::Queue, and a client whose queue is full is cut off ("SendQ exceeded") rather
// than allowed to stall the sender — a slow or silent reader never holds anyone up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

namespace irc {

class Connection {
 public:
  // Takes ownership of the connected socket `fd`; `sendq_lines` bounds the send queue.
  Connection(int fd, std::string host, std::uint64_t id, std::size_t sendq_lines);
  // Closes the socket. The threads must have been joined.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues one formatted line for the writer. Never blocks: when the queue is full the
  // connection is killed with "SendQ exceeded"; after shutdown the line is dropped.
  void send(std::string line);
  // Ends the connection from any thread: the first reason is kept (the QUIT message the
  // channels see) and the socket is shut down with `how` (SHUT_RDWR wakes both threads,
  // SHUT_RD only the reader so queued lines still go out, -1 leaves it: the reader is
  // the caller and stops by itself).
  void kill(const std::string& reason, int how = 2 /* SHUT_RDWR */);
  // The reason given to the first kill(), or "" when none.
  std::string kill_reason() const;
  // True once kill() was called.
  bool killed() const noexcept { return killed_.load(); }

  // "nick!user@host", the prefix of what this client sends to others.
  std::string prefix() const { return nick + "!" + user + "@" + host; }
  // The nick, or "*" before one is set (the target of numerics to an unregistered client).
  const std::string& target() const { return nick.empty() ? star_ : nick; }

  // The socket (closed by the destructor), the peer's address, a number for the logs.
  const int fd;
  const std::string host;
  const std::uint64_t id;
  // Formatted lines waiting for the writer thread; bounded (see send()).
  gilfree::Queue<std::string> sendq;
  std::unique_ptr<gilfree::Thread> reader, writer;  // set by Server before start
  // Set when queued output is to be dropped (the peer does not read): the writer stops
  // at its next send timeout instead of draining.
  std::atomic<bool> abandon{false};
  // Set by the acceptor once reader->start() has returned: a connection can end (and reach
  // the reaper) before that, and a Thread must not be destroyed while start() runs.
  gilfree::Event launched;

  // Guarded by State's lock (only the state touches these).
  std::string nick, user, realname, away, password;
  bool registered = false;
  bool invisible = false;
  bool cap_negotiating = false;  // CAP LS seen and no CAP END yet: registration waits
  std::set<std::string> channels;  // casefolded names of joined channels
  std::chrono::system_clock::time_point signon = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point last_spoke = std::chrono::steady_clock::now();

 private:
  static inline const std::string star_ = "*";
  std::atomic<bool> killed_{false};
  mutable gilfree::Lock reason_lock_;
  std::string reason_;
};

}  // namespace irc
