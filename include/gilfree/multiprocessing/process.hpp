// gilfree/multiprocessing/process.hpp — multiprocessing.Process, the start methods and
// their contexts.
//
//   void work(int n) { ... }
//   mp::Process p({.name = "worker"}, work, 42);   // or derive and override run()
//   p.start();
//   p.join();                                      // p.exitcode() == 0
//
// Start methods, as CPython 3.14 on Linux: "forkserver" (the default), "fork" and
// "spawn". Under fork any callable works; under forkserver and spawn the call crosses to
// another process as reduction.hpp says (plain functions, captureless lambdas,
// serializable function objects, serializable arguments, Connections), and a callable that
// cannot cross is a PicklingError at start(). A Process subclass that overrides run() works
// under fork as is; under forkserver and spawn it crosses as its type and fields, as Python
// pickles the object, once registered:
//
//   struct Counter : mp::Process {
//     int n = 0;
//     mp::Connection out;                      // a Connection field crosses too
//     void run() override { out.send(n * 2); }
//     template <class A> void serialize(A& ar) { ar(n, out); }
//   };
//   GILFREE_MP_REGISTER_PROCESS(Counter);      // parent and child: the same binary
//
// A spawned child re-executes /proc/self/exe; it becomes a worker before user code runs
// through gilfree's main hook (linking gilfree::gilfree into an executable adds
// -Wl,--wrap=main) or mp::freeze_support(argc, argv) at the top of main. It also links
// the executable with -z now (CMake option GILFREE_BIND_NOW): a fork child then never
// resolves a library function lazily, which would cost it page faults on every start.
//
// Every child watches a lifeline: when the parent dies, even by SIGKILL, the kernel
// kills the child (the lifeline's write end is close-on-exec and closed in every child
// gilfree starts; a raw fork() without exec elsewhere in the program would keep it open).
// At normal exit the parent joins its non-daemonic children and terminates its daemonic
// ones, as Python does.
#pragma once

#include <sys/types.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "../timeout.hpp"
#include "exceptions.hpp"
#include "reduction.hpp"

namespace gilfree::multiprocessing {

class Process;
class Context;
namespace detail {
struct ProcessState;
struct ProcessAccess;

// What Process's constructor accepts: fn callable on its stored arguments (see
// invocable_on_stored); a move-only argument (a Connection) must be moved in.
template <class F, class... Args>
concept process_callable =
    (std::constructible_from<std::decay_t<Args>, Args> && ...) && invocable_on_stored<F, Args...>;
}  // namespace detail

// Python's SystemExit for a child: throwing it from run() ends the child with `code`.
struct SystemExit {
  int code = 0;
};

// Keyword arguments of Process's constructor.
struct ProcessOptions {
  // The process's name; empty means "Process-N" (the class name for a subclass).
  std::string name = {};
  // Daemonic children are terminated when their parent exits; unset: inherit the
  // current process's flag.
  std::optional<bool> daemon = {};
  // "fork", "forkserver" or "spawn"; empty: the default context's (ctx.Process in
  // Python; get_context(m).Process(...) fills it).
  std::string start_method = {};
};

// A process running a callable, as multiprocessing.Process: give it a callable and
// arguments, or derive from it and override run().
class Process {
 public:
  using Options = ProcessOptions;

