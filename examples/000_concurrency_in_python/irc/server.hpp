// irc/server.hpp — an RFC 1459 IRC server on gilfree threads.
//
// Threads. One acceptor; per connection a reader (parse, run the command under the state
// lock, watch the ping timer) and a writer (drain the connection's bounded send queue onto
// the socket, coalescing queued lines into one send); one reaper that joins the threads of
// finished connections and frees them, so that thread and fd counts follow the live
// connections (1000 connects and disconnects leave nothing behind).
//
// Why thread-per-connection with one state lock rather than channel actors over queues:
// IRC is I/O-bound and every connection spends its life blocked in recv() or send(), which
// is the case threads serve best — each client's code reads top to bottom. Commands touch
// several structures at once (see state.hpp), so one lock keeps them atomic; fan-out is a
// non-blocking put on each recipient's gilfree::Queue, so the lock is never held for I/O,
// and the writer threads give every slow client its own place to stall. A client whose
// queue overflows (it does not read) is disconnected instead of slowing anyone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <gilfree/queue.hpp>
#include <gilfree/threading.hpp>

#include "connection.hpp"
#include "state.hpp"

namespace irc {

// Server's keyword arguments.
struct ServerOptions {
  // Address to listen on: an IPv4 or IPv6 literal.
  std::string host = "127.0.0.1";
  // TCP port; 0 lets the OS pick (see Server::port()).
  int port = 6667;
  // Name, MOTD, password, limits.
  Config config = {};
  // A client silent this long gets a PING ...
  std::chrono::milliseconds ping_interval{120'000};
  // ... and is dropped ("Ping timeout") when nothing comes back this long after it.
  std::chrono::milliseconds ping_timeout{60'000};
  // Lines a client's send queue holds before the client is dropped ("SendQ exceeded").
  std::size_t sendq_lines = 2048;
  // Connections beyond this are refused with an ERROR line.
  std::size_t max_clients = 4096;
  // Log every connection and disconnection to stderr.
  bool verbose = true;
  // Log every line received, too (debugging a client).
  bool trace = false;
};

class Server {
 public:
  // Binds and listens; std::system_error when the address cannot be used.
  explicit Server(ServerOptions options);
  // stop()s.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting connections.
  void start();
  // Stops accepting, tells every client "ERROR :Closing Link ... (Server shutting down)",
  // and returns once every connection's threads are joined and its socket closed.
  // Idempotent.
  void stop();
  // The port listened on.
  int port() const noexcept { return port_; }
  // Connections accepted so far, and those not yet fully released.
  std::uint64_t accepted() const noexcept { return accepted_.load(); }
  std::uint64_t live() const noexcept { return live_.load(); }
  // The state's counts (registered users, channels, ...).
  StateCounts counts() { return state_.counts(); }

 private:
  void accept_loop();
  void reader_loop(const std::shared_ptr<Connection>& conn);
  void writer_loop(Connection& conn);
  void reap_loop();
  void release(const std::shared_ptr<Connection>& conn);
  void log(const std::string& line);

  const ServerOptions options_;
  State state_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> started_{false}, stopping_{false};
  std::atomic<std::uint64_t> accepted_{0}, live_{0};
  gilfree::Lock live_lock_;
  gilfree::Condition all_released_{live_lock_};  // stop() waits here for live_ == 0
  gilfree::Queue<std::shared_ptr<Connection>> dead_;  // finished connections, to the reaper
  std::unique_ptr<gilfree::Thread> acceptor_, reaper_;
  gilfree::Lock log_lock_;
};

}  // namespace irc
