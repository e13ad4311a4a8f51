// gilfree/multiprocessing/connection.hpp — multiprocessing.connection: Pipe, Connection,
// Listener, Client and wait.
//
//   auto [a, b] = mp::Pipe();                 // duplex: a socketpair
//   a.send(std::vector<int>{1, 2});           // cereal inside a frame
//   auto v = b.recv<std::vector<int>>();
//   a.send_bytes("raw");  b.recv_bytes();     // CPython's framing, byte for byte
//
//   mp::Listener l(mp::Address{"/tmp/sock"}, {.authkey = "secret"});
//   mp::Connection c = l.accept();            // the authkey handshake of CPython
//
// send_bytes/recv_bytes and the handshake are CPython's byte for byte (4-byte big-endian
// length, or -1 and an 8-byte length; HMAC challenge with 3.12's {digest} prefix, and the
// legacy HMAC-MD5 of 3.11 peers), so a C++ program and a Python program can talk through
// multiprocessing.connection. send/recv carry cereal frames, not pickles.
//
// A Connection is a Process argument under every start method, as in Python:
//
//   auto [parent_end, child_end] = mp::Pipe();
//   mp::Process p(worker, std::move(child_end));   // void worker(mp::Connection c)
//   p.start();                                     // closes the parent's child_end
//
// Under fork the child inherits it; under forkserver and spawn its descriptor travels with
// the start (detail/fd_passing.hpp). It cannot be sent through a pipe or a queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "../timeout.hpp"
#include "detail/fd_passing.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"

namespace gilfree::multiprocessing {

// One end of a pipe or socket, as multiprocessing.connection.Connection. Move-only; the
// destructor closes it. Methods on a closed connection raise OSError("handle is closed").
class Connection {
 public:
  // A closed connection (what a child decodes a passed connection into).
  Connection() noexcept = default;
  // Takes ownership of `fd`.
  explicit Connection(int fd, bool readable = true, bool writable = true) noexcept
      : fd_(fd), readable_(readable), writable_(writable) {}
  Connection(Connection&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), readable_(o.readable_), writable_(o.writable_) {}
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Sends `obj` as a frame: its type hash and its cereal encoding.
  template <serializable T>
  void send(const T& obj) {
    send_bytes(dumps(obj));
  }
  // Receives an object sent with send<T>; UnpicklingError when the message is not a T,
  // EOFError when the other end closed.
  template <serializable T>
  T recv() {
    return loads<T>(recv_bytes());
  }

  // Sends bytes [offset, offset + size) of `buf` as one message (size: to the end).
  // ValueError when the range is outside the buffer.
  void send_bytes(std::string_view buf, std::size_t offset = 0,
                  std::optional<std::size_t> size = std::nullopt);
  void send_bytes(std::span<const std::byte> buf, std::size_t offset = 0,
                  std::optional<std::size_t> size = std::nullopt) {
    send_bytes(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), offset,
               size);
  }
  // Receives one message. EOFError when the other end closed; OSError("bad message
  // length") when it is longer than `maxlength` (the connection is then closed, as
  // Python leaves it unusable).
  std::string recv_bytes(std::optional<std::size_t> maxlength = std::nullopt);
  // Receives one message into `buf` at `offset`; returns its size. BufferTooShort (with
  // the whole message) when it does not fit; ValueError when offset is past the end.
  std::size_t recv_bytes_into(std::span<std::byte> buf, std::size_t offset = 0);
  std::size_t recv_bytes_into(std::span<char> buf, std::size_t offset = 0) {
    return recv_bytes_into(std::as_writable_bytes(buf), offset);
  }
  // True when data (or EOF) is ready to read within `timeout` (default: do not block).
  bool poll(Timeout timeout = Timeout::zero());
  // Closes the connection; a second call does nothing.
  void close() noexcept;
  // True once close() was called.
  bool closed() const noexcept { return fd_ < 0; }
  // True when this end can receive.
  bool readable() const noexcept { return readable_; }
  // True when this end can send.
  bool writable() const noexcept { return writable_; }
  // The file descriptor; OSError when closed.
  int fileno() const;
  // Gives up ownership of the descriptor and returns it (the connection is then closed).
  int release() noexcept { return std::exchange(fd_, -1); }

