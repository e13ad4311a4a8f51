// A Process subclass overriding run() under each start method. Under fork the child runs
// the parent's object; under forkserver and spawn a registered subclass crosses as its type
// and fields (GILFREE_MP_REGISTER_PROCESS), as Python pickles the object, and the child
// restores name, daemon and authkey. Every child is joined with a bound and killed past it.
#include <chrono>
#include <gilfree/multiprocessing/connection.hpp>
#include <gilfree/multiprocessing/process.hpp>
#include <gilfree/multiprocessing/sharedctypes.hpp>
#include <gtest/gtest.h>
#include "mp_child.hpp"
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

namespace mp = gilfree::mp;
using namespace std::chrono_literals;

namespace {

// Fields of several kinds, and a Connection to report through.
struct Reporter : mp::Process {
  int n = 0;
  std::string label;
  std::vector<int> extra;
  mp::Connection out;
  void run() override {
    const int sum = std::accumulate(extra.begin(), extra.end(), 0);
    auto* parent = mp::parent_process();
    out.send(std::make_tuple(n * 2, label, sum, name(), daemon(), authkey(),
                             parent ? parent->name() : std::string("none"),
                             mp::current_process().name()));
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(n, label, extra, out);
  }
};
GILFREE_MP_REGISTER_PROCESS(Reporter);

// Ends with run()'s exception or with SystemExit.
struct Failing : mp::Process {
  std::string message;
  int code = -1;  // < 0: throw ValueError(message)
  void run() override {
    if (code >= 0) throw mp::SystemExit{code};
    throw gilfree::ValueError(message);
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(message, code);
  }
};
GILFREE_MP_REGISTER_PROCESS(Failing);

// Shared memory as a field: the child's write is the parent's.
struct Adder : mp::Process {
  mp::Value<long> total;
  long step = 0;
  void run() override { total.set_value(total.value() + step); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(total, step);
  }
};
GILFREE_MP_REGISTER_PROCESS(Adder);

// A subclass that also passes a callable: the callable crosses too, and run() decides.
void store(mp::Value<long> v, long x) { v.set_value(x); }
struct WithTarget : mp::Process {
  WithTarget() = default;
  WithTarget(mp::Value<long> v, long x) : mp::Process({}, store, v, x) {}
  void run() override { mp::Process::run(); }  // Python's super().run(): calls the target
  template <class Archive>
  void serialize(Archive&) {}
};
GILFREE_MP_REGISTER_PROCESS(WithTarget);

// Not registered: fine under fork, a clear error elsewhere.
struct Unregistered : mp::Process {
  void run() override {}
};

using mp_test::bounded_join;

class Subclass : public ::testing::TestWithParam<const char*> {};

TEST_P(Subclass, FieldsArriveAndRunExecutesInTheChild) {
  auto [a, b] = mp::Pipe();
  Reporter r;
  r.n = 21;
  r.label = "fields";
  r.extra = {1, 2, 3, 4};
  r.out = std::move(b);
  r.set_name("reporter");
  r.set_daemon(true);
  r.set_authkey("a-key-of-the-parent");
  mp::set_start_method(GetParam(), true);
  r.start();
  ASSERT_TRUE(a.poll(20s)) << "no report from the child";
  auto [twice, label, sum, name, daemonic, key, parent, current] =
      a.recv<std::tuple<int, std::string, int, std::string, bool, std::string, std::string,
                        std::string>>();
  bounded_join(r);
  mp::set_start_method("", true);
  EXPECT_EQ(r.exitcode(), 0);
  EXPECT_EQ(twice, 42);
  EXPECT_EQ(label, "fields");
  EXPECT_EQ(sum, 10);
  EXPECT_EQ(name, "reporter");
  EXPECT_TRUE(daemonic);
  EXPECT_EQ(key, "a-key-of-the-parent");
  EXPECT_EQ(parent, "MainProcess");
  EXPECT_EQ(current, "reporter");
}

TEST_P(Subclass, DefaultNameIsTheClassName) {
  auto [a, b] = mp::Pipe();
  Reporter r;
  r.out = std::move(b);
  const std::string expected = r.name();
  EXPECT_EQ(expected.rfind("Reporter-", 0), 0u) << expected;
  mp::set_start_method(GetParam(), true);
  r.start();
  mp::set_start_method("", true);
  ASSERT_TRUE(a.poll(20s));
  auto t = a.recv<std::tuple<int, std::string, int, std::string, bool, std::string, std::string,
                             std::string>>();
  bounded_join(r);
  EXPECT_EQ(std::get<3>(t), expected);
}

TEST_P(Subclass, ExceptionGivesExitcode1AndTheTrace) {
  Failing f;
  f.message = "boom from a subclass";
  f.set_name("Failer");
  mp::set_start_method(GetParam(), true);
  testing::internal::CaptureStderr();
  f.start();
  bounded_join(f);
  std::string err = testing::internal::GetCapturedStderr();
  mp::set_start_method("", true);
  EXPECT_EQ(f.exitcode(), 1);
  EXPECT_NE(err.find("Process Failer:"), std::string::npos) << err;
  EXPECT_NE(err.find("ValueError: boom from a subclass"), std::string::npos) << err;
}

TEST_P(Subclass, SystemExitCode) {
  Failing f;
  f.code = 9;
  mp::set_start_method(GetParam(), true);
  f.start();
  mp::set_start_method("", true);
  bounded_join(f);
  EXPECT_EQ(f.exitcode(), 9);
}

TEST_P(Subclass, SharedValueFieldIsShared) {
  Adder add;
  add.total = mp::Value<long>(100);
  add.step = 23;
  mp::Value<long> total = add.total;
  mp::set_start_method(GetParam(), true);
  add.start();
  mp::set_start_method("", true);
  bounded_join(add);
  EXPECT_EQ(add.exitcode(), 0);
  EXPECT_EQ(total.value(), 123);
}

TEST_P(Subclass, ACallableGivenToASubclassCrossesToo) {
  mp::Value<long> v(0);
  WithTarget w(v, 77);
  mp::set_start_method(GetParam(), true);
  w.start();
  mp::set_start_method("", true);
  bounded_join(w);
  EXPECT_EQ(w.exitcode(), 0);
  EXPECT_EQ(v.value(), 77);
}

TEST_P(Subclass, UnregisteredSubclassIsAClearErrorAtStart) {
  Unregistered u;
  mp::set_start_method(GetParam(), true);
  if (std::string(GetParam()) == "fork") {
    u.start();
    mp::set_start_method("", true);
    bounded_join(u);
    EXPECT_EQ(u.exitcode(), 0);
    return;
  }
  try {
    u.start();
    mp::set_start_method("", true);
    ADD_FAILURE() << "an unregistered subclass started under " << GetParam();
    bounded_join(u);
  } catch (const mp::PicklingError& e) {
    mp::set_start_method("", true);
    const std::string what = e.what();
    EXPECT_NE(what.find("Unregistered"), std::string::npos) << what;
    EXPECT_NE(what.find(std::string("'") + GetParam() + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("GILFREE_MP_REGISTER_PROCESS"), std::string::npos) << what;
  }
  EXPECT_FALSE(u.pid());  // nothing was started
  EXPECT_TRUE(mp::active_children().empty());
}

// Registered at run time, in the parent only: the child's decoder is there anyway (it
// registers during static initialisation wherever register_process<T> is instantiated).
struct RegisteredAtRunTime : mp::Process {
  int code = 0;
  void run() override { throw mp::SystemExit{code}; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(code);
  }
};

TEST_P(Subclass, RegisteredAtRunTimeInTheParent) {
  EXPECT_TRUE(mp::register_process<RegisteredAtRunTime>());
  RegisteredAtRunTime r;
  r.code = 5;
  mp::set_start_method(GetParam(), true);
  r.start();
  mp::set_start_method("", true);
  bounded_join(r);
  EXPECT_EQ(r.exitcode(), 5);
}

INSTANTIATE_TEST_SUITE_P(Methods, Subclass, ::testing::Values("fork", "forkserver", "spawn"));

}  // namespace
