// Function identity across processes: plain functions, captureless lambdas and
// serializable function objects run in forkserver and spawn children of the same
// program; what cannot cross is refused (at compile time where the type says so, see
// tests/mp_capture_does_not_compile.cpp) and an unknown function is a clear run-time
// error.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/reduction.hpp>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

std::string fresh_address() {
  static int n = 0;
  return std::string(1, '\0') + "gilfree-red-" + std::to_string(::getpid()) + "-" +
         std::to_string(++n);
}

void report_sum(std::string addr, std::vector<int> v, std::map<std::string, int> m) {
  int s = 0;
  for (int x : v) s += x;
  for (auto& [k, x] : m) s += x;
  mp::Client(addr).send(s);
}

struct Scaler {  // a function object with state: crosses through serialize()
  int factor = 1;
  void operator()(std::string addr, int x) const { mp::Client(addr).send(x * factor); }
  template <class A>
  void serialize(A& ar) {
    ar(factor);
  }
};

int receive_from(mp::Listener& l, mp::Process& p) {
  int v = -1;
  if (!mp::wait(std::vector<int>{l.fileno(), p.sentinel()}, 30s).empty()) {
    if (!mp::wait(std::vector<int>{l.fileno()}, 0.0).empty()) {
      auto c = l.accept();
      if (c.poll(30s)) v = c.recv<int>();
    }
  }
  p.join(30s);
  if (p.is_alive()) {
    p.kill();
    p.join();
  }
  return v;
}

class Methods : public ::testing::TestWithParam<const char*> {};

TEST_P(Methods, PlainFunctionWithContainers) {
  std::string addr = fresh_address();
  mp::Listener l(mp::Address{addr});
  mp::Process p({.start_method = GetParam()}, report_sum, addr, std::vector<int>{1, 2, 3},
                std::map<std::string, int>{{"a", 10}});
  p.start();
  EXPECT_EQ(receive_from(l, p), 16);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(Methods, CapturelessLambda) {
  std::string addr = fresh_address();
  mp::Listener l(mp::Address{addr});
  mp::Process p(
      {.start_method = GetParam()},
      [](std::string a, int x) { mp::Client(a).send(x + 1); }, addr, 41);
  p.start();
  EXPECT_EQ(receive_from(l, p), 42);
}

TEST_P(Methods, SerializableFunctionObject) {
  std::string addr = fresh_address();
  mp::Listener l(mp::Address{addr});
  mp::Process p({.start_method = GetParam()}, Scaler{3}, addr, 5);
  p.start();
  EXPECT_EQ(receive_from(l, p), 15);
}

INSTANTIATE_TEST_SUITE_P(CrossingMethods, Methods, ::testing::Values("forkserver", "spawn"));

TEST(FunctionIdentity, WhatCanCross) {
  int captured = 1;
  auto with_capture = [captured](int) { (void)captured; };
  auto without = [](int) {};
  static_assert(mp::remotable<decltype(without), int>);
  static_assert(!mp::remotable<decltype(with_capture), int>);
  static_assert(mp::remotable<void (*)(std::string, int), std::string, int>);
  static_assert(mp::remotable<Scaler, std::string, int>);
  struct NotSerializable {
    int* p;
  };
  static_assert(!mp::remotable<void (*)(NotSerializable), NotSerializable>);
  (void)with_capture;
}

TEST(FunctionIdentity, UnknownFunctionIsAClearError) {
  std::string call = mp::encode_call(report_sum, std::string("x"), std::vector<int>{},
                                     std::map<std::string, int>{});
  std::uint64_t bogus = 12345;
  std::memcpy(call.data() + 8, &bogus, 8);  // the trampoline key
  try {
    mp::run_call(call);
    FAIL();
  } catch (const mp::PicklingError& e) {
    EXPECT_NE(std::string(e.what()).find("different build"), std::string::npos);
  }
  // A value frame is not a call; a truncated call is an UnpicklingError.
  EXPECT_THROW(mp::run_call(mp::dumps(1)), mp::UnpicklingError);
  std::string good = mp::encode_call(report_sum, std::string("x"), std::vector<int>{1},
                                     std::map<std::string, int>{});
  EXPECT_THROW(mp::run_call(good.substr(0, good.size() - 3)), mp::UnpicklingError);
}

// A function that takes its argument by non-const reference (as a Python function mutates
// its argument) gets the decoded object itself.
std::size_t grown_size = 0;
void grow(std::vector<int>& v) {
  v.push_back(0);
  grown_size = v.size();
}

TEST(FunctionIdentity, AFunctionTakingAReferenceGetsTheDecodedArgument) {
  grown_size = 0;
  mp::run_call(mp::encode_call(grow, std::vector<int>{1, 2}));
  EXPECT_EQ(grown_size, 3u);
}

TEST(FunctionIdentity, PlainFunctionOffsetRoundTrips) {
  auto ref = mp::detail::function_to_ref(reinterpret_cast<const void*>(&report_sum));
  EXPECT_EQ(mp::detail::ref_to_function(ref), reinterpret_cast<void*>(&report_sum));
  mp::detail::FunctionRef missing{"/nonexistent/libnothing.so", 0, ""};
  EXPECT_THROW(mp::detail::ref_to_function(missing), mp::PicklingError);
  // A function of a shared library (looked up by module) as well as of the program itself
  // (answered from the program's layout, looked up once).
  auto in_libc = mp::detail::function_to_ref(reinterpret_cast<const void*>(&::getpid));
  EXPECT_FALSE(in_libc.module.empty());
  EXPECT_EQ(mp::detail::ref_to_function(in_libc), reinterpret_cast<void*>(&::getpid));
  EXPECT_TRUE(ref.module.empty());
}

TEST(FunctionIdentity, OffsetOutsideTheCodeIsRefused) {
  auto ref = mp::detail::function_to_ref(reinterpret_cast<const void*>(&report_sum));
  ref.offset = std::uint64_t{1} << 46;  // past every segment of the program
  try {
    mp::detail::ref_to_function(ref);
    FAIL() << "no error";
  } catch (const mp::PicklingError& e) {
    EXPECT_NE(std::string(e.what()).find("is not code"), std::string::npos) << e.what();
  }
}

// An offset is never applied to another build of its module (a binary replaced on disk,
// a frame from an older build): the build-id travels with it and must match.
TEST(FunctionIdentity, AnotherBuildsOffsetIsRefused) {
  auto ref = mp::detail::function_to_ref(reinterpret_cast<const void*>(&report_sum));
  ASSERT_FALSE(ref.build_id.empty()) << "this test binary has no GNU build-id";
  ref.build_id[0] = static_cast<char>(ref.build_id[0] ^ 1);
  try {
    mp::detail::ref_to_function(ref);
    FAIL() << "no error";
  } catch (const mp::PicklingError& e) {
    EXPECT_NE(std::string(e.what()).find("different build"), std::string::npos) << e.what();
  }
}

}  // namespace
