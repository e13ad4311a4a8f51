// multiprocessing.connection: Pipe and Connection (framing, limits, EOF, poll, wait),
// Listener/Client over AF_UNIX paths, abstract names and AF_INET, with and without the
// authkey handshake, and bounded decoding of hostile frames.
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <gilfree/multiprocessing/connection.hpp>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

// Sanitizers reserve terabytes of address space: no RLIMIT_AS under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool RUNNING_ON_SANITIZER() { return true; }
#else
constexpr bool RUNNING_ON_SANITIZER() { return false; }
#endif

TEST(Connection, DuplexPipeCarriesValuesBothWays) {
  auto [a, b] = mp::Pipe();
  EXPECT_TRUE(a.readable() && a.writable());
  a.send(std::vector<int>{1, 2, 3});
  EXPECT_EQ(b.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  b.send(std::map<std::string, double>{{"pi", 3.14}});
  auto m = a.recv<std::map<std::string, double>>();
  EXPECT_EQ(m.at("pi"), 3.14);
}

TEST(Connection, OneWayPipe) {
  auto [r, w] = mp::Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  EXPECT_THROW(r.send_bytes("x"), mp::OSError);
  EXPECT_THROW(w.recv_bytes(), mp::OSError);
  w.send_bytes("hello");
  EXPECT_EQ(r.recv_bytes(), "hello");
}

TEST(Connection, FramingIsCPythons) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("abcdef", 1, 3);  // "bcd"
  char hdr[4];
  ASSERT_EQ(::read(b.fileno(), hdr, 4), 4);
  std::uint32_t n;
  std::memcpy(&n, hdr, 4);
  EXPECT_EQ(ntohl(n), 3u);
  char body[3];
  ASSERT_EQ(::read(b.fileno(), body, 3), 3);
  EXPECT_EQ(std::string(body, 3), "bcd");
  EXPECT_THROW(a.send_bytes("abc", 4), gilfree::ValueError);
  EXPECT_THROW(a.send_bytes("abc", 1, 5), gilfree::ValueError);
  // A large message goes header then body, still one frame.
  std::string big(100000, 'z');
  std::thread t([&] { a.send_bytes(big); });
  EXPECT_EQ(b.recv_bytes(), big);
  t.join();
}

TEST(Connection, RecvBytesMaxlength) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("0123456789");
  try {
    b.recv_bytes(5);
    FAIL();
  } catch (const mp::OSError& e) {
    EXPECT_STREQ(e.what(), "bad message length");
  }
  EXPECT_FALSE(b.readable());  // as CPython: a duplex end stops reading
  auto [r, w] = mp::Pipe(false);
  w.send_bytes("0123456789");
  EXPECT_THROW(r.recv_bytes(3), mp::OSError);
  EXPECT_TRUE(r.closed());  // a one-way end is closed
}

TEST(Connection, RecvBytesInto) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("abc");
  std::vector<char> buf(8, '.');
  EXPECT_EQ(b.recv_bytes_into(std::span<char>(buf), 2), 3u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "..abc...");
  a.send_bytes("too long for it");
  try {
    b.recv_bytes_into(std::span<char>(buf), 4);
    FAIL();
  } catch (const mp::BufferTooShort& e) {
    EXPECT_EQ(e.message(), "too long for it");
  }
  EXPECT_THROW(b.recv_bytes_into(std::span<char>(buf), 9), gilfree::ValueError);
}

TEST(Connection, EofAndClose) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("last");
  a.close();
  EXPECT_TRUE(a.closed());
  a.close();  // a second close does nothing
  EXPECT_THROW(a.fileno(), mp::OSError);
  EXPECT_THROW(a.send_bytes("x"), mp::OSError);
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "last");
  EXPECT_THROW(b.recv_bytes(), mp::EOFError);
  EXPECT_THROW(b.send_bytes("x"), mp::OSError);  // broken pipe, not SIGPIPE
}

TEST(Connection, EofInTheMiddleOfAMessage) {
  auto [a, b] = mp::Pipe();
  std::uint32_t n = htonl(100);
  ::write(a.fileno(), &n, 4);
  ::write(a.fileno(), "short", 5);
  a.close();
  try {
    b.recv_bytes();
    FAIL();
  } catch (const mp::OSError& e) {
    EXPECT_STREQ(e.what(), "got end of file during message");
  }
}

// The reader takes a message's header without blocking first (a spin): a header that
// arrives in pieces, or ends early, reads as one without the spin.
TEST(Connection, HeaderInPiecesIsOneMessage) {
  auto [a, b] = mp::Pipe();
  std::uint32_t n = htonl(5);
  ASSERT_EQ(::write(a.fileno(), &n, 2), 2);
  std::string got;
  std::thread reader([&, &b = b] { got = b.recv_bytes(); });
  ASSERT_EQ(::write(a.fileno(), reinterpret_cast<char*>(&n) + 2, 2), 2);
  ASSERT_EQ(::write(a.fileno(), "hello", 5), 5);
  reader.join();
  EXPECT_EQ(got, "hello");
}

TEST(Connection, EofInsideTheHeader) {
  for (auto duplex : {true, false}) {  // a socket pair, and a pipe (no non-blocking recv)
    auto [r, w] = mp::Pipe(duplex);
    auto& writer = duplex ? r : w;
    auto& reader = duplex ? w : r;
    std::uint32_t n = htonl(5);
    ASSERT_EQ(::write(writer.fileno(), &n, 2), 2);
    writer.close();
    try {
      reader.recv_bytes();
      ADD_FAILURE() << "no error";
    } catch (const mp::OSError& e) {
      EXPECT_STREQ(e.what(), "got end of file during message");
    }
  }
}

