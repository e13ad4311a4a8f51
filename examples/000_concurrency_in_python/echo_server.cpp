// Seed 000, project idea 1: an echo server using Thread — one thread per connection — on
// 127.0.0.1 at a port the OS picks, and clients (threads too) that check every echo.
//   echo_server [clients=8] [lines=200]
// args: 8 200
// expect: 8 clients got all 1600 lines echoed back
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

// Reads one '\n'-terminated line; false at end of stream.
bool read_line(int fd, std::string& buffer, std::string& line) {
  for (;;) {
    if (auto nl = buffer.find('\n'); nl != std::string::npos) {
      line = buffer.substr(0, nl + 1);
      buffer.erase(0, nl + 1);
      return true;
    }
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

void send_all(int fd, const std::string& data) {
  for (std::size_t sent = 0; sent < data.size();) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    seedkit::check(n > 0, "send");
    sent += static_cast<std::size_t>(n);
  }
}

class EchoServer {
 public:
  EchoServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // the OS picks
    seedkit::check(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
    seedkit::check(::listen(listener_, 64) == 0, "listen");
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_.start();
  }
  // Stops accepting, then waits for every connection's thread.
  ~EchoServer() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    ::close(listener_);
    for (auto& t : handlers_) t.join();
  }
  int port() const { return port_; }
  long connections() const { return connections_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      int conn = ::accept(listener_, nullptr, nullptr);
      if (conn < 0) return;  // shut down
      ++connections_;
      // A thread per connection, named after it.
      handlers_.emplace_back(gilfree::Thread::Options{.name = "echo-" + std::to_string(conn)},
                             &EchoServer::handle, conn);
      handlers_.back().start();
    }
  }
  static void handle(int conn) {
    std::string buffer, line;
    while (read_line(conn, buffer, line)) send_all(conn, line);
    ::close(conn);
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<long> connections_{0};
  std::deque<gilfree::Thread> handlers_;  // touched by the acceptor only, until it is joined
  gilfree::Thread acceptor_{gilfree::Thread::Options{.name = "acceptor"}, [this] { accept_loop(); }};
};

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 8;
  const int lines = argc > 2 ? std::atoi(argv[2]) : 200;
  std::atomic<long> echoed{0};
  {
    EchoServer server;
    std::cout << "echo server on 127.0.0.1:" << server.port() << '\n';
    auto client = [&](int id) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(server.port()));
      seedkit::check(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
      std::string buffer, reply;
      for (int i = 0; i < lines; ++i) {
        std::string msg = "client " + std::to_string(id) + " line " + std::to_string(i) + "\n";
        send_all(fd, msg);
        seedkit::check(read_line(fd, buffer, reply), "the server answered");
        seedkit::check(reply == msg, "the echo is what was sent");
        ++echoed;
      }
      ::close(fd);
    };
    std::deque<gilfree::Thread> threads;
    for (int i = 0; i < clients; ++i) threads.emplace_back(client, i);
    for (auto& t : threads) t.start();
    for (auto& t : threads) t.join();
    seedkit::check(server.connections() == clients, "one connection per client");
  }
  seedkit::check(echoed == long(clients) * lines, "every line echoed");
  std::cout << clients << " clients got all " << echoed << " lines echoed back\n";
}
