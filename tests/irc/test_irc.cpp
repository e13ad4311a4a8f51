// Tests of the IRC server of examples/000_concurrency_in_python/irc: the parser, framer
// and casemapping, then the protocol over real loopback sockets against a Server in this
// process — registration, the numerics, channel modes, slow and hostile clients — and
// that a stopped server leaves no thread and no descriptor behind.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <gilfree/threading.hpp>

#include "casemap.hpp"
#include "message.hpp"
#include "server.hpp"

using namespace std::chrono_literals;

namespace {

// ---- the pure parts -------------------------------------------------------------------

TEST(IrcCasemap, RfcBracketsAreCaseOfBraces) {
  EXPECT_EQ(irc::casefold("Nick[A]\\^"), "nick{a}|~");
  EXPECT_EQ(irc::casefold("#Chan"), irc::casefold("#cHAN"));
  EXPECT_NE(irc::casefold("a"), irc::casefold("b"));
}

TEST(IrcCasemap, NickAndChannelSyntax) {
  EXPECT_TRUE(irc::valid_nick("alice"));
  EXPECT_TRUE(irc::valid_nick("[bot]_1-x"));
  EXPECT_FALSE(irc::valid_nick(""));
  EXPECT_FALSE(irc::valid_nick("1abc"));
  EXPECT_FALSE(irc::valid_nick("-abc"));
  EXPECT_FALSE(irc::valid_nick("a b"));
  EXPECT_FALSE(irc::valid_nick("a!b"));
  EXPECT_FALSE(irc::valid_nick(std::string(31, 'a')));
  EXPECT_TRUE(irc::valid_channel("#a"));
  EXPECT_TRUE(irc::valid_channel("&local"));
  EXPECT_FALSE(irc::valid_channel("#"));
  EXPECT_FALSE(irc::valid_channel("nochan"));
  EXPECT_FALSE(irc::valid_channel("#a,b"));
  EXPECT_FALSE(irc::valid_channel("#a\x07"));
  EXPECT_FALSE(irc::valid_channel("#" + std::string(50, 'x')));
}

TEST(IrcMessage, ParsesPrefixCommandParamsAndTrailing) {
  auto m = irc::parse(":nick!u@h privmsg #chan :hello  world :)");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->prefix, "nick!u@h");
  EXPECT_EQ(m->command, "PRIVMSG");
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[0], "#chan");
  EXPECT_EQ(m->params[1], "hello  world :)");
  m = irc::parse("USER  guest 0 *   :Real Name");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params, (std::vector<std::string>{"guest", "0", "*", "Real Name"}));
  m = irc::parse("PING :");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params, (std::vector<std::string>{""}));
  EXPECT_FALSE(irc::parse(""));
  EXPECT_FALSE(irc::parse("   "));
  EXPECT_FALSE(irc::parse(":prefix-only"));
  // RFC 1459 §2.3: at most 15 parameters; the 15th takes the rest of the line.
  m = irc::parse("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->params.size(), 15u);
  EXPECT_EQ(m->params[14], "15 16 17");
  m = irc::parse(std::string("NICK a\0b", 8));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params, (std::vector<std::string>{"a"}));
}

TEST(IrcMessage, FormatsAndCapsAt512) {
  EXPECT_EQ(irc::format("srv", "001", {"nick", "Welcome here"}), ":srv 001 nick :Welcome here\r\n");
  EXPECT_EQ(irc::format("", "PING", {"x"}), "PING x\r\n");
  EXPECT_EQ(irc::format("", "TOPIC", {"#c", ""}), "TOPIC #c :\r\n");
  EXPECT_EQ(irc::format("", "PRIVMSG", {"#c", ":)"}), "PRIVMSG #c ::)\r\n");
  std::string big = irc::format("p", "PRIVMSG", {"#c", std::string(1000, 'x')});
  EXPECT_EQ(big.size(), irc::kMaxLine);
  EXPECT_EQ(big.substr(big.size() - 2), "\r\n");
  EXPECT_EQ(irc::format("", "PRIVMSG", {"#c", "a\r\nQUIT"}), "PRIVMSG #c :aQUIT\r\n");
  EXPECT_EQ(irc::format("n", "MODE", {"#c", "+kl", "key", "5"}, false), ":n MODE #c +kl key 5\r\n");
}

