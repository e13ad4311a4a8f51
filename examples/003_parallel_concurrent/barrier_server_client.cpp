// Seed 003, "Barriers": b = Barrier(2, timeout=5). The server starts (binds and listens on
// 127.0.0.1), then waits at the barrier; the client waits at the barrier before it connects,
// so it never connects to a server that is not up. Three connections go through.
// expect: Server started
// expect: client: 3 connections answered
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>

#include <gilfree/threading.hpp>

#include "seedkit.hpp"

gilfree::Barrier b(2, {}, 5.0);
std::atomic<int> port{0};
const int kConnections = 3;

int start_server() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  seedkit::check(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
  seedkit::check(::listen(fd, 8) == 0, "listen");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  std::cout << "Server started" << std::endl;
  return fd;
}

void server() {
  int listener = start_server();
  b.wait();
  for (int i = 0; i < kConnections; ++i) {  // while True: (three times here)
    int connection = ::accept(listener, nullptr, nullptr);  // accept_connection()
    const char reply[] = "hello from the server\n";          // process_server_connection
    ::send(connection, reply, sizeof reply - 1, MSG_NOSIGNAL);
    ::close(connection);
  }
  ::close(listener);
}

int client() {
  b.wait();
  int answered = 0;
  for (int i = 0; i < kConnections; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);  // make_connection()
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port.load()));
    seedkit::check(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                   "the server was up when the client connected");
    char buf[64] = {};
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, MSG_WAITALL);  // process_client_connection
    answered += n > 0 && std::string(buf).rfind("hello", 0) == 0;
    ::close(fd);
  }
  return answered;
}

int main() {
  int answered = 0;
  gilfree::Thread s(server);
  gilfree::Thread c([&] { answered = client(); });
  c.start();  // the client first: it must wait for the server anyway
  s.start();
  c.join();
  s.join();
  seedkit::check(answered == kConnections, "every connection answered");
  std::cout << "client: " << answered << " connections answered\n";
}
