// Connection, Pipe, wait, Listener/Client and CPython's authkey handshake
// (gilfree/multiprocessing/connection.hpp).
#include "gilfree/multiprocessing/connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "gilfree/detail/wait/spin.hpp"

namespace gilfree::multiprocessing {

namespace detail {

bool read_exact(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, std::min<std::size_t>(n - got, SSIZE_MAX));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw OSError("read", errno);
    }
    if (r == 0) {
      if (got == 0) return false;
      throw OSError("got end of file during message");
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

void write_all(int fd, const void* buf, std::size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    // send() with MSG_NOSIGNAL on sockets: a closed peer is an error, not a SIGPIPE.
    ssize_t w = ::send(fd, p, std::min<std::size_t>(n, SSIZE_MAX), MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) w = ::write(fd, p, std::min<std::size_t>(n, SSIZE_MAX));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw OSError(errno == EPIPE ? "broken pipe" : "write", errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

namespace {
// Reads a message's first `n` bytes (its header) into `buf`; false at end of file before
// any. It first tries without blocking for the house spin budget (a non-blocking recv per
// round, a pause and then yields between them, see detail/wait/spin.hpp), so a message
// arriving within what a wake-up costs is taken without this process going to sleep and
// its core idle: on a VM a sleeping reader's wake-up costs more than the peer's whole
// answer. A descriptor that is not a socket is polled instead.
bool read_message_header(int fd, void* buf, std::size_t n) {
  std::size_t got = 0;
  bool eof = false;
  if (gilfree::detail::spin_budget_ns() > 0) {  // one CPU: let the peer run
    auto policy = gilfree::detail::SpinPolicy::pause_then_yield();
    policy.polls_per_round = 1;
    bool socket = true;
    gilfree::detail::spin(policy, [&] {
      if (!socket) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 0) != 0;
      }
      ssize_t r = ::recv(fd, static_cast<char*>(buf) + got, n - got, MSG_DONTWAIT);
      if (r > 0) got += static_cast<std::size_t>(r);
      if (r == 0) eof = true;
      if (r < 0 && errno == ENOTSOCK) socket = false;
      return r >= 0 || (errno != EAGAIN && errno != EINTR && errno != ENOTSOCK);
    });
  }
  if (eof && got == 0) return false;
  if (got == n) return true;
  if (eof) throw OSError("got end of file during message");
  if (got == 0) return read_exact(fd, buf, n);
  if (!read_exact(fd, static_cast<char*>(buf) + got, n - got))
    throw OSError("got end of file during message");
  return true;
}

int poll_ms(const Deadline& d) {
  if (d.is_forever()) return -1;
  auto left = d.remaining();
  return static_cast<int>(std::min<long long>(
      (std::chrono::duration_cast<std::chrono::microseconds>(left).count() + 999) / 1000, INT_MAX));
}
}  // namespace

}  // namespace detail

// ---- Connection -----------------------------------------------------------------------

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    readable_ = o.readable_;
    writable_ = o.writable_;
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

int Connection::fileno() const {
  if (fd_ < 0) throw OSError("handle is closed");
  return fd_;
}

void Connection::check_readable() const {
  if (fd_ < 0) throw OSError("handle is closed");
  if (!readable_) throw OSError("connection is write-only");
}

void Connection::check_writable() const {
  if (fd_ < 0) throw OSError("handle is closed");
  if (!writable_) throw OSError("connection is read-only");
}

void Connection::send_bytes(std::string_view buf, std::size_t offset,
                            std::optional<std::size_t> size) {
  check_writable();
  if (offset > buf.size()) throw ValueError("offset is out of bounds");
  std::size_t n = size.value_or(buf.size() - offset);
  if (n > buf.size() - offset) throw ValueError("buffer length < offset + size");
  const char* data = buf.data() + offset;
  if (n > 0x7fffffff) {
    unsigned char hdr[12];
    std::uint32_t minus1 = htonl(0xffffffffu);
    std::memcpy(hdr, &minus1, 4);
    std::uint64_t len = n;
    for (int i = 0; i < 8; ++i) hdr[4 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
    detail::write_all(fd_, hdr, sizeof hdr);
    detail::write_all(fd_, data, n);
  } else if (n > 16384) {
    std::uint32_t len = htonl(static_cast<std::uint32_t>(n));
    detail::write_all(fd_, &len, 4);
    detail::write_all(fd_, data, n);
  } else {
    // One write for a small message, as CPython does (no Nagle delay between two).
    char tmp[4 + 16384];
    std::uint32_t len = htonl(static_cast<std::uint32_t>(n));
    std::memcpy(tmp, &len, 4);
    std::memcpy(tmp + 4, data, n);
    detail::write_all(fd_, tmp, 4 + n);
  }
}

std::string Connection::recv_bytes(std::optional<std::size_t> maxlength) {
  check_readable();
  std::uint32_t be = 0;
  if (!detail::read_message_header(fd_, &be, 4)) throw EOFError();
  std::int32_t small = static_cast<std::int32_t>(ntohl(be));
  std::uint64_t size = 0;
  if (small == -1) {
    unsigned char b[8];
    if (!detail::read_exact(fd_, b, 8)) throw OSError("got end of file during message");
    for (int i = 0; i < 8; ++i) size = (size << 8) | b[i];
  } else if (small < 0) {
    close();
    throw OSError("bad message length");
  } else {
    size = static_cast<std::uint64_t>(small);
  }
  if (maxlength && size > *maxlength) {
    // As CPython: a duplex connection stops being readable, a one-way one is closed.
    if (writable_)
      readable_ = false;
    else
      close();
    throw OSError("bad message length");
  }
  // Grow as bytes arrive, so a peer that announces a huge message and sends little
  // cannot make us allocate it.
  // The buffer doubles (from 4 MiB) as bytes come in, so an announced size costs at most
  // 4 MiB until the bytes arrive; smaller messages get one allocation.
  std::string out;
  std::uint64_t got = 0;
  while (got < size) {
    std::uint64_t chunk = std::min(size - got, std::max<std::uint64_t>(got, 4u << 20));
    out.resize(static_cast<std::size_t>(got + chunk));
    std::size_t n = static_cast<std::size_t>(chunk);
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::read(fd_, out.data() + got + done, n - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw OSError("read", errno);
      }
      if (r == 0) throw OSError("got end of file during message");
      done += static_cast<std::size_t>(r);
    }
    got += chunk;
  }
  return out;
}

std::size_t Connection::recv_bytes_into(std::span<std::byte> buf, std::size_t offset) {
  check_readable();
  if (offset > buf.size()) throw ValueError("offset is out of bounds");
  std::string msg = recv_bytes();
  if (msg.size() > buf.size() - offset) throw BufferTooShort(std::move(msg));
  std::memcpy(buf.data() + offset, msg.data(), msg.size());
  return msg.size();
}

bool Connection::poll(Timeout timeout) {
  check_readable();
  return !wait(std::vector<int>{fd_}, timeout).empty();
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw OSError("socketpair", errno);
    return {Connection(fds[0]), Connection(fds[1])};
  }
  if (::pipe2(fds, O_CLOEXEC) != 0) throw OSError("pipe", errno);
  return {Connection(fds[0], true, false), Connection(fds[1], false, true)};
}