  // A process that will call `fn(args...)`. The arguments are stored in the Process and
  // dropped once start() has handed them to the child, as Python's start() drops _args (a
  // Connection moved in is then closed in the parent). Under forkserver and spawn they are
  // serialized at start(); a move-only argument (a Connection) may be taken by value.
  template <class F, class... Args>
    requires(!std::same_as<std::remove_cvref_t<F>, ProcessOptions> &&
             detail::process_callable<F, Args...>)
  explicit Process(F&& fn, Args&&... args)
      : Process(Options{}, std::forward<F>(fn), std::forward<Args>(args)...) {}
  template <class F, class... Args>
    requires detail::process_callable<F, Args...>
  Process(Options options, F&& fn, Args&&... args) : Process(std::move(options)) {
    auto work = std::make_shared<std::tuple<std::decay_t<F>, std::decay_t<Args>...>>(
        std::forward<F>(fn), std::forward<Args>(args)...);
    target_ = [work] {
      std::apply([](auto& f, auto&... a) { detail::call_stored(f, a...); }, *work);
    };
    if constexpr (remotable<F, Args...>) {
      encode_ = [work] {
        return std::apply(
            [](const auto& f, const auto&... a) { return detail::encode_stored_call(f, a...); },
            *work);
      };
    }
  }
  // A process whose work is the run() of a derived class (or nothing).
  Process() : Process(Options{}) {}
  explicit Process(Options options);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Releases the descriptors. A child still running goes on (and is joined, or
  // terminated if daemonic, when this process exits).
  virtual ~Process();

  // Starts the child, then drops the callable and arguments (the child has its own).
  // AssertionError "cannot start a process twice", "daemonic processes are not allowed to
  // have children"; ValueError when closed; PicklingError when the work cannot cross to a
  // forkserver or spawn child (a capturing lambda, an unregistered subclass).
  void start();
  // Waits until the child ends or `timeout` passes (check exitcode() after a timeout).
  // AssertionError "can only join a started process" / "can only join a child process".
  void join(Timeout timeout = {});
  // True from start() until the child ends.
  bool is_alive() const;
  // SIGTERM to the child (nothing if it has ended).
  void terminate();
  // SIGKILL to the child.
  void kill();
  // SIGINT to the child (Python 3.14). A C++ child without a handler dies with -2, where a
  // Python child would raise KeyboardInterrupt and exit with 1.
  void interrupt();
  // Releases the process's resources; ValueError while it still runs. Most methods
  // raise ValueError("process object is closed") afterwards.
  void close();

  // The child's pid, or none before start().
  std::optional<pid_t> pid() const;
  // Same as pid().
  std::optional<pid_t> ident() const { return pid(); }
  // None while running (or not started), 0 after a normal end, 1 when an exception
  // escaped run(), the code of SystemExit/exit(), or -N when killed by signal N.
  std::optional<int> exitcode() const;
  // A descriptor that becomes readable when the child ends (a pidfd); ValueError
  // "process not started" before start().
  int sentinel() const;

  // The name ("Process-1", "Process-1:2" for a grandchild).
  std::string name() const;
  void set_name(std::string name);
  // Whether the child is daemonic.
  bool daemon() const;
  // AssertionError "process has already started" after start().
  void set_daemon(bool daemonic);
  // The authentication key (32 random bytes in the main process, inherited by children).
  std::string authkey() const;
  void set_authkey(std::string key);
  // The start method this process uses.
  std::string start_method() const;

 protected:
  // The child's work; the default calls the callable given to the constructor.
  virtual void run();

 private:
  friend struct detail::ProcessAccess;
  struct Adopt {};
  Process(Adopt, std::shared_ptr<detail::ProcessState> state);
  std::function<void()> target_;
  std::function<std::string()> encode_;  // the call frame of target_; empty if it cannot cross
  std::shared_ptr<detail::ProcessState> state_;
};

namespace detail {
// register_process's registry: how a registered subclass's object is written.
using ProcessEncoder = std::string (*)(const Process&);
void register_process_type(const std::type_info& type, ProcessEncoder encode) noexcept;
// In a forkserver or spawn child: hands over the object that a subclass's frame decoded
// into (the worker runs it).
void hand_over_process(std::unique_ptr<Process> p) noexcept;

// A registered subclass crosses as a call frame of this trampoline: its fields (its own
// cereal serialize/save), decoded in the child into a default-constructed T.
template <class T>
struct ProcessTrampoline {
  static void run(BoundedInputArchive& ar) {
    auto p = std::make_unique<T>();
    try {
      ar(*p);
      if (ar.remaining() != 0)
        throw UnpicklingError(std::to_string(ar.remaining()) + " bytes left over");
    } catch (...) {
      rethrow_call_decode_error(typeid(T).name());
    }
    hand_over_process(std::move(p));
  }
  static std::string encode(const Process& p) {
    return encode_call_frame(key, [&](cereal::BinaryOutputArchive& ar) {
      ar(static_cast<const T&>(p));
    });
  }
  static inline const std::uint64_t key =
      register_trampoline(fnv1a(typeid(ProcessTrampoline).name()), &ProcessTrampoline::run);
};
}  // namespace detail

// Makes the Process subclass T startable with forkserver and spawn, as Python pickles a
// Process object: the child default-constructs a T, reads T's fields back through T's cereal
// serialize (or save/load), restores name, daemon and authkey, and calls run(). Call it
// before the first start() of a T (GILFREE_MP_REGISTER_PROCESS(T) at namespace scope does
// so during static initialisation); the child's decoder registers itself during static
// initialisation wherever this is instantiated. Returns true.
template <class T>
bool register_process() {
  static_assert(std::derived_from<T, Process>, "register_process<T>: T must derive from mp::Process");
  static_assert(std::default_initializable<T>,
                "a Process subclass crosses to a forkserver or spawn child as a default-"
                "constructed object whose fields are read back: give it a default constructor");
  static_assert(cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
                    cereal::traits::is_input_serializable<T, detail::BoundedInputArchive>::value,
                "a Process subclass crosses to a forkserver or spawn child by its fields: give it "
                "a cereal serialize(Archive&) member (or save/load) over the fields run() needs");
  detail::register_process_type(typeid(T), &detail::ProcessTrampoline<T>::encode);
  return true;
}

// The Process object of the caller ("MainProcess" in the main process).
Process& current_process();
// The parent of the current process, or nullptr in the main process.
Process* parent_process();
// The live children of the current process; finished ones are reaped.
std::vector<Process*> active_children();
// The number of CPUs in the system, os.cpu_count().
int cpu_count();

// A start method, as multiprocessing's contexts: get_context("spawn").Process(...).
class Context {
 public:
  // ValueError "cannot find context for 'x'" for an unknown method.
  explicit Context(std::string method);
  // The context's start method.
  const std::string& get_start_method() const noexcept { return method_; }
  // A Process using this context's start method.
  template <class... A>
  ::gilfree::multiprocessing::Process Process(ProcessOptions options, A&&... a) const {
    options.start_method = method_;
    return ::gilfree::multiprocessing::Process(std::move(options), std::forward<A>(a)...);
  }