  // The wire form: a Connection crosses only as an argument (or a field of a registered
  // Process subclass) of a Process started with forkserver or spawn, whose start passes
  // the descriptor to the child (the parent keeps its own); anywhere else, PicklingError.
  template <class Archive>
  void save(Archive& ar) const {
    std::int32_t index = detail::pass_fd(fileno(), "a Connection");
    ar(index, readable_, writable_);
  }
  // Takes the descriptor that this child's start passed; UnpicklingError when there is none.
  template <class Archive>
  void load(Archive& ar) {
    std::int32_t index = -1;
    bool readable = false, writable = false;
    ar(index, readable, writable);
    close();
    fd_ = detail::take_received_fd(index);
    readable_ = readable;
    writable_ = writable;
  }

 private:
  void check_readable() const;
  void check_writable() const;
  int fd_ = -1;
  bool readable_ = true;
  bool writable_ = true;
};

// A pair of connected Connections: duplex (a socketpair) by default, else the first is
// read-only and the second write-only (an os.pipe()), as multiprocessing.Pipe.
std::pair<Connection, Connection> Pipe(bool duplex = true);

// The file descriptors of `fds` that are ready (readable, or at end) within `timeout`, in
// the order given; empty when none became ready. Accepts connections' filenos, process
// sentinels and sockets, as multiprocessing.connection.wait.
std::vector<int> wait(const std::vector<int>& fds, Timeout timeout = {});
// The same over connections: the ones ready to recv (or at EOF).
std::vector<Connection*> wait(const std::vector<Connection*>& conns, Timeout timeout = {});

// A socket address: a path for AF_UNIX (a leading '\0' is Linux's abstract namespace) or
// (host, port) for AF_INET.
using Address = std::variant<std::string, std::pair<std::string, int>>;

// Keyword arguments of Listener.
struct ListenerOptions {
  // "AF_UNIX" or "AF_INET"; empty: from the address (AF_UNIX when there is none).
  std::string family = {};
  // listen()'s backlog.
  int backlog = 1;
  // When set, every accepted connection runs the authkey handshake.
  std::optional<std::string> authkey = {};
};

// A listening socket, as multiprocessing.connection.Listener. Closes (and unlinks its
// AF_UNIX path) on destruction.
class Listener {
 public:
  using Options = ListenerOptions;
  // Binds and listens on `address` (none: a fresh AF_UNIX path in a temporary directory,
  // or 127.0.0.1 with a free port for AF_INET). OSError when the address is taken.
  explicit Listener(std::optional<Address> address = std::nullopt, Options options = {});
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();
  // Waits for a connection and, with an authkey, authenticates it (AuthenticationError
  // when the peer's key differs).
  Connection accept();
  // Closes the listening socket; a second call does nothing.
  void close() noexcept;
  // The bound address (AF_INET: with the port chosen).
  const Address& address() const noexcept { return address_; }
  // The address of the last accepted peer (AF_INET), or none.
  std::optional<Address> last_accepted() const { return last_accepted_; }
  // The listening socket's descriptor.
  int fileno() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  Address address_;
  bool unix_path_ = false;
  std::optional<std::string> authkey_;
  std::optional<Address> last_accepted_;
};

// Keyword arguments of Client.
struct ClientOptions {
  // "AF_UNIX" or "AF_INET"; empty: from the address.
  std::string family = {};
  // When set, the connection runs the authkey handshake.
  std::optional<std::string> authkey = {};
};

// Connects to a Listener (gilfree's or CPython's), as multiprocessing.connection.Client.
Connection Client(const Address& address, ClientOptions options = {});

// CPython's deliver_challenge: sends a challenge ({digest} prefixed, 40 random bytes) and
// checks the answer (a legacy HMAC-MD5 answer of a 3.11 peer is accepted).
// AuthenticationError when it is wrong.
void deliver_challenge(Connection& conn, std::string_view authkey,
                       std::string_view digest_name = "sha256");
// CPython's answer_challenge: answers a challenge (legacy or {digest}) and checks that it
// was accepted. AuthenticationError when rejected.
void answer_challenge(Connection& conn, std::string_view authkey);

namespace detail {
// Reads exactly n bytes; false on EOF before any byte; OSError on EOF mid-way or error.
bool read_exact(int fd, void* buf, std::size_t n);
// Writes all n bytes; OSError on error.
void write_all(int fd, const void* buf, std::size_t n);
}  // namespace detail

}  // namespace gilfree::multiprocessing