std::vector<int> wait(const std::vector<int>& fds, Timeout timeout) {
  std::vector<pollfd> p(fds.size());
  for (std::size_t i = 0; i < fds.size(); ++i) p[i] = pollfd{fds[i], POLLIN, 0};
  Deadline d = timeout.deadline();
  for (;;) {
    int r = ::poll(p.data(), p.size(), detail::poll_ms(d));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw OSError("poll", errno);
    }
    std::vector<int> ready;
    for (const auto& q : p)
      if (q.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ready.push_back(q.fd);
    if (!ready.empty() || r == 0 || d.expired()) return ready;
  }
}

std::vector<Connection*> wait(const std::vector<Connection*>& conns, Timeout timeout) {
  std::vector<int> fds;
  for (auto* c : conns) fds.push_back(c->fileno());
  std::vector<int> ready = wait(fds, timeout);
  std::vector<Connection*> out;
  for (auto* c : conns)
    if (std::find(ready.begin(), ready.end(), c->fileno()) != ready.end()) out.push_back(c);
  return out;
}

// ---- the authkey handshake (CPython 3.12's, which also serves 3.11 peers) -------------

namespace {
constexpr std::string_view kChallenge = "#CHALLENGE#";
constexpr std::string_view kWelcome = "#WELCOME#";
constexpr std::string_view kFailure = "#FAILURE#";
constexpr std::size_t kMessageLength = 40;
constexpr std::size_t kMd5OnlyMessageLength = 20;
constexpr std::size_t kMd5DigestLen = 16;
constexpr std::size_t kMaxDigestLen = 8;  // "sha3_384"

const EVP_MD* digest_by_name(std::string_view name) {
  if (name == "md5") return EVP_md5();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha3_256") return EVP_sha3_256();
  if (name == "sha3_384") return EVP_sha3_384();
  return nullptr;
}

std::string hmac(std::string_view digest_name, std::string_view key, std::string_view msg) {
  const EVP_MD* md = digest_by_name(digest_name);
  if (!md) throw AuthenticationError("digest_name='" + std::string(digest_name) + "' unsupported");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(md, key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len))
    throw AuthenticationError("digest_name='" + std::string(digest_name) + "' unsupported");
  return std::string(reinterpret_cast<char*>(out), len);
}

