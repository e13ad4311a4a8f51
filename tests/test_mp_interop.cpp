// Byte-for-byte interop with CPython's multiprocessing.connection: a real `python3` peer
// on the other end, in both directions, with the right and a wrong authkey, with 3.11's
// legacy HMAC-MD5 handshake and with the 3.12+ {digest} handshake (3.12's functions,
// installed into 3.11's module by the script when the interpreter is older). The > 2 GiB
// long-header message runs only with GILFREE_TEST_BIG=1 (it moves 4 GiB through Python).
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gilfree/multiprocessing/connection.hpp>
#include <gtest/gtest.h>
#include <string>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

// 3.12's handshake, for a 3.11 interpreter (CPython Lib/multiprocessing/connection.py).
constexpr const char* kPy312 = R"PY(
import hmac, os, multiprocessing.connection as mc
from multiprocessing.context import AuthenticationError
_ALLOWED = {b'md5', b'sha256', b'sha384', b'sha3_256', b'sha3_384'}
def _name_payload(m):
    if len(m) in (20, 16): return '', m
    if m.startswith(b'{'):
        c = m.find(b'}', 1, 10)
        if c > 0 and m[1:c] in _ALLOWED: return m[1:c].decode(), m[c+1:]
    raise AuthenticationError('unsupported message')
def _create_response(key, m):
    name = _name_payload(m)[0]
    if not name: return hmac.new(key, m, 'md5').digest()
    return b'{%s}%s' % (name.encode(), hmac.new(key, m, name).digest())
def _verify(key, m, r):
    name, mac = _name_payload(r)
    exp = hmac.new(key, m, name or 'md5').digest()
    if len(exp) != len(mac) or not hmac.compare_digest(exp, mac):
        raise AuthenticationError('digest received was wrong')
def deliver_challenge(conn, key, digest_name='sha256'):
    m = b'{%s}%s' % (digest_name.encode(), os.urandom(40))
    conn.send_bytes(mc._CHALLENGE + m if hasattr(mc, '_CHALLENGE') else mc.CHALLENGE + m)
    r = conn.recv_bytes(256)
    try: _verify(key, m, r)
    except AuthenticationError:
        conn.send_bytes(b'#FAILURE#'); raise
    conn.send_bytes(b'#WELCOME#')
def answer_challenge(conn, key):
    m = conn.recv_bytes(256)
    assert m.startswith(b'#CHALLENGE#')
    conn.send_bytes(_create_response(key, m[11:]))
    if conn.recv_bytes(256) != b'#WELCOME#':
        raise AuthenticationError('digest sent was rejected')
mc.deliver_challenge = deliver_challenge
mc.answer_challenge = answer_challenge
)PY";

constexpr const char* kClient = R"PY(
import sys, signal
signal.alarm(900 if len(sys.argv) > 5 else 60)
from multiprocessing.connection import Client
addr, key, proto = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
if proto == '312': exec(open(sys.argv[4]).read())
try:
    c = Client(addr, authkey=key)
except Exception as e:
    print('ERR', type(e).__name__, e, flush=True); sys.exit(0)
c.send_bytes(b'hello from python')
m = c.recv_bytes()
c.send_bytes(m[::-1])
if len(sys.argv) > 5:
    big = c.recv_bytes()
    c.send_bytes(str(len(big)).encode() + big[:1] + big[-1:])
    c.send_bytes(b'y' * len(big))
print('OK', flush=True)
)PY";

constexpr const char* kListener = R"PY(
import sys, signal
signal.alarm(60)
from multiprocessing.connection import Listener
key, proto = sys.argv[1].encode(), sys.argv[2]
if proto == '312': exec(open(sys.argv[3]).read())
l = Listener(('127.0.0.1', 0), authkey=key)
print(l.address[1], flush=True)
try:
    c = l.accept()
except Exception as e:
    print('ERR', type(e).__name__, e, flush=True); sys.exit(0)
m = c.recv_bytes()
c.send_bytes(m.upper())
print('OK', flush=True)
)PY";