TEST(IrcMessage, FramerSplitsCrlfAndBareLfAndCutsLongLines) {
  irc::LineFramer f;
  f.feed("NICK a\r\nUSER b");
  EXPECT_EQ(f.next(), "NICK a");
  EXPECT_FALSE(f.next());
  f.feed(" 0 * :x\nPING 1\r");
  EXPECT_EQ(f.next(), "USER b 0 * :x");
  EXPECT_FALSE(f.next());
  f.feed("\n");
  EXPECT_EQ(f.next(), "PING 1");
  // A 10k-byte line in small pieces: one 510-byte line comes out, the rest is dropped.
  std::string huge = "PRIVMSG #c :" + std::string(10'000, 'y') + "\r\nPING 2\r\n";
  for (std::size_t i = 0; i < huge.size(); i += 700) f.feed(std::string_view(huge).substr(i, 700));
  auto cut = f.next();
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->size(), irc::kMaxLine - 2);
  EXPECT_EQ(f.next(), "PING 2");
  EXPECT_EQ(f.truncated(), 1u);
  EXPECT_EQ(irc::split_commas("#a,,#b,"), (std::vector<std::string>{"#a", "#b"}));
}

// ---- a test client over a loopback socket ---------------------------------------------

// A raw IRC connection for tests: send lines, wait (bounded) for a line matching a regex.
class Peer {
 public:
  explicit Peer(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ADD_FAILURE() << "connect";
  }
  ~Peer() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  void raw(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  void send(const std::string& line) { raw(line + "\r\n"); }
  // The next line (without CRLF), or nullopt after `timeout` or at end of stream.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find("\r\n"); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) eof_ = true;
      else buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Reads until a line matches `pattern`; fails the test (and returns "") on timeout.
  std::string expect(const std::string& pattern, std::chrono::milliseconds timeout = 5s) {
    std::regex re(pattern);
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto l = line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!l) break;
      if (std::regex_search(*l, re)) return *l;
      seen += "  " + *l + "\n";
    }
    ADD_FAILURE() << "no line matching /" << pattern << "/; saw:\n" << seen;
    return "";
  }
  // True when the server closed the connection within `timeout` (lines before are skipped).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && std::chrono::steady_clock::now() < deadline) {
      buf_.clear();
      line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    }
    return eof_;
  }
  // Registers as `nick` and waits for the end of the welcome burst.
  void login(const std::string& nick) {
    send("NICK " + nick);
    send("USER " + nick + " 0 * :Test " + nick);
    expect(" 001 " + nick + " ");
    expect(" (376|422) ");
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// The server's threads still alive: gilfree names OS threads after their Thread, and
// every server thread is "irc-..." (a sanitizer's own helper threads are not counted).
std::size_t count_server_threads() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string name;
      std::getline(comm, name);
      if (name.rfind("irc-", 0) == 0) ++n;
    }
    ::closedir(d);
  }
  return n;
}