// CPython's _get_digest_name_and_payload: "" means the legacy (MD5, no prefix) form.
std::pair<std::string, std::string_view> digest_name_and_payload(std::string_view message) {
  if (message.size() == kMd5OnlyMessageLength || message.size() == kMd5DigestLen)
    return {"", message};
  if (!message.empty() && message[0] == '{') {
    auto curly = message.substr(0, kMaxDigestLen + 2).find('}', 1);
    if (curly != std::string_view::npos) {
      std::string name(message.substr(1, curly - 1));
      if (digest_by_name(name)) return {name, message.substr(curly + 1)};
    }
  }
  throw AuthenticationError(
      "unsupported message length, missing digest prefix, or unsupported digest");
}

std::string create_response(std::string_view authkey, std::string_view message) {
  std::string name = digest_name_and_payload(message).first;
  if (name.empty()) return hmac("md5", authkey, message);  // a legacy server
  return "{" + name + "}" + hmac(name, authkey, message);
}

void verify_challenge(std::string_view authkey, std::string_view message,
                      std::string_view response) {
  auto [name, mac] = digest_name_and_payload(response);
  if (name.empty()) name = "md5";
  std::string expected = hmac(name, authkey, message);
  if (expected.size() != mac.size())
    throw AuthenticationError("expected '" + name + "' of length " +
                              std::to_string(expected.size()) + " got " +
                              std::to_string(mac.size()));
  if (CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) != 0)
    throw AuthenticationError("digest received was wrong");
}
}  // namespace

void deliver_challenge(Connection& conn, std::string_view authkey, std::string_view digest_name) {
  if (!digest_by_name(digest_name))
    throw ValueError("unsupported digest " + std::string(digest_name));
  unsigned char rnd[kMessageLength];
  if (RAND_bytes(rnd, sizeof rnd) != 1) throw OSError("RAND_bytes failed");
  std::string message = "{" + std::string(digest_name) + "}" +
                        std::string(reinterpret_cast<char*>(rnd), sizeof rnd);
  conn.send_bytes(std::string(kChallenge) + message);
  std::string response = conn.recv_bytes(256);
  try {
    verify_challenge(authkey, message, response);
  } catch (const AuthenticationError&) {
    conn.send_bytes(kFailure);
    throw;
  }
  conn.send_bytes(kWelcome);
}

void answer_challenge(Connection& conn, std::string_view authkey) {
  std::string message = conn.recv_bytes(256);
  if (message.compare(0, kChallenge.size(), kChallenge) != 0)
    throw AuthenticationError("Protocol error, expected challenge");
  std::string_view body = std::string_view(message).substr(kChallenge.size());
  if (body.size() < kMd5OnlyMessageLength)
    throw AuthenticationError("challenge too short: " + std::to_string(body.size()) + " bytes");
  conn.send_bytes(create_response(authkey, body));
  std::string response = conn.recv_bytes(256);
  if (response != kWelcome) throw AuthenticationError("digest sent was rejected");
}

// ---- Listener and Client --------------------------------------------------------------

