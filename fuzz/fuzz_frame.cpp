// libFuzzer target for the frame decoders of gilfree/multiprocessing: the bounded cereal
// decode (loads<T> for several shapes), call frames (run_call) and CPython's length
// framing (Connection::recv_bytes). Any input must end in a value or a clear error —
// never a crash, a hang, a leak or a large allocation (run with -rss_limit_mb).
//
// Input: the first byte picks the decoder, the rest is the message.
// GILFREE_FUZZ_SEEDS=DIR ./fuzz_frame writes a seed corpus of valid messages into DIR.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/reduction.hpp>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mp = gilfree::mp;

namespace {

struct Point {
  double x = 0, y = 0;
  template <class A>
  void serialize(A& ar) {
    ar(x, y);
  }
};
using Tuple = std::tuple<int, double, std::vector<std::string>, std::optional<long>>;

void sink(std::vector<int> v, std::string s) {  // the one function calls may reach
  volatile std::size_t n = v.size() + s.size();
  (void)n;
}

template <class T>
void decode(std::string_view msg) {
  try {
    (void)mp::loads<T>(msg);
  } catch (const mp::UnpicklingError&) {
  }
}

void decode_stream(std::string_view msg, std::optional<std::size_t> maxlength) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
  int sz = 1 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  std::size_t off = 0;
  while (off < msg.size()) {  // inputs are small (-max_len): this never blocks
    ssize_t w = ::write(sv[0], msg.data() + off, msg.size() - off);
    if (w <= 0) std::abort();
    off += static_cast<std::size_t>(w);
  }
  ::close(sv[0]);
  mp::Connection c(sv[1]);
  try {
    for (int i = 0; i < 64; ++i) (void)c.recv_bytes(maxlength);
  } catch (const mp::EOFError&) {
  } catch (const mp::OSError&) {
  }
}

void write_seed(const std::string& dir, int n, char kind, const std::string& body) {
  std::ofstream(dir + "/seed-" + std::to_string(n), std::ios::binary) << kind << body;
}

std::string framed(const std::string& s) {
  std::string out(4, '\0');
  std::uint32_t n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (24 - 8 * i));
  return out + s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("GILFREE_FUZZ_SEEDS")) {
    int n = 0;
    write_seed(dir, n++, 0, mp::dumps(std::vector<Point>{{1, 2}, {3, 4}}));
    write_seed(dir, n++, 1, mp::dumps(std::map<std::string, int>{{"a", 1}, {"bb", 2}}));
    write_seed(dir, n++, 2, mp::dumps(std::string("hello")));
    write_seed(dir, n++, 3, mp::dumps(Tuple{1, 2.5, {"x", "yz"}, 7L}));
    write_seed(dir, n++, 4, mp::encode_call(sink, std::vector<int>{1, 2}, std::string("s")));
    write_seed(dir, n++, 5, framed("abc") + framed(std::string(300, 'q')));
    write_seed(dir, n++, 6, std::string("\xff\xff\xff\xff\0\0\0\0\0\0\0\x05hello", 17));
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0: decode<std::vector<Point>>(msg); break;
    case 1: decode<std::map<std::string, int>>(msg); break;
    case 2: decode<std::string>(msg); break;
    case 3: decode<Tuple>(msg); break;
    case 4:
      try {
        mp::run_call(msg);
      } catch (const mp::UnpicklingError&) {
      } catch (const mp::PicklingError&) {
      }
      break;
    case 5: decode_stream(msg, std::size_t{1} << 16); break;
    case 6: decode_stream(msg, std::nullopt); break;
  }
  return 0;
}