// A server on a free loopback port for one test; on destruction it stops and the test
// checks that every thread and descriptor it made is gone.
class IrcServer : public ::testing::Test {
 protected:
  void start(irc::ServerOptions options = {}) {
    ASSERT_EQ(count_server_threads(), 0u);
    fds_before_ = count_entries("/proc/self/fd");
    options.port = 0;
    options.verbose = std::getenv("IRC_TEST_VERBOSE") != nullptr;
    if (options.config.motd.empty()) options.config.motd = {"be nice"};
    server_ = std::make_unique<irc::Server>(options);
    server_->start();
    EXPECT_GE(count_server_threads(), 2u);  // acceptor and reaper: the leak check can see them
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    EXPECT_EQ(server_->live(), 0u);
    server_.reset();
    // The thread count can lag a joined thread's exit by a moment; give it a bounded wait.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (count_server_threads() > 0 && std::chrono::steady_clock::now() < deadline)
      ::poll(nullptr, 0, 10);
    EXPECT_EQ(count_server_threads(), 0u) << "threads leaked";
    EXPECT_EQ(count_entries("/proc/self/fd"), fds_before_) << "descriptors leaked";
  }
  int port() const { return server_->port(); }
  std::unique_ptr<irc::Server> server_;
  std::size_t fds_before_ = 0;
};

TEST_F(IrcServer, RegistersWithWelcomeLusersAndMotd) {
  start();
  Peer a(port());
  a.send("NICK alice");
  a.send("USER al 0 * :Alice Liddell");
  EXPECT_NE(a.expect(" 001 alice "), "");
  a.expect(" 002 alice :Your host is ");
  a.expect(" 003 alice ");
  a.expect(" 004 alice irc.gilfree.test ");
  a.expect(" 005 alice .*CASEMAPPING=rfc1459");
  a.expect(" 251 alice :There are 1 users");
  a.expect(" 255 alice ");
  a.expect(" 375 alice ");
  a.expect(" 372 alice :- be nice");
  a.expect(" 376 alice ");
  a.send("USER x 0 * :again");
  a.expect(" 462 alice ");
}

TEST_F(IrcServer, CapNegotiationHoldsRegistrationUntilEnd) {
  start();
  Peer a(port());
  a.send("CAP LS 302");
  a.send("NICK irssi");
  a.send("USER u 0 * :u");
  a.expect("^:irc.gilfree.test CAP \\* LS :$");
  a.send("PING :beforeEnd");
  // No 001 may come before CAP END: the PONG is the next line.
  EXPECT_NE(a.expect("PONG"), "");
  a.send("CAP REQ :multi-prefix");
  a.expect("CAP irssi NAK :multi-prefix");
  a.send("CAP END");
  a.expect(" 001 irssi ");
}

TEST_F(IrcServer, ErrorsBeforeRegistrationAndForBadNicks) {
  start();
  Peer a(port());
  a.send("JOIN #x");
  a.expect(" 451 \\* :You have not registered");
  a.send("NICK");
  a.expect(" 431 ");
  a.send("NICK 9lives");
  a.expect(" 432 \\* 9lives ");
  a.send("USER onlyone");
  a.expect(" 461 \\* USER ");
  a.login("carol");
  Peer b(port());
  b.send("NICK CAROL");  // the same nick in another case
  b.expect(" 433 \\* CAROL :Nickname is already in use");
  b.send("NICK {x}");
  b.send("USER x 0 * :x");
  b.expect(" 001 \\{x\\} ");
  Peer c(port());
  c.send("NICK [X]");  // RFC 1459: [ ] are upper case of { }
  c.expect(" 433 \\* \\[X\\] ");
}

TEST_F(IrcServer, PasswordIsRequiredWhenConfigured) {
  irc::ServerOptions o;
  o.config.password = "sesame";
  start(o);
  Peer bad(port());
  bad.send("PASS wrong");
  bad.send("NICK bad");
  bad.send("USER b 0 * :b");
  bad.expect(" 464 ");
  EXPECT_TRUE(bad.closed_within(5s));
  Peer good(port());
  good.send("PASS sesame");
  good.send("NICK good");
  good.send("USER g 0 * :g");
  good.expect(" 001 good ");
}