TEST(Connection, PollAndWait) {
  auto [a, b] = mp::Pipe();
  auto [c, d] = mp::Pipe();
  EXPECT_FALSE(b.poll());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.poll(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
  EXPECT_THROW(b.poll(-1.0), gilfree::ValueError);
  EXPECT_TRUE(mp::wait(std::vector<mp::Connection*>{&b, &d}, 20ms).empty());
  c.send_bytes("x");
  auto ready = mp::wait(std::vector<mp::Connection*>{&b, &d}, 5s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0], &d);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    a.send_bytes("y");
  });
  EXPECT_TRUE(b.poll(5s));  // wakes when data arrives
  t.join();
}

// ---- hostile frames: each is a clear error, fast, without a large allocation -----------

struct Point {
  double x = 0, y = 0;
  template <class A>
  void serialize(A& ar) {
    ar(x, y);
  }
};

void limit_memory_for_this_test(rlim_t bytes, rlimit& saved) {
  ::getrlimit(RLIMIT_AS, &saved);
  rlimit r{bytes, saved.rlim_max};
  ::setrlimit(RLIMIT_AS, &r);
}

TEST(Decoding, HostileFramesAreClearErrors) {
  std::string good = mp::dumps(std::vector<Point>{{1, 2}, {3, 4}});
  EXPECT_EQ(mp::loads<std::vector<Point>>(good).size(), 2u);

  auto expect_error = [](auto fn, const char* what) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      fn();
      ADD_FAILURE() << "no error for " << what;
    } catch (const mp::UnpicklingError& e) {
      EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << what;
      EXPECT_GT(std::strlen(e.what()), 10u);
    }
  };
  // Truncated at every length.
  for (std::size_t n = 0; n < good.size(); ++n)
    expect_error([&] { mp::loads<std::vector<Point>>(good.substr(0, n)); }, "truncated");
  // Absurd element counts: 2^40 and 3e8 in the size tag (right after the header).
  for (std::uint64_t count : {std::uint64_t{1} << 40, std::uint64_t{300000000}}) {
    std::string bad = good;
    std::memcpy(bad.data() + 24, &count, 8);
    rlimit saved;
    if (!RUNNING_ON_SANITIZER()) limit_memory_for_this_test(1ull << 31, saved);
    expect_error([&] { mp::loads<std::vector<Point>>(bad); }, "absurd count");
    if (!RUNNING_ON_SANITIZER()) ::setrlimit(RLIMIT_AS, &saved);
  }
  // Another type than the one sent.
  expect_error([&] { mp::loads<std::map<int, int>>(good); }, "wrong type");
  expect_error([&] { mp::loads<std::string>(good); }, "wrong type");
  // Garbage, and trailing bytes.
  expect_error([&] { mp::loads<int>(std::string(40, '\x7f')); }, "garbage");
  expect_error([&] { mp::loads<std::vector<Point>>(good + "xx"); }, "trailing bytes");
}

// ---- Listener and Client ----------------------------------------------------------------

void echo_once(mp::Listener& l) {
  auto c = l.accept();
  c.send_bytes(c.recv_bytes());
}

TEST(Listener, UnixPathAbstractAndInet) {
  std::vector<mp::Listener*> ls;
  mp::Listener path_listener;  // a fresh path in a temporary directory
  mp::Listener abstract_listener(mp::Address{std::string(1, '\0') + "gilfree-conn-test-" +
                                             std::to_string(::getpid())});
  mp::Listener inet_listener(std::nullopt, {.family = "AF_INET"});
  for (mp::Listener* l : {&path_listener, &abstract_listener, &inet_listener}) {
    std::thread t([l] { echo_once(*l); });
    auto c = mp::Client(l->address());
    c.send_bytes("ping");
    EXPECT_TRUE(c.poll(5s));
    EXPECT_EQ(c.recv_bytes(), "ping");
    t.join();
  }
  auto inet = std::get<std::pair<std::string, int>>(inet_listener.address());
  EXPECT_EQ(inet.first, "127.0.0.1");
  EXPECT_GT(inet.second, 0);
  EXPECT_TRUE(inet_listener.last_accepted().has_value());
  std::string path = std::get<std::string>(path_listener.address());
  path_listener.close();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // unlinked
  EXPECT_THROW(mp::Client(mp::Address{path}), mp::OSError);
}

TEST(Listener, AuthkeyRightAndWrong) {
  mp::Listener l(std::nullopt, {.authkey = "right"});
  {
    std::thread t([&] { echo_once(l); });
    auto c = mp::Client(l.address(), {.authkey = "right"});
    c.send_bytes("ok");
    EXPECT_EQ(c.recv_bytes(), "ok");
    t.join();
  }
  {
    std::string server_error;
    std::thread t([&] {
      try {
        l.accept();
      } catch (const mp::AuthenticationError& e) {
        server_error = e.what();
      }
    });
    try {
      mp::Client(l.address(), {.authkey = "wrong"});
      ADD_FAILURE() << "a wrong key was accepted";
    } catch (const mp::AuthenticationError& e) {
      EXPECT_STREQ(e.what(), "digest sent was rejected");
    }
    t.join();
    EXPECT_EQ(server_error, "digest received was wrong");
  }
}

TEST(Handshake, EveryDigestAndTheLegacyForm) {
  for (const char* digest : {"md5", "sha256", "sha384", "sha3_256", "sha3_384"}) {
    auto [a, b] = mp::Pipe();
    std::thread t([&] { mp::deliver_challenge(a, "k", digest); });
    EXPECT_NO_THROW(mp::answer_challenge(b, "k")) << digest;
    t.join();
  }
  auto [a, b] = mp::Pipe();
  EXPECT_THROW(mp::deliver_challenge(a, "k", "sha1"), gilfree::ValueError);
}

}  // namespace