 private:
  std::string method_;
};

// The context of `method`, or of the default method when empty.
Context get_context(std::string method = {});
// Sets the default start method. RuntimeError "context has already been set" when one is
// set and `force` is false; ValueError for an unknown method.
void set_start_method(std::string method, bool force = false);
// The default start method; when none is set, fixes it to "forkserver" unless
// `allow_none` (then returns empty).
std::string get_start_method(bool allow_none = false);
// {"forkserver", "fork", "spawn"}, the default first.
std::vector<std::string> get_all_start_methods();
// In a spawned worker, runs the worker and never returns; elsewhere does nothing. Needed
// at the top of main only in an executable linked without gilfree's main hook.
void freeze_support(int argc, char** argv);

namespace detail {
// Stops this process's fork server; the next forkserver start makes a new one (tests).
void stop_forkserver();
}  // namespace detail

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}

#define GILFREE_MP_DETAIL_CONCAT2(a, b) a##b
#define GILFREE_MP_DETAIL_CONCAT(a, b) GILFREE_MP_DETAIL_CONCAT2(a, b)
// Registers the Process subclass T (see register_process) during static initialisation; use
// at namespace scope, once per type, in a source file of the program.
#define GILFREE_MP_REGISTER_PROCESS(T)                                                \
  [[maybe_unused]] static const bool GILFREE_MP_DETAIL_CONCAT(gilfree_mp_process_reg_, \
                                                              __COUNTER__) =          \
      ::gilfree::multiprocessing::register_process<T>()