TEST_F(IrcServer, ChannelsCaseInsensitiveMessagesTopicsNames) {
  start();
  Peer a(port()), b(port());
  a.login("alice");
  b.login("bob");
  a.send("JOIN #Room");
  a.expect("^:alice!alice@127.0.0.1 JOIN #Room$");
  a.expect(" 353 alice = #Room :@alice$");
  a.expect(" 366 alice #Room ");
  b.send("JOIN #ROOM");
  b.expect("^:bob!bob@127.0.0.1 JOIN #Room$");
  b.expect(" 353 bob = #Room :");
  a.expect("^:bob!bob@127.0.0.1 JOIN #Room$");
  b.send("PRIVMSG #room :hello room");
  a.expect("^:bob!bob@127.0.0.1 PRIVMSG #Room :hello room$");
  b.send("PRIVMSG ALICE :psst");
  a.expect("^:bob!bob@127.0.0.1 PRIVMSG alice :psst$");
  b.send("NOTICE nobody :lost");  // NOTICE never answers with an error
  b.send("PRIVMSG nobody :lost");
  b.expect(" 401 bob nobody ");
  b.send("PRIVMSG");
  b.expect(" 411 bob ");
  b.send("PRIVMSG alice");
  b.expect(" 412 bob ");
  b.send("TOPIC #room");
  b.expect(" 331 bob #Room :No topic is set");
  b.send("TOPIC #room :new");
  b.expect(" 482 bob #Room ");  // +t by default
  a.send("TOPIC #room :the topic");
  b.expect("^:alice!alice@127.0.0.1 TOPIC #Room :the topic$");
  b.send("TOPIC #room");
  b.expect(" 332 bob #Room :the topic$");
  b.expect(" 333 bob #Room alice ");
  b.send("NAMES #room");
  b.expect(" 353 bob = #Room :(@alice bob|bob @alice)$");
  b.expect(" 366 bob #Room ");
  b.send("LIST");
  b.expect(" 321 bob ");
  b.expect(" 322 bob #Room 2 :the topic$");
  b.expect(" 323 bob ");
  b.send("WHO #room");
  b.expect(" 352 bob #Room ");
  b.expect(" 315 bob #room ");
  b.send("PART #room :later");
  a.expect("^:bob!bob@127.0.0.1 PART #Room :later$");
  b.send("PART #room");
  b.expect(" 442 bob #Room ");
  b.send("PART #nosuch");
  b.expect(" 403 bob #nosuch ");
  b.send("PRIVMSG #room :from outside");
  b.expect(" 404 bob #Room ");  // +n by default
}

TEST_F(IrcServer, ModesKeyLimitInviteOnlyOpsAndKick) {
  start();
  Peer op(port()), u(port()), v(port());
  op.login("op");
  u.login("user");
  v.login("visitor");
  op.send("JOIN #m");
  op.expect(" 366 op #m ");
  op.send("MODE #m");
  op.expect(" 324 op #m \\+nt$");
  op.send("MODE #m +kl secret 2");
  op.expect("^:op!op@127.0.0.1 MODE #m \\+kl secret 2$");
  u.send("JOIN #m");
  u.expect(" 475 user #m ");
  u.send("JOIN #m wrong");
  u.expect(" 475 user #m ");
  u.send("JOIN #m secret");
  u.expect(" 366 user #m ");
  v.send("JOIN #m secret");
  v.expect(" 471 visitor #m ");
  op.send("MODE #m -l+i");
  op.expect("MODE #m -l\\+i$");
  v.send("JOIN #m secret");
  v.expect(" 473 visitor #m ");
  u.send("INVITE visitor #m");
  u.expect(" 482 user #m ");  // +i: only operators invite
  op.send("INVITE visitor #m");
  op.expect(" 341 op visitor :?#m");
  v.expect("^:op!op@127.0.0.1 INVITE visitor :?#m$");
  v.send("JOIN #m");  // invited: neither +i nor +k stops it
  v.expect(" 366 visitor #m ");
  op.send("INVITE visitor #m");
  op.expect(" 443 op visitor #m ");
  u.send("KICK #m visitor");
  u.expect(" 482 user #m ");
  op.send("MODE #m +o user");
  u.expect("MODE #m \\+o user$");
  u.send("KICK #m visitor :out");
  v.expect("^:user!user@127.0.0.1 KICK #m visitor :out$");
  op.expect("KICK #m visitor :out$");
  u.send("KICK #m visitor");
  u.expect(" 441 user visitor #m ");
  op.send("MODE #m +x");
  op.expect(" 472 op x ");
  op.send("MODE #m +o ghost");
  op.expect(" 401 op ghost ");
  op.send("MODE #m +o visitor");
  op.expect(" 441 op visitor #m ");
  op.send("MODE op +i");
  op.expect("^:op MODE op :?\\+i$");
  op.send("MODE op");
  op.expect(" 221 op \\+i$");
  op.send("MODE user +i");
  op.expect(" 502 op ");
  op.send("MODE op +z");
  op.expect(" 501 op ");
}

