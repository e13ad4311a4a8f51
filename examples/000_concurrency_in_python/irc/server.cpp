#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <mutex>
#include <system_error>

#include "message.hpp"

namespace irc {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Writes all of `data`; false when the peer is gone or `give_up()` says to stop. A send()
// blocked on a full socket is not woken by shutdown() on Linux, so sockets carry a send
// timeout (SO_SNDTIMEO) and a blocked writer looks at give_up() at that pace.
template <class GiveUp>
bool send_all(int fd, const std::string& data, GiveUp give_up) {
  for (std::size_t sent = 0; sent < data.size();) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (give_up()) return false;
      continue;
    }
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string peer_host(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = "unknown";
  if (addr.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof buf);
  else if (addr.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof buf);
  std::string host = buf;
  if (!host.empty() && host[0] == ':') host = "0" + host;  // "::1" cannot start a param
  return host;
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)), state_(options_.config) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, options_.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options_.port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, options_.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    len = sizeof *v6;
  } else {
    errno = EINVAL;
    fail("not an IP address: " + options_.host);
  }
  listener_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) fail("socket");
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_, 512) != 0) {
    int e = errno;
    ::close(listener_);
    errno = e;
    fail("bind/listen on " + options_.host + ":" + std::to_string(options_.port));
  }
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
}

Server::~Server() {
  stop();
  if (listener_ >= 0) ::close(listener_);
}

void Server::log(const std::string& line) {
  std::scoped_lock g(log_lock_);
  std::cerr << "[" << options_.config.name << "] " << line << std::endl;
}

void Server::start() {
  if (started_.exchange(true)) return;
  reaper_ = std::make_unique<gilfree::Thread>(gilfree::Thread::Options{.name = "irc-reaper"},
                                              [this] { reap_loop(); });
  reaper_->start();
  acceptor_ = std::make_unique<gilfree::Thread>(gilfree::Thread::Options{.name = "irc-accept"},
                                                [this] { accept_loop(); });
  acceptor_->start();
}

void Server::stop() {
  if (!started_.load() || stopping_.exchange(true)) return;
  ::shutdown(listener_, SHUT_RDWR);  // accept() fails from now on: the acceptor returns
  acceptor_->join();
  const std::string bye =
      format("", "ERROR", {"Closing Link: " + options_.config.name + " (Server shutting down)"});
  state_.for_each([&](Connection& c) {
    c.send(bye);
    c.kill("Server shutting down", SHUT_RD);  // the reader wakes; the writer drains
  });
  {
    std::unique_lock g(live_lock_);
    // Every reader sees its socket shut and the writers get a grace period to drain, so
    // this is bounded; wait in slices to stay responsive in logs if a peer lingers.
    // A slice's own result does not matter: live_ says when to stop.
    while (live_.load() > 0) (void)all_released_.wait(std::chrono::milliseconds(500));
  }
  dead_.shutdown();
  reaper_->join();
}

void Server::accept_loop() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listener_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log(std::string("accept: ") + std::strerror(errno) + "; pausing");
        ::poll(nullptr, 0, 100);  // out of descriptors: let connections finish
        continue;
      }
      return;
    }
    if (live_.load() >= options_.max_clients) {
      send_all(fd, format("", "ERROR", {"Closing Link: too many connections"}), [] { return true; });
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval send_tick{0, 200'000};  // see send_all
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_tick, sizeof send_tick);
    std::uint64_t id = ++accepted_;
    auto conn = std::make_shared<Connection>(fd, peer_host(addr), id, options_.sendq_lines);
    std::string name = "irc-" + std::to_string(id);
    conn->writer = std::make_unique<gilfree::Thread>(gilfree::Thread::Options{.name = name + "w"},
                                                     [this, c = conn.get()] { writer_loop(*c); });
    conn->reader = std::make_unique<gilfree::Thread>(gilfree::Thread::Options{.name = name + "r"},
                                                     [this, conn] { reader_loop(conn); });
    ++live_;
    state_.add(conn);
    if (options_.verbose) log("connection " + std::to_string(id) + " from " + conn->host);
    try {
      conn->reader->start();
      conn->launched.set();
    } catch (const std::exception& e) {  // no thread for it: refuse the connection
      log(std::string("cannot start a thread: ") + e.what());
      state_.remove(*conn, "Server busy");
      conn->reader.reset();
      conn->writer.reset();
      conn->launched.set();
      release(conn);
    }
  }
}

