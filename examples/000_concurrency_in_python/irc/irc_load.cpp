// Load generator for the IRC server (issue 13): N clients on gilfree threads, spread over
// C channels, together send M channel messages; every client checks that it got every
// line of every other member of its channel exactly once and in order per sender.
//
//   irc_load --port P [--host 127.0.0.1] [--clients 500] [--channels 50]
//            [--messages 100000] [--window 50] [--server-pid PID] [--timeout 120]
//
// A client sends its share in windows of --window lines followed by a PING, and sends the
// next window when the PONG is back (the server has taken the lines). Prints one
// "RESULT key=value ..." line (rate, deliveries, losses; with --server-pid also the
// server's threads and resident memory) and exits 0 only when nothing was lost.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gilfree/threading.hpp>

#include "message.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 6667;
  int clients = 500, channels = 50;
  long messages = 100000;
  int window = 50;
  int server_pid = 0;
  int timeout_s = 120;
};

std::string proc_field(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "?";
}

struct Shared {
  Options o;
  gilfree::Barrier joined;   // everyone registered and in its channel
  std::atomic<long> deliveries{0}, errors{0};
  std::atomic<bool> failed{false};  // one client failed: the rest stop instead of timing out
  clock_type::time_point deadline;
  explicit Shared(const Options& opt)
      : o(opt), joined(static_cast<std::size_t>(opt.clients) + 1) {}
};

class LoadClient {
 public:
  LoadClient(Shared& s, int index) : s_(s), i_(index) {}