TEST_F(IrcServer, WhoisAwayIsonLusersNickChange) {
  start();
  Peer a(port()), b(port());
  a.login("ann");
  b.login("ben");
  a.send("JOIN #w");
  a.expect(" 366 ann #w ");
  b.send("JOIN #w");
  a.expect("ben!ben@127.0.0.1 JOIN #w");
  b.send("AWAY :lunch");
  b.expect(" 306 ben ");
  a.send("PRIVMSG ben :there?");
  a.expect(" 301 ann ben :lunch$");
  a.send("WHOIS BEN");
  a.expect(" 311 ann ben ben 127.0.0.1 \\* :Test ben$");
  a.expect(" 319 ann ben :#w$");  // not @#w: ann made the channel
  a.expect(" 312 ann ben irc.gilfree.test ");
  a.expect(" 301 ann ben :lunch$");
  a.expect(" 317 ann ben \\d+ \\d+ :seconds idle");
  a.expect(" 318 ann BEN ");
  a.send("WHOIS nobody");
  a.expect(" 401 ann nobody ");
  a.send("WHOIS");
  a.expect(" 431 ann ");
  b.send("AWAY");
  b.expect(" 305 ben ");
  a.send("ISON ben nobody ANN");
  a.expect(" 303 ann :ben ann$");
  a.send("LUSERS");
  a.expect(" 251 ann :There are 2 users and 0 invisible on 1 servers$");
  a.expect(" 254 ann 1 :channels formed$");
  b.send("NICK benny");
  a.expect("^:ben!ben@127.0.0.1 NICK :?benny$");
  b.expect("^:ben!ben@127.0.0.1 NICK :?benny$");
  a.send("PRIVMSG ben :old name");
  a.expect(" 401 ann ben ");
  a.send("WHOWAS BEN");  // RFC 1459 §4.5.3: who a nick was
  a.expect(" 314 ann ben ben 127.0.0.1 \\* :Test ben$");
  a.expect(" 369 ann BEN ");
  a.send("WHOWAS never");
  a.expect(" 406 ann never ");
  a.expect(" 369 ann never ");
  a.send("PING :tok");
  a.expect("^:irc.gilfree.test PONG irc.gilfree.test :?tok$");
  a.send("PING");
  a.expect(" 409 ann ");
  a.send("MOTD");
  a.expect(" 376 ann ");
  a.send("FROB a b");
  a.expect(" 421 ann FROB :Unknown command$");
  a.send("JOIN");
  a.expect(" 461 ann JOIN ");
  a.send("KICK #w");
  a.expect(" 461 ann KICK ");
  a.send("INVITE x");
  a.expect(" 461 ann INVITE ");
  a.send("QUIT :gone");
  a.expect("^ERROR :Closing Link: 127.0.0.1 \\(Quit: gone\\)$");
  b.expect("^:ann!ann@127.0.0.1 QUIT :Quit: gone$");
  EXPECT_TRUE(a.closed_within(5s));
}

