#include "client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include <gilfree/threading.hpp>

#include "casemap.hpp"
#include "message.hpp"

namespace irc {

namespace {

int connect_to(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  return fd;
}

std::string nick_of(const std::string& prefix) { return prefix.substr(0, prefix.find('!')); }

// Everything both threads share; each part under its own lock.
class Session {
 public:
  Session(const ClientOptions& o, int fd, std::ostream& out) : options_(o), fd_(fd), out_(out) {
    nick_ = o.nick;
  }

  // One line to the server (CRLF added); false once the socket is gone.
  bool send(const std::string& command, const std::vector<std::string>& params) {
    std::string line = format("", command, params, command == "PRIVMSG" || command == "QUIT" ||
                                                       command == "PART" || command == "TOPIC" ||
                                                       command == "USER");
    std::scoped_lock g(send_lock_);
    for (std::size_t sent = 0; sent < line.size();) {
      ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool send_raw(const std::string& raw) {
    auto m = parse(raw);
    if (!m) return true;
    return send(m->command, m->params);
  }

  // One line to the screen.
  void print(const std::string& line) {
    std::scoped_lock g(print_lock_);
    out_ << line << std::endl;
  }

  std::string channel() {
    std::scoped_lock g(state_lock_);
    return channel_;
  }
  void set_channel(const std::string& c) {
    std::scoped_lock g(state_lock_);
    channel_ = c;
  }
  std::string nick() {
    std::scoped_lock g(state_lock_);
    return nick_;
  }
  void set_nick(const std::string& n) {
    std::scoped_lock g(state_lock_);
    nick_ = n;
  }

  // The net thread: read, answer PING, show.
  void net_loop() {
    LineFramer framer;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      framer.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      while (auto line = framer.next())
        if (auto m = parse(*line)) on_message(*m);
    }
    net_done_.set();
    char wake = 1;
    [[maybe_unused]] auto r = ::write(wake_[1], &wake, 1);
  }

  // The terminal thread: commands until /quit, end of input, or the server closing.
  void tty_loop(int in_fd) {
    LineFramer framer;
    char buf[1024];
    for (;;) {
      pollfd p[2] = {{in_fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[1].revents) return;  // the connection is gone
      ssize_t n = ::read(in_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // end of input: leave politely
        quit("EOF");
        return;
      }
      framer.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      while (auto line = framer.next())
        if (!on_input(*line)) return;
    }
  }

  bool quit(const std::string& message) {
    user_quit_ = true;
    send("QUIT", {message});
    // The server answers with ERROR and closes; do not wait for it forever.
    if (!net_done_.wait(std::chrono::seconds(5))) ::shutdown(fd_, SHUT_RDWR);
    return false;
  }

  bool user_quit() const { return user_quit_.load(); }
  int wake_fd(int i) { return wake_[i]; }
  bool open_wake_pipe() { return ::pipe2(wake_, O_CLOEXEC) == 0; }
  void close_wake_pipe() {
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

 private:
  // What to do with a line typed by the user; false to stop reading.
  bool on_input(const std::string& line) {
    if (line.empty()) return true;
    if (line[0] != '/') {
      std::string chan = channel();
      if (chan.empty()) {
        print("-!- you are not on a channel: /join #channel first");
        return true;
      }
      send("PRIVMSG", {chan, line});
      print("[" + chan + "] <" + nick() + "> " + line);
      return true;
    }
    auto space = line.find(' ');
    std::string cmd = line.substr(1, space == std::string::npos ? std::string::npos : space - 1);
    std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    for (char& c : cmd) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto first_word = [&](std::string& word) {
      auto sp = rest.find(' ');
      word = rest.substr(0, sp);
      rest = sp == std::string::npos ? "" : rest.substr(sp + 1);
    };
    std::string arg;
    if (cmd == "quit") return quit(rest.empty() ? "leaving" : rest);
    if (cmd == "join") {
      first_word(arg);
      if (arg.empty()) return print("-!- usage: /join #channel [key]"), true;
      std::vector<std::string> params = {arg};
      if (!rest.empty()) params.push_back(rest);
      send("JOIN", params);
      set_channel(arg);
    } else if (cmd == "part") {
      if (!rest.empty() && is_channel_name(rest)) first_word(arg);
      else arg = channel();
      if (arg.empty()) return print("-!- usage: /part [#channel] [message]"), true;
      std::vector<std::string> params = {arg};
      if (!rest.empty()) params.push_back(rest);
      send("PART", params);
      if (casefold(arg) == casefold(channel())) set_channel("");
    } else if (cmd == "msg") {
      first_word(arg);
      if (arg.empty() || rest.empty()) return print("-!- usage: /msg target text"), true;
      send("PRIVMSG", {arg, rest});
      print("-> *" + arg + "* " + rest);
    } else if (cmd == "nick") {
      first_word(arg);
      if (arg.empty()) return print("-!- usage: /nick newnick"), true;
      send("NICK", {arg});
    } else if (cmd == "topic") {
      if (!rest.empty() && is_channel_name(rest)) first_word(arg);
      else arg = channel();
      if (arg.empty()) return print("-!- usage: /topic [#channel] [text]"), true;
      if (rest.empty()) send("TOPIC", {arg});
      else send("TOPIC", {arg, rest});
    } else if (cmd == "names") {
      first_word(arg);
      if (arg.empty()) arg = channel();
      send("NAMES", arg.empty() ? std::vector<std::string>{} : std::vector<std::string>{arg});
    } else if (cmd == "quote" || cmd == "raw") {
      send_raw(rest);
    } else {
      print("-!- unknown command /" + cmd +
            " (try /join /part /msg /nick /topic /names /quote /quit)");
    }
    return true;
  }

  // What to do with a line from the server.
  void on_message(const Message& m) {
    const std::string who = nick_of(m.prefix);
    const std::string& c = m.command;
    const std::string last = m.params.empty() ? "" : m.params.back();
    if (c == "PING") {
      send("PONG", {m.param(0)});
    } else if (c == "PRIVMSG" || c == "NOTICE") {
      const std::string& target = m.param(0);
      bool to_me = casefold(target) == casefold(nick());
      if (c == "NOTICE") print("-" + (who.empty() ? m.prefix : who) + "- " + m.param(1));
      else if (to_me) print("*" + who + "* " + m.param(1));
      else print("[" + target + "] <" + who + "> " + m.param(1));
    } else if (c == "JOIN") {
      print("-!- " + who + " has joined " + m.param(0));
    } else if (c == "PART") {
      print("-!- " + who + " has left " + m.param(0) + (m.params.size() > 1 ? " (" + m.param(1) + ")" : ""));
    } else if (c == "QUIT") {
      print("-!- " + who + " has quit (" + m.param(0) + ")");
    } else if (c == "NICK") {
      if (casefold(who) == casefold(nick())) set_nick(m.param(0));
      print("-!- " + who + " is now known as " + m.param(0));
    } else if (c == "TOPIC") {
      print("-!- " + who + " changed the topic of " + m.param(0) + " to: " + m.param(1));
    } else if (c == "KICK") {
      if (casefold(m.param(1)) == casefold(nick()) && casefold(m.param(0)) == casefold(channel()))
        set_channel("");
      print("-!- " + m.param(1) + " was kicked from " + m.param(0) + " by " + who + " (" + m.param(2) + ")");
    } else if (c == "MODE") {
      std::string change;
      for (std::size_t i = 1; i < m.params.size(); ++i) change += (i > 1 ? " " : "") + m.params[i];
      print("-!- mode/" + m.param(0) + " [" + change + "] by " + who);
    } else if (c == "INVITE") {
      print("-!- " + who + " invites you to " + m.param(1));
    } else if (c == "ERROR") {
      print("-!- ERROR: " + last);
    } else if (c == "433" && !registered_) {  // nick taken while registering: try another
      std::string next = nick() + "_";
      set_nick(next);
      print("-!- nick in use, trying " + next);
      send("NICK", {next});
    } else if (c == "001") {
      registered_ = true;
      if (!m.params.empty()) set_nick(m.params[0]);
      print("-!- " + last);
    } else if (c == "332") {
      print("-!- Topic for " + m.param(1) + ": " + m.param(2));
    } else if (c == "353") {
      print("-!- Names " + m.param(2) + ": " + m.param(3));
    } else if (c.size() == 3 && c[0] >= '4' && c[0] <= '5') {
      std::string text;
      for (std::size_t i = 1; i < m.params.size(); ++i) text += (i > 1 ? " " : "") + m.params[i];
      print("-!- error " + c + ": " + text);
    } else if (c.size() == 3 && std::isdigit(static_cast<unsigned char>(c[0]))) {
      if (c == "333" || c == "366" || c == "329") return;  // bookkeeping, not for people
      print("-!- " + last);
    } else {
      print("-!- " + m.prefix + " " + c + " " + last);
    }
  }

  const ClientOptions& options_;
  const int fd_;
  std::ostream& out_;
  gilfree::Lock send_lock_, print_lock_, state_lock_;
  std::string nick_, channel_;  // under state_lock_
  std::atomic<bool> registered_{false}, user_quit_{false};
  gilfree::Event net_done_;
  int wake_[2] = {-1, -1};
};

}  // namespace

int run_client(const ClientOptions& options, int in_fd, std::ostream& out) {
  int fd = connect_to(options.host, options.port);
  if (fd < 0) {
    out << "-!- cannot connect to " << options.host << ":" << options.port << ": "
        << std::strerror(errno) << std::endl;
    return 1;
  }
  Session session(options, fd, out);
  if (!session.open_wake_pipe()) {
    ::close(fd);
    return 1;
  }
  session.print("-!- connected to " + options.host + ":" + std::to_string(options.port));
  if (!options.password.empty()) session.send("PASS", {options.password});
  session.send("NICK", {options.nick});
  session.send("USER", {options.user, "0", "*", options.realname});
  {
    gilfree::Thread net({.name = "irc-net"}, [&] { session.net_loop(); });
    gilfree::Thread tty({.name = "irc-tty"}, [&] { session.tty_loop(in_fd); });
    net.start();
    tty.start();
    tty.join();
    net.join();  // after /quit: bounded (quit() shuts the socket after 5 s)
  }
  session.close_wake_pipe();
  ::close(fd);
  if (!session.user_quit()) session.print("-!- connection closed by the server");
  return session.user_quit() ? 0 : 1;
}

}  // namespace irc