class Python : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("python3 -c 'import multiprocessing.connection' >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "python3 with multiprocessing is not available";
    dir_ = "/tmp/gilfree-interop-" + std::to_string(::getpid());
    std::system(("mkdir -p " + dir_).c_str());
    std::ofstream(dir_ + "/client.py") << kClient;
    std::ofstream(dir_ + "/listener.py") << kListener;
    std::ofstream(dir_ + "/py312.py") << kPy312;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }
  FILE* run(const std::string& args) {
    return ::popen(("python3 " + args + " 2>&1").c_str(), "r");
  }
  static std::string read_all(FILE* f) {
    std::string out;
    std::array<char, 256> buf;
    while (std::fgets(buf.data(), buf.size(), f)) out += buf.data();
    ::pclose(f);
    return out;
  }
  std::string dir_;
};

TEST_F(Python, PythonClientToGilfreeListener) {
  for (const char* proto : {"311", "312"}) {
    mp::Listener l(mp::Address{dir_ + "/sock-" + proto}, {.authkey = "secret"});
    FILE* py = run(dir_ + "/client.py " + dir_ + "/sock-" + proto + " secret " + proto + " " +
                   dir_ + "/py312.py");
    ASSERT_TRUE(py);
    ASSERT_FALSE(mp::wait(std::vector<int>{l.fileno()}, 30s).empty()) << proto;
    auto c = l.accept();
    ASSERT_TRUE(c.poll(30s));
    EXPECT_EQ(c.recv_bytes(), "hello from python");
    c.send_bytes("abc");
    EXPECT_EQ(c.recv_bytes(), "cba");
    EXPECT_EQ(read_all(py), "OK\n") << proto;
  }
}

TEST_F(Python, PythonClientWithAWrongKey) {
  for (const char* proto : {"311", "312"}) {
    mp::Listener l(mp::Address{dir_ + "/sockw-" + proto}, {.authkey = "secret"});
    FILE* py = run(dir_ + "/client.py " + dir_ + "/sockw-" + proto + " wrong " + proto + " " +
                   dir_ + "/py312.py");
    ASSERT_FALSE(mp::wait(std::vector<int>{l.fileno()}, 30s).empty());
    try {
      l.accept();
      ADD_FAILURE() << "a wrong key was accepted";
    } catch (const mp::AuthenticationError& e) {
      EXPECT_STREQ(e.what(), "digest received was wrong");
    }
    EXPECT_EQ(read_all(py), "ERR AuthenticationError digest sent was rejected\n") << proto;
  }
}

TEST_F(Python, GilfreeClientToPythonListener) {
  for (const char* proto : {"311", "312"}) {
    for (const char* key : {"secret", "wrong"}) {
      FILE* py = run(dir_ + "/listener.py secret " + proto + " " + dir_ + "/py312.py");
      char line[64] = {};
      ASSERT_TRUE(std::fgets(line, sizeof line, py));
      int port = std::atoi(line);
      ASSERT_GT(port, 0) << line;
      std::string expect;
      try {
        auto c = mp::Client(std::pair<std::string, int>("127.0.0.1", port), {.authkey = key});
        c.send_bytes("shout");
        ASSERT_TRUE(c.poll(30s));
        EXPECT_EQ(c.recv_bytes(), "SHOUT");
        expect = "OK\n";
      } catch (const mp::AuthenticationError& e) {
        EXPECT_STREQ(key, "wrong");
        EXPECT_STREQ(e.what(), "digest sent was rejected");
        expect = "ERR AuthenticationError digest received was wrong\n";
      }
      EXPECT_EQ(read_all(py), expect) << proto << " " << key;
    }
  }
}

TEST_F(Python, MessageOver2GiBUsesTheLongHeader) {
  if (!std::getenv("GILFREE_TEST_BIG")) GTEST_SKIP() << "set GILFREE_TEST_BIG=1 (moves 4 GiB)";
  mp::Listener l(mp::Address{dir_ + "/sockbig"}, {.authkey = "k"});
  FILE* py = run(dir_ + "/client.py " + dir_ + "/sockbig k 311 - big");
  auto c = l.accept();
  EXPECT_EQ(c.recv_bytes(), "hello from python");
  c.send_bytes("abc");
  EXPECT_EQ(c.recv_bytes(), "cba");
  const std::size_t n = (std::size_t{1} << 31) + 7;
  {
    std::string big(n, 'x');
    big.front() = 'a';
    big.back() = 'z';
    c.send_bytes(big);
  }
  EXPECT_EQ(c.recv_bytes(), std::to_string(n) + "az");
  std::string back = c.recv_bytes();
  EXPECT_EQ(back.size(), n);
  EXPECT_EQ(read_all(py), "OK\n");
}

}  // namespace