TEST_F(IrcServer, SilentClientIsPingedThenTimedOut) {
  irc::ServerOptions o;
  o.ping_interval = 200ms;
  o.ping_timeout = 300ms;
  start(o);
  Peer answers(port()), silent(port()), mute(port());  // mute never even registers
  answers.login("alive");
  silent.login("silent");
  silent.send("JOIN #p");
  silent.expect(" 366 silent #p ");
  answers.send("JOIN #p");
  answers.expect(" 366 alive #p ");
  // The one that answers its PINGs stays; the silent one is dropped with a reason.
  int pongs = 0;
  bool silent_quit = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((pongs < 3 || !silent_quit) && std::chrono::steady_clock::now() < deadline) {
    auto l = answers.line(1s);
    if (!l) continue;
    if (l->rfind("PING ", 0) == 0) {
      answers.send("PONG " + l->substr(5));
      ++pongs;
    } else if (std::regex_search(*l, std::regex("^:silent!silent@127.0.0.1 QUIT :Ping timeout: \\d+ seconds$"))) {
      silent_quit = true;
    }
  }
  EXPECT_GE(pongs, 3);
  EXPECT_TRUE(silent_quit);
  EXPECT_TRUE(silent.closed_within(5s));
  EXPECT_TRUE(mute.closed_within(5s));
  answers.send("PING :still");
  answers.expect("PONG .*still");
}