void Server::reader_loop(const std::shared_ptr<Connection>& conn) {
  Connection& c = *conn;
  bool writer_started = true;
  try {
    c.writer->start();
  } catch (const std::exception&) {
    writer_started = false;
    c.kill("Server busy", -1);
  }
  using clock = std::chrono::steady_clock;
  const auto interval = options_.ping_interval, timeout = options_.ping_timeout;
  const int tick = static_cast<int>(std::clamp<long long>(
      std::min(interval, timeout).count() / 4, 5, 1000));
  LineFramer framer;
  auto last_heard = clock::now();
  bool pinged = false;
  char buf[4096];
  while (!c.killed()) {
    pollfd p{c.fd, POLLIN, 0};
    int r = ::poll(&p, 1, tick);
    auto now = clock::now();
    if (r < 0 && errno != EINTR) {
      c.kill("Read error", -1);
      break;
    }
    if (r <= 0) {
      if (!pinged && now - last_heard >= interval) {
        c.send(format("", "PING", {options_.config.name}));
        pinged = true;
      } else if (pinged && now - last_heard >= interval + timeout) {
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - last_heard).count();
        c.kill("Ping timeout: " + std::to_string(secs) + " seconds", -1);
      }
      continue;
    }
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      c.kill(n == 0 ? "Remote host closed the connection" : "Read error", -1);
      break;
    }
    last_heard = now;
    pinged = false;
    framer.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    while (auto line = framer.next()) {
      if (options_.trace) log(std::to_string(c.id) + " <- " + *line);
      if (auto msg = parse(*line)) state_.handle(c, *msg);
      if (c.killed()) break;
    }
  }
  std::string reason = c.kill_reason();
  state_.remove(c, reason);
  if (options_.verbose) log("connection " + std::to_string(c.id) + " closed: " + reason);
  if (writer_started) {
    c.send(format("", "ERROR", {"Closing Link: " + c.host + " (" + reason + ")"}));
    c.sendq.shutdown();  // the writer sends what is queued, then ends
    c.writer->join(std::chrono::seconds(2));
    if (c.writer->is_alive()) {  // stuck in send() to a peer that does not read
      c.abandon = true;
      ::shutdown(c.fd, SHUT_RDWR);
      c.writer->join();
    }
  }
  release(conn);
}

void Server::writer_loop(Connection& c) {
  std::string batch;
  for (;;) {
    try {
      batch = c.sendq.get();
    } catch (const gilfree::ShutDown&) {
      return;
    }
    // Coalesce what else is queued: one send() for a burst of lines.
    while (batch.size() < 16 * 1024) {
      auto more = c.sendq.try_get();
      if (!more) break;
      batch += *more;
    }
    if (!send_all(c.fd, batch, [&] { return c.abandon.load(); })) {
      c.kill("Write error", SHUT_RDWR);
      return;
    }
  }
}

void Server::release(const std::shared_ptr<Connection>& conn) { dead_.put(conn); }

void Server::reap_loop() {
  for (;;) {
    std::shared_ptr<Connection> conn;
    try {
      conn = dead_.get();
    } catch (const gilfree::ShutDown&) {
      return;
    }
    conn->launched.wait();  // the acceptor is out of reader->start()
    if (conn->reader && conn->reader->ident()) conn->reader->join();  // it has put itself here
    conn->reader.reset();
    conn->writer.reset();
    conn.reset();  // closes the socket (the state dropped its reference already)
    std::scoped_lock g(live_lock_);
    if (--live_ == 0) all_released_.notify_all();
  }
}

}  // namespace irc