  void run() {
    try {
      body();
    } catch (const std::exception& e) {
      ++s_.errors;
      if (!s_.failed.exchange(true)) std::cerr << "client " << i_ << ": " << e.what() << "\n";
      s_.joined.abort();
    }
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  void fail(const std::string& what) { throw std::runtime_error(what); }

  void send(const std::string& data) {
    for (std::size_t sent = 0; sent < data.size();) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) fail("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  // Reads and handles lines until `done()` or the deadline.
  template <class Done>
  void pump(Done done) {
    char buf[16384];
    while (!done()) {
      if (clock_type::now() > s_.deadline) fail("timed out");
      if (s_.failed.load()) fail("another client failed");
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) fail("server closed the connection");
      framer_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      while (auto line = framer_.next()) on_line(*line);
    }
  }

  void on_line(const std::string& line) {
    auto m = irc::parse(line);
    if (!m) return;
    if (m->command == "PRIVMSG") {
      // "<sender> <seq>": exactly the next one from that sender
      const std::string& text = m->param(1);
      int sender = std::atoi(text.c_str());
      long seq = std::atol(text.c_str() + text.find(' ') + 1);
      if (sender < 0 || sender >= s_.o.clients || sender % s_.o.channels != i_ % s_.o.channels ||
          sender == i_) {
        ++s_.errors;
      } else {
        long& last = next_seq_[static_cast<std::size_t>(sender)];
        if (seq != last) ++s_.errors;
        last = seq + 1;
      }
      ++received_;
      ++s_.deliveries;
    } else if (m->command == "PONG") {
      pending_pong_ = false;
    } else if (m->command == "PING") {
      send("PONG :" + m->param(0) + "\r\n");
    } else if (m->command == "001") {
      registered_ = true;
    } else if (m->command == "366") {
      in_channel_ = true;
    } else if (m->command == "ERROR") {
      fail("ERROR " + m->param(0));
    }
  }

  void body() {
    const Options& o = s_.o;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);
    addr.sin_port = htons(static_cast<uint16_t>(o.port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    next_seq_.assign(static_cast<std::size_t>(o.clients), 0);
    const std::string nick = "load" + std::to_string(i_);
    const std::string channel = "#load" + std::to_string(i_ % o.channels);
    send("NICK " + nick + "\r\nUSER l 0 * :load\r\n");
    pump([&] { return registered_; });
    send("JOIN " + channel + "\r\n");
    pump([&] { return in_channel_; });
    s_.joined.wait(std::chrono::seconds(o.timeout_s));  // all in place: the clock starts

    // My share, and what I must receive: every other member's share.
    auto share = [&](int k) { return o.messages / o.clients + (k < o.messages % o.clients ? 1 : 0); };
    const long mine = share(i_);
    long expected = 0;
    for (int k = i_ % o.channels; k < o.clients; k += o.channels)
      if (k != i_) expected += share(k);
    const std::string prefix = "PRIVMSG " + channel + " :" + std::to_string(i_) + " ";
    long seq = 0;
    std::string batch;
    while (seq < mine || pending_pong_ || received_ < expected) {
      if (!pending_pong_ && seq < mine) {
        batch.clear();
        for (int w = 0; w < o.window && seq < mine; ++w, ++seq)
          batch += prefix + std::to_string(seq) + "\r\n";
        batch += "PING :w\r\n";
        pending_pong_ = true;
        send(batch);
      }
      long before = received_;
      bool waiting_pong = pending_pong_;
      pump([&] { return received_ != before || (waiting_pong && !pending_pong_) ||
                        (seq >= mine && !pending_pong_ && received_ >= expected); });
    }
    if (received_ != expected) ++s_.errors;
    for (std::size_t k = 0; k < next_seq_.size(); ++k)
      if (int(k) % o.channels == i_ % o.channels && int(k) != i_ && next_seq_[k] != share(int(k)))
        ++s_.errors;  // a sender's tail went missing
    send("QUIT :done\r\n");
  }

  Shared& s_;
  const int i_;
  int fd_ = -1;
  irc::LineFramer framer_;
  bool registered_ = false, in_channel_ = false, pending_pong_ = false;
  long received_ = 0;
  std::vector<long> next_seq_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = std::atoi(v.c_str());
    else if (a == "--clients") o.clients = std::atoi(v.c_str());
    else if (a == "--channels") o.channels = std::atoi(v.c_str());
    else if (a == "--messages") o.messages = std::atol(v.c_str());
    else if (a == "--window") o.window = std::atoi(v.c_str());
    else if (a == "--server-pid") o.server_pid = std::atoi(v.c_str());
    else if (a == "--timeout") o.timeout_s = std::atoi(v.c_str());
    else {
      std::cerr << "irc_load: unknown option " << a << "\n";
      return 2;
    }
  }
  if (o.clients < 2 || o.channels < 1 || o.channels > o.clients || o.messages < 1) {
    std::cerr << "irc_load: need clients >= 2, 1 <= channels <= clients, messages >= 1\n";
    return 2;
  }
  Shared s(o);
  s.deadline = clock_type::now() + std::chrono::seconds(o.timeout_s);
  std::deque<LoadClient> clients;
  std::deque<gilfree::Thread> threads;
  for (int i = 0; i < o.clients; ++i) {
    clients.emplace_back(s, i);
    threads.emplace_back(gilfree::Thread::Options{.name = "load" + std::to_string(i)},
                         [c = &clients.back()] { c->run(); });
  }
  auto t0 = clock_type::now();
  for (auto& t : threads) t.start();
  bool ok = true;
  try {
    s.joined.wait(std::chrono::seconds(o.timeout_s));
  } catch (const std::exception&) {
    ok = false;
  }
  auto t1 = clock_type::now();
  std::string server_threads = "?", server_rss = "?";
  if (o.server_pid) {
    server_threads = proc_field(o.server_pid, "Threads");
    server_rss = proc_field(o.server_pid, "VmRSS");
  }
  for (auto& t : threads) t.join();
  auto t2 = clock_type::now();
  std::string server_hwm = o.server_pid ? proc_field(o.server_pid, "VmHWM") : "?";
  double connect_s = std::chrono::duration<double>(t1 - t0).count();
  double run_s = std::chrono::duration<double>(t2 - t1).count();
  long deliveries = s.deliveries.load();
  std::cout << "RESULT clients=" << o.clients << " channels=" << o.channels
            << " messages=" << o.messages << " deliveries=" << deliveries
            << " errors=" << s.errors.load() << " connect_s=" << connect_s
            << " run_s=" << run_s << " msgs_per_s=" << static_cast<long>(o.messages / run_s)
            << " deliveries_per_s=" << static_cast<long>(deliveries / run_s)
            << " server_threads=" << server_threads << " server_rss=\"" << server_rss
            << "\" server_peak_rss=\"" << server_hwm << "\"" << std::endl;
  return ok && s.errors.load() == 0 ? 0 : 1;
}