TEST_F(IrcServer, ClientThatNeverReadsIsDroppedAndBlocksNobody) {
  irc::ServerOptions o;
  o.sendq_lines = 64;
  start(o);
  Peer talker(port()), listener(port()), sink(port());
  talker.login("talker");
  listener.login("listener");
  sink.login("sink");
  int small = 1024;  // shrink the sink's receive buffer so that it fills fast
  ::setsockopt(sink.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  for (auto [p, nick] : {std::pair{&talker, "talker"}, {&listener, "listener"}, {&sink, "sink"}}) {
    p->send("JOIN #flood");
    p->expect(std::string(" 366 ") + nick + " #flood ");
  }
  // The sink never reads again; the talker floods (from its own thread, paced so that the
  // listener, which does read, is never more than 32 lines behind). The listener gets
  // every line once and in order, and sees the sink quit with "SendQ exceeded".
  const int n = 20000;
  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  gilfree::Thread flood([&] {
    std::string payload(400, 'z');
    for (int i = 0; i < n && !stop.load(); ++i) {
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (i - received.load() > 32 && !stop.load() && std::chrono::steady_clock::now() < deadline)
        ::poll(nullptr, 0, 1);
      talker.send("PRIVMSG #flood :" + std::to_string(i) + " " + payload);
    }
  });
  flood.start();
  bool sink_quit = false;
  int next = 0;
  while (!sink_quit && next < n) {
    auto l = listener.line(10s);
    if (!l) break;
    if (l->find("QUIT :SendQ exceeded") != std::string::npos) {
      EXPECT_EQ(l->rfind(":sink!", 0), 0u) << *l;
      sink_quit = true;
    } else if (auto at = l->find("PRIVMSG #flood :"); at != std::string::npos) {
      EXPECT_EQ(std::atoi(l->c_str() + at + 16), next) << "out of order or lost";
      received = ++next;
    }
  }
  stop = true;
  flood.join();
  EXPECT_TRUE(sink_quit) << "after " << next << " lines";
  EXPECT_TRUE(sink.closed_within(10s));
  auto deadline = std::chrono::steady_clock::now() + 10s;  // and its threads are released
  while (server_->live() > 2 && std::chrono::steady_clock::now() < deadline) ::poll(nullptr, 0, 10);
  EXPECT_EQ(server_->live(), 2u);
}

TEST_F(IrcServer, HostileInputNeverCrashesAndGetsRfcErrors) {
  start();
  Peer good(port());
  good.login("good");
  {
    // Random bytes, with and without line ends, from several connections.
    std::mt19937 rng(1459);
    std::vector<std::unique_ptr<Peer>> junk;
    for (int k = 0; k < 8; ++k) {
      junk.push_back(std::make_unique<Peer>(port()));
      std::string bytes(20'000, '\0');
      for (char& ch : bytes) ch = static_cast<char>(rng());
      junk.back()->raw(bytes);
    }
  }
  Peer p(port());
  p.raw("NICK longline\r\nUSER l 0 * :l\r\n");
  p.expect(" 376 longline ");
  p.raw("PRIVMSG good :" + std::string(10'000, 'L') + "\r\n");  // cut at 510 bytes
  std::string got = good.expect("PRIVMSG good :L+$");
  EXPECT_LE(got.size() + 2, irc::kMaxLine);
  p.raw("PING :no-crlf-yet");  // no line end: nothing happens until it comes
  EXPECT_FALSE(p.line(300ms));
  p.raw("\n");
  p.expect("PONG .*no-crlf-yet$");
  p.raw("\r\n\r\n   \r\n:onlyprefix\r\n");  // empty lines are ignored
  p.send("NOSUCHCOMMAND x y z");
  p.expect(" 421 longline NOSUCHCOMMAND ");
  for (const char* cmd : {"NICK", "USER", "JOIN", "PART", "TOPIC", "MODE", "KICK", "INVITE", "ISON",
                          "PASS", "CAP", "USERHOST"})
    p.send(cmd);
  p.expect(" 431 longline ");
  p.expect(" 461 longline USER ");  // parameters are checked first (RFC 1459 §4.1.3)
  for (const char* cmd : {"JOIN", "PART", "TOPIC", "MODE", "KICK", "INVITE", "ISON"})
    p.expect(std::string(" 461 longline ") + cmd + " ");
  p.send("WHOIS");
  p.expect(" 431 longline ");
  p.send("PRIVMSG");
  p.expect(" 411 longline ");
  // Half-open: a client shuts its write side; the server notices the EOF and drops it.
  Peer half(port());
  half.login("half");
  ::shutdown(half.fd(), SHUT_WR);
  EXPECT_TRUE(half.closed_within(5s));
  good.send("PING :alive");
  good.expect("PONG .*alive");
}

TEST_F(IrcServer, ThousandConnectsAndDisconnectsLeaveNothingBehind) {
  start();
  for (int i = 0; i < 1000; ++i) {
    Peer p(port());
    if (i % 3 == 0) {
      p.send("NICK n" + std::to_string(i));
      p.send("USER u 0 * :u");
      if (i % 2 == 0) p.send("QUIT :bye");
    }
  }  // each closes at once; the server's reaper joins their threads
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((server_->accepted() < 1000 || server_->live() > 0) &&
         std::chrono::steady_clock::now() < deadline)
    ::poll(nullptr, 0, 10);
  EXPECT_EQ(server_->live(), 0u);
  EXPECT_EQ(server_->accepted(), 1000u);
  Peer after(port());
  after.login("after");  // and the server still serves
  after.send("LUSERS");
  after.expect(" 251 after :There are 1 users ");
}

TEST_F(IrcServer, ListensOnIpv6Loopback) {
  irc::ServerOptions o;
  o.host = "::1";
  start(o);
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  addr.sin6_port = htons(static_cast<uint16_t>(port()));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  std::string hello = "NICK six\r\nUSER s 0 * :s\r\n";
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.find(" 001 ") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[1024];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // "::1" cannot begin a parameter (':' would start the trailing one): shown as "0::1".
  EXPECT_NE(got.find(" 001 six :Welcome to the Internet Relay Network six!s@0::1"), std::string::npos) << got;
}

TEST_F(IrcServer, StopSaysGoodbyeToEveryClient) {
  start();
  Peer a(port()), b(port());
  a.login("a1");
  b.send("NICK b1");  // not registered yet
  a.send("JOIN #bye");
  a.expect(" 366 a1 ");
  server_->stop();
  a.expect("^ERROR :Closing Link: .*Server shutting down");
  EXPECT_TRUE(a.closed_within(5s));
  EXPECT_TRUE(b.closed_within(5s));
}

}  // namespace