namespace {
bool is_unix(const Address& a, const std::string& family) {
  if (family == "AF_UNIX") return true;
  if (family == "AF_INET") return false;
  if (!family.empty()) throw ValueError("unrecognized family " + family);
  return std::holds_alternative<std::string>(a);
}

socklen_t unix_addr(const std::string& path, sockaddr_un& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw OSError("AF_UNIX path too long");
  std::memcpy(sa.sun_path, path.data(), path.size());
  std::size_t len = offsetof(sockaddr_un, sun_path) + path.size();
  if (path.empty() || path[0] != '\0') len += 1;  // a filesystem path counts its NUL
  return static_cast<socklen_t>(len);
}

sockaddr_in inet_addr_of(const std::pair<std::string, int>& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(a.second));
  std::string host = a.first.empty() ? "0.0.0.0" : a.first;
  if (host == "localhost") host = "127.0.0.1";
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || !res) throw OSError("cannot resolve " + host + ": " + gai_strerror(rc));
    sa.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  return sa;
}

std::atomic<int> listener_counter{0};
}  // namespace

Listener::Listener(std::optional<Address> address, Options options)
    : authkey_(std::move(options.authkey)) {
  bool unix_family = address ? is_unix(*address, options.family)
                             : (options.family.empty() || options.family == "AF_UNIX");
  if (!address) {
    if (unix_family) {
      char dir[] = "/tmp/gilfree-XXXXXX";
      if (!::mkdtemp(dir)) throw OSError("mkdtemp", errno);
      address = std::string(dir) + "/listener-" + std::to_string(::getpid()) + "-" +
                std::to_string(listener_counter++);
    } else {
      address = std::pair<std::string, int>("127.0.0.1", 0);
    }
  }
  if (unix_family != std::holds_alternative<std::string>(*address))
    throw ValueError("address type does not match the family");
  fd_ = ::socket(unix_family ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw OSError("socket", errno);
  try {
    if (unix_family) {
      const auto& path = std::get<std::string>(*address);
      sockaddr_un sa;
      socklen_t len = unix_addr(path, sa);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0) throw OSError("bind", errno);
      unix_path_ = !path.empty() && path[0] != '\0';
      address_ = path;
    } else {
      int one = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      auto a = std::get<std::pair<std::string, int>>(*address);
      sockaddr_in sa = inet_addr_of(a);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        throw OSError("bind", errno);
      socklen_t len = sizeof sa;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
      char buf[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
      address_ = std::pair<std::string, int>(buf, ntohs(sa.sin_port));
    }
    if (::listen(fd_, options.backlog) != 0) throw OSError("listen", errno);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

Listener::~Listener() { close(); }

void Listener::close() noexcept {
  if (fd_ < 0) return;
  ::close(std::exchange(fd_, -1));
  if (unix_path_) {
    const auto& path = std::get<std::string>(address_);
    ::unlink(path.c_str());
    auto slash = path.rfind('/');
    if (slash != std::string::npos && path.compare(0, 13, "/tmp/gilfree-") == 0)
      ::rmdir(path.substr(0, slash).c_str());  // the directory we made; fails if not empty
  }
}

Connection Listener::accept() {
  if (fd_ < 0) throw OSError("listener is closed");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int c;
  do {
    c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  } while (c < 0 && errno == EINTR);
  if (c < 0) throw OSError("accept", errno);
  if (ss.ss_family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof buf);
    last_accepted_ = std::pair<std::string, int>(buf, ntohs(sa->sin_port));
  } else {
    last_accepted_.reset();
  }
  Connection conn(c);
  if (authkey_) {
    deliver_challenge(conn, *authkey_);
    answer_challenge(conn, *authkey_);
  }
  return conn;
}

Connection Client(const Address& address, ClientOptions options) {
  bool unix_family = is_unix(address, options.family);
  if (unix_family != std::holds_alternative<std::string>(address))
    throw ValueError("address type does not match the family");
  int fd = ::socket(unix_family ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError("socket", errno);
  Connection conn(fd);
  int rc;
  if (unix_family) {
    sockaddr_un sa;
    socklen_t len = unix_addr(std::get<std::string>(address), sa);
    do rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
    while (rc < 0 && errno == EINTR);
  } else {
    sockaddr_in sa = inet_addr_of(std::get<std::pair<std::string, int>>(address));
    do rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    while (rc < 0 && errno == EINTR);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (rc != 0) throw OSError("connect", errno);
  if (options.authkey) {
    answer_challenge(conn, *options.authkey);
    deliver_challenge(conn, *options.authkey);
  }
  return conn;
}

}  // namespace gilfree::multiprocessing
