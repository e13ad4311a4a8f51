// Process, contexts and the three start methods (gilfree/multiprocessing/process.hpp).
//
// Layout: the per-process globals; the child's bootstrap (shared by every method); the
// lifeline; fork; the fork server; spawn; Process's members; the module functions.
#include "gilfree/multiprocessing/process.hpp"

#include <cxxabi.h>
#include <dirent.h>
#include <stdio_ext.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GLIBCXX__)
#include <ext/stdio_sync_filebuf.h>
#endif
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>

#include "gilfree/detail/fork.hpp"
#include "gilfree/multiprocessing/connection.hpp"
#include "gilfree/multiprocessing/detail/fd_passing.hpp"

extern "C" int __wrap_main(int, char**, char**) __attribute__((weak));
extern char** environ;

namespace gilfree::multiprocessing {

namespace detail {

struct ProcessState {
  mutable std::mutex mu;
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  std::string authkey;
  std::string method;
  pid_t parent_pid = 0;  // the process that created the object
  bool started = false;
  bool closed = false;
  bool adopted = false;  // the current or parent process, not a child we started
  pid_t pid = 0;
  int pidfd = -1;
  int status_fd = -1;   // forkserver: where the server reports the wait status
  int lifeline_w = -1;  // the child dies when this closes
  std::optional<int> exitcode;
  Process* owner = nullptr;
};

// What a forkserver or spawn child needs to know about itself.
struct WorkerSpec {
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  std::string authkey;
  std::string method;
  std::int32_t parent_pid = 0;
  std::string parent_name;
  std::string call;
  std::string process;       // a registered subclass's type and fields (process_types.cpp)
  std::string process_type;  // its name, for the child's errors
  std::int32_t nfds = 0;     // descriptors passed with the start (fd_passing.hpp)
  template <class A>
  void serialize(A& ar) {
    ar(name, identity, daemon, authkey, method, parent_pid, parent_name, call, process,
       process_type, nfds);
  }
};

ProcessEncoder find_process_encoder(const std::type_info& type);
std::unique_ptr<Process> take_handed_over_process() noexcept;

struct ProcessAccess {
  static std::shared_ptr<ProcessState>& state(Process& p) { return p.state_; }
  static void run(Process& p) { p.run(); }
  static Process* adopt(std::shared_ptr<ProcessState> s) {
    return new Process(Process::Adopt{}, std::move(s));
  }
  static void set_target(Process& p, std::function<void()> f) { p.target_ = std::move(f); }
  static bool has_target(Process& p) { return static_cast<bool>(p.target_); }
};

namespace {

struct ForkServer {
  pid_t pid = 0;
  pid_t owner = 0;  // the process that started it
  int ctl = -1;
  int lifeline_w = -1;
  int pidfd = -1;
};

struct Globals {
  std::mutex mu;  // children, the fork server, and every start
  std::vector<std::shared_ptr<ProcessState>> children;
  Process* current = nullptr;
  // The parent, as parent_process() returns it: made on first use from parent_pid and
  // parent_name (set by a child's bootstrap), so that a child that never asks pays nothing.
  Process* parent = nullptr;
  pid_t parent_pid = 0;
  std::string parent_name;
  int counter = 1;
  std::string default_method;  // empty: not set yet
  bool warned_threads = false;
  bool exit_hook = false;
  bool freeze_support_called = false;
  bool bootstrapping = false;  // a spawned worker that reached user code unhooked
  ForkServer server;
  // The fork handlers' state, here beside mu rather than in globals or thread_locals of
  // their own: every fork writes this page anyway (mu), and each page a fork parent
  // writes costs it a copy-on-write fault, 13-25 us on this project's VMs.
  //  forking_under_mu: the thread that forks while it holds mu (fork_holding_mu), so
  //    that the handlers leave mu to it; 0 otherwise. Only that thread stores its id.
  //  mu_held_across_fork, forking_thread_holds_mu: set by the prepare handler, read by the
  //    parent and child handlers, all on the forking thread.
  std::atomic<pthread_t> forking_under_mu{0};
  bool mu_held_across_fork = false;
  bool forking_thread_holds_mu = false;
};

// The fork handlers (below) reach the globals through this pointer, not through G(): a
// thread making them holds G()'s static-initialisation guard, and a fork() running the
// handlers meanwhile must not wait for it. Atomic: TSan cannot see glibc's atfork lock.
std::atomic<Globals*> globals_ptr{nullptr};
void globals_prepare() noexcept;
void globals_parent() noexcept;
void globals_child() noexcept;

GILFREE_FORK_PATH Globals& G() {
  static Globals* g = [] {
    auto* made = new Globals;  // never destroyed: used during exit
    globals_ptr.store(made, std::memory_order_release);
    ::pthread_atfork(globals_prepare, globals_parent, globals_child);
    return made;
  }();
  return *g;
}
// Made during static initialisation (see gilfree/detail/fork.hpp: a lazy first use racing
// a fork).
[[maybe_unused]] const bool globals_made_early = (G(), true);

constexpr const char* kWorkerEnv = "GILFREE_MP_WORKER";
constexpr int kSpawnPayloadFd = 3;
constexpr int kSpawnLifelineFd = 4;
constexpr int kSpawnPassedFd = 5;  // the first descriptor a start passes (fd_passing.hpp)

int sys_pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int status_to_exitcode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 255;
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A C++ stream that writes straight into C's FILE (sync_with_stdio, the default) holds no
// output of its own: flushing the FILE is enough. The answer for the stream's buffer is
// kept in `seen` (the buffer's address, its low bit the answer), so that a fork child,
// whose parent asked before it forked, runs no dynamic_cast (a page fault for the code).
GILFREE_FORK_PATH bool holds_no_output(const std::ostream& os,
                                       std::atomic<std::uintptr_t>& seen) {
#if defined(__GLIBCXX__)
  const auto buf = reinterpret_cast<std::uintptr_t>(os.rdbuf());  // aligned: bit 0 is free
  const std::uintptr_t known = seen.load(std::memory_order_relaxed);
  if ((known & ~std::uintptr_t{1}) == buf) return known & 1;
  const bool sync = dynamic_cast<__gnu_cxx::stdio_sync_filebuf<char>*>(os.rdbuf()) != nullptr;
  seen.store(buf | std::uintptr_t{sync}, std::memory_order_relaxed);
  return sync;
#else
  (void)os, (void)seen;
  return false;
#endif
}

// As Python's util._flush_std_streams (before a fork, and when a child ends): the standard
// output and error streams, C's and C++'s, not every open FILE. Only a stream with pending
// output is touched, because in a fork child each page written costs a copy-on-write fault
// (13 us on this project's VMs) and fflush writes the FILE's lock even when it has nothing
// to write.
GILFREE_FORK_PATH void flush_std_streams() {
  static std::atomic<std::uintptr_t> seen[3] = {};
  std::ostream* streams[3] = {&std::cout, &std::cerr, &std::clog};
  for (int i = 0; i < 3; ++i)
    if (!holds_no_output(*streams[i], seen[i])) streams[i]->flush();
  for (std::FILE* f : {stdout, stderr})
    if (::__fpending(f) > 0) std::fflush(f);
}

// The kernel kills this process when the lifeline's write end closes (the parent died):
// O_ASYNC on the read end with F_SETSIG = SIGKILL. No thread, and it works while the
// child is blocked anywhere.
GILFREE_FORK_PATH void arm_lifeline(int fd) {
  ::fcntl(fd, F_SETOWN, ::getpid());
  ::fcntl(fd, F_SETSIG, SIGKILL);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_ASYNC);
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) > 0) ::_exit(1);  // the parent died before we armed it
}

// In a fork child: the parent's descriptors for its other children and its fork server
// are not ours (and a child holding a sibling's lifeline would keep the sibling alive).
GILFREE_FORK_PATH void close_inherited_fds(Globals& g) {
  for (auto& s : g.children) {
    close_fd(s->pidfd);
    close_fd(s->status_fd);
    close_fd(s->lifeline_w);
  }
  g.children.clear();
  close_fd(g.server.ctl);
  close_fd(g.server.lifeline_w);
  close_fd(g.server.pidfd);
  // Not `g.server = ForkServer{}`: GCC loads that from .rodata, a page fault in every
  // fork child.
  g.server.pid = 0;
  g.server.owner = 0;
}

// ---- fork handlers (see gilfree/detail/fork.hpp) ----------------------------------------
// Whatever forks this process (a Process start, the fork server, a user's own fork()),
// the child gets g.mu unlocked and none of the parent's children, fork server or
// lifelines: they are not its own (and a child holding a sibling's lifeline would keep
// the sibling alive). A start forks while holding g.mu, so the handlers cannot block on
// it (that thread waits for glibc's atfork lock, which a forking thread holds while it
// runs the handlers): they take g.mu only if it is free. If another thread holds it,
// the child cannot trust the lists it guards and abandons them (their descriptors stay
// open in that child), as Python abandons a lock held by another thread at a fork.

// fork() from a thread that holds g.mu.
GILFREE_FORK_PATH pid_t fork_holding_mu() {
  Globals& g = *globals_ptr.load(std::memory_order_acquire);
  g.forking_under_mu.store(::pthread_self(), std::memory_order_relaxed);
  pid_t pid = ::fork();
  g.forking_under_mu.store(0, std::memory_order_relaxed);
  return pid;
}

void globals_prepare() noexcept {
  Globals& g = *globals_ptr.load(std::memory_order_acquire);
  // Only this thread stores its own id there, so a stale read is never equal to it.
  g.forking_thread_holds_mu =
      ::pthread_equal(g.forking_under_mu.load(std::memory_order_relaxed), ::pthread_self());
  g.mu_held_across_fork = g.forking_thread_holds_mu || g.mu.try_lock();
}
void globals_parent() noexcept {
  Globals& g = *globals_ptr.load(std::memory_order_acquire);
  if (g.mu_held_across_fork && !g.forking_thread_holds_mu) g.mu.unlock();
}
GILFREE_FORK_PATH void globals_child() noexcept {
  Globals& g = *globals_ptr.load(std::memory_order_acquire);
  new (&g.mu) std::mutex;  // locked by a thread, perhaps this one, that is gone or done
  g.forking_under_mu.store(0, std::memory_order_relaxed);
  if (g.mu_held_across_fork) {
    close_inherited_fds(g);
  } else {  // possibly half-updated: leaked, not read
    new (&g.children) std::vector<std::shared_ptr<ProcessState>>;
    g.server = ForkServer{};
  }
}

void exit_function();

// The last steps of every child: set up the globals, run, report, exit.
GILFREE_FORK_PATH [[noreturn]] void bootstrap(Process* self, pid_t parent_pid,
                                             std::string parent_name) {
  Globals& g = G();
  auto& st = ProcessAccess::state(*self);
  st->pid = ::getpid();
  st->started = true;
  st->adopted = true;
  st->parent_pid = parent_pid;
  g.current = self;
  g.counter = 1;
  g.exit_hook = false;
  g.bootstrapping = false;
  g.parent = nullptr;  // made by parent_process() when asked
  g.parent_pid = parent_pid;
  g.parent_name = std::move(parent_name);
  int code = 0;
  try {
    ProcessAccess::run(*self);
  } catch (const SystemExit& e) {
    code = e.code;
  } catch (const std::exception& e) {
    std::string type = demangle(abi::__cxa_current_exception_type()->name());
    flush_std_streams();
    std::fprintf(stderr, "Process %s:\n%s: %s\n", st->name.c_str(), type.c_str(), e.what());
    code = 1;
  } catch (...) {
    std::string type = demangle(abi::__cxa_current_exception_type()->name());
    flush_std_streams();
    std::fprintf(stderr, "Process %s:\n%s\n", st->name.c_str(), type.c_str());
    code = 1;
  }
  // As Python's _bootstrap: threading._shutdown() (the child's own non-daemon threads;
  // the parent's, inherited by a fork, read as finished), then the exit function.
  try {
    ::gilfree::detail::shutdown_threads();
  } catch (...) {
  }
  try {
    exit_function();
  } catch (...) {
  }
  flush_std_streams();
  ::_exit(code);
}

// A forkserver or spawn child: decode the spec and run its call or its Process subclass.
// `received`: the descriptors its start passed (a spawn child's are at kSpawnPassedFd on).
GILFREE_FORK_PATH [[noreturn]] void run_worker(std::string_view payload, std::vector<int> received,
                                              bool spawned) {
  WorkerSpec spec;
  try {
    spec = loads<WorkerSpec>(payload);
    if (spawned) {
      for (int i = 0; i < spec.nfds; ++i) received.push_back(kSpawnPassedFd + i);
    } else if (static_cast<std::size_t>(spec.nfds) != received.size()) {
      throw UnpicklingError("the task names " + std::to_string(spec.nfds) + " descriptors, " +
                            std::to_string(received.size()) + " came with it");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gilfree: worker could not read its task: %s\n", e.what());
    ::_exit(1);
  }
  // Most starts pass none: then the registry is not even made (a page fault or two).
  if (!received.empty()) set_received_fds(std::move(received));
  Process* self = nullptr;
  if (!spec.process.empty()) {
    try {  // the subclass's fields: a failure reads as run()'s would, "Process NAME:" and 1
      try {
        run_call(spec.process);
      } catch (const PicklingError& e) {  // no decoder here: registered in the parent only
        throw PicklingError("the Process subclass " + spec.process_type +
                            " cannot be decoded in this child (" + e.what() +
                            "): register it during static initialisation, "
                            "GILFREE_MP_REGISTER_PROCESS(" + spec.process_type +
                            ") at namespace scope, so that every process of the program has it");
      }
      self = take_handed_over_process().release();
      if (!self) throw UnpicklingError("the process frame made no object");
    } catch (const std::exception& e) {
      std::string type = demangle(abi::__cxa_current_exception_type()->name());
      std::fprintf(stderr, "Process %s:\n%s: %s\n", spec.name.c_str(), type.c_str(), e.what());
      std::fflush(stderr);
      ::_exit(1);
    }
    if (spec.call.empty()) close_untaken_fds();
  } else {
    self = ProcessAccess::adopt(std::make_shared<ProcessState>());
  }
  {
    auto& st = ProcessAccess::state(*self);
    std::lock_guard l(st->mu);
    st->name = spec.name;
    st->identity = spec.identity;
    st->daemon = spec.daemon;
    st->authkey = spec.authkey;
    st->method = spec.method;
  }
  if (!spec.call.empty())
    ProcessAccess::set_target(*self, [call = std::move(spec.call)] { run_call(call); });
  bootstrap(self, spec.parent_pid, std::move(spec.parent_name));
}

std::string read_framed(int fd) {
  std::uint64_t n = 0;
  if (!read_exact(fd, &n, sizeof n)) throw EOFError();
  if (n > (1ull << 40)) throw UnpicklingError("absurd task size");
  std::string s(static_cast<std::size_t>(n), '\0');
  if (n && !read_exact(fd, s.data(), s.size())) throw EOFError();
  return s;
}

void write_framed(int fd, std::string_view s) {
  std::uint64_t n = s.size();
  write_all(fd, &n, sizeof n);
  write_all(fd, s.data(), s.size());
}

// The number of threads in this process (field 20 of /proc/self/stat, after the command
// name in parentheses), 0 if unknown. Reads into the stack: no allocation on each start.
int count_threads() {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  for (int field = 2; p && field < 20; ++field) p = std::strchr(p + 1, ' ');
  return p ? std::atoi(p + 1) : 0;
}

// This program's arguments, which a spawned worker gets too (main may look at them
// before it calls freeze_support).
std::vector<std::string> self_argv() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string s;
  while (std::getline(f, s, '\0')) out.push_back(s);
  if (out.empty()) out.emplace_back("gilfree-worker");
  return out;
}

// Starts /proc/self/exe in a worker `role` ("spawn" or "forkserver") with `fd3` and `fd4`
// as its descriptors 3 and 4, `passed` from 5 on, and nothing else beyond stdio.
// posix_spawn (CLONE_VFORK) is safe from a multi-threaded parent. Returns the pid; OSError
// on failure. The temporary duplicates are closed on every path.
pid_t spawn_self(const char* role, int fd3, int fd4, const std::vector<int>& passed = {}) {
  // Sources above every target, so no dup2 overwrites a source still to be read.
  const int lowest = std::max(10, kSpawnPassedFd + static_cast<int>(passed.size()));
  std::vector<int> dups;  // closed on every path
  struct Closer {
    std::vector<int>& fds;
    ~Closer() {
      for (int fd : fds) ::close(fd);
    }
  } closer{dups};
  std::vector<int> srcs{fd3, fd4};
  srcs.insert(srcs.end(), passed.begin(), passed.end());
  for (int fd : srcs) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, lowest);
    if (d < 0) throw OSError("fcntl", errno);
    dups.push_back(d);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (std::size_t i = 0; i < dups.size(); ++i)
    posix_spawn_file_actions_adddup2(&fa, dups[i], kSpawnPayloadFd + static_cast<int>(i));
  posix_spawn_file_actions_addclosefrom_np(&fa, kSpawnPayloadFd + static_cast<int>(dups.size()));
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "GILFREE_MP_WORKER=", 18) != 0) env_store.emplace_back(*e);
  env_store.emplace_back(std::string(kWorkerEnv) + "=" + role);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = self_argv();
  std::vector<char*> argv;
  for (auto& x : args) argv.push_back(x.data());
  argv.push_back(nullptr);
  flush_std_streams();
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw OSError("posix_spawn", rc);
  return pid;
}

bool has_main_hook(const Globals& g) { return &__wrap_main != nullptr || g.freeze_support_called; }

// ---- the fork server ------------------------------------------------------------------

// One request to the fork server: descriptors (SCM_RIGHTS) riding on the first bytes of
// a length-prefixed payload, all on the server's control socket.
//   client -> server   [u64 length][payload]  + fds {status socket, lifeline, stdin, stdout, stderr,
//                                                    then those the start passes (fd_passing.hpp)}
//   server -> client   [i32 pid]              + fds {the worker's pidfd}   on the status socket
//   server -> client   [i32 wait status]      when the worker has ended    on the status socket
// The client holds a pidfd from the start, so the server may reap the worker as soon as
// it ends: no acknowledgement round trip, and the worker has its task without a pipe.
constexpr int kRequestFds = 5;
constexpr int kMaxRequestFds = kRequestFds + kMaxPassedFds;

// Sends `data` on `sock` with `fds` attached to its first bytes. ProcessError if the
// peer is gone.
void send_with_fds(int sock, std::string_view data, const int* fds, int n) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kMaxRequestFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n > 0) {
    msg.msg_control = ctrl;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  ssize_t r;
  do r = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r <= 0) throw ProcessError("the forkserver is gone");
  try {  // the rest of a large payload: the descriptors went with the first bytes
    write_all(sock, data.data() + r, data.size() - static_cast<std::size_t>(r));
  } catch (const std::exception&) {
    throw ProcessError("the forkserver is gone");
  }
}

// Receives exactly `n` bytes into `buf` and the descriptors attached to them (close-on-exec)
// into `fds`. Returns the number of descriptors, or -1 at end of file or on error (any
// descriptors received are closed then).
int recv_with_fds(int sock, void* buf, std::size_t n, int* fds) {
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * kMaxRequestFds)];
  iovec iov{buf, n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  ssize_t r;
  do r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  while (r < 0 && errno == EINTR);
  int got = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    std::memcpy(fds + got, CMSG_DATA(c), sizeof(int) * static_cast<std::size_t>(k));
    got += k;
  }
  if (r != static_cast<ssize_t>(n) || (msg.msg_flags & MSG_CTRUNC)) {
    for (int i = 0; i < got; ++i) ::close(fds[i]);
    return -1;
  }
  return got;
}

// The server's side of a request: its descriptors and payload. False when the client
// is gone or sent something malformed (nothing received is left open then).
struct Request {
  int fds[kMaxRequestFds];
  int nfds = 0;
  std::string payload;
};
bool recv_request(int ctl, Request& rq) {
  std::uint64_t n = 0;
  rq.nfds = recv_with_fds(ctl, &n, sizeof n, rq.fds);
  if (rq.nfds < 0) return false;
  bool ok = rq.nfds >= kRequestFds && n <= (1ull << 40);
  if (ok) {
    try {
      rq.payload.resize(static_cast<std::size_t>(n));
      ok = n == 0 || read_exact(ctl, rq.payload.data(), rq.payload.size());
    } catch (...) {
      ok = false;
    }
  }
  if (!ok) {
    for (int i = 0; i < rq.nfds; ++i) ::close(rq.fds[i]);
    rq.nfds = 0;
  }
  return ok;
}

// The server: forks a worker per request and sends the client the worker's pid and pidfd,
// then, when the worker ends, its wait status (see the protocol above). It watches each
// worker through a pidfd, not SIGCHLD: no signal handler, nothing a sanitizer runtime can
// defer.
// On the fork path: each worker returns from fork() into this function.
GILFREE_FORK_PATH [[noreturn]] void server_loop(int ctl) {
  ::signal(SIGINT, SIG_IGN);  // a Ctrl-C to the group is for the parent to handle
  look_up_program_layout();   // once here, not in every worker
  struct Kid {
    int st;     // the client's status socket
    int pidfd;  // the worker's end
  };
  std::map<pid_t, Kid> kids;
  std::vector<pollfd> pfds;
  std::vector<pid_t> who;
  for (;;) {
    pfds.assign({pollfd{ctl, POLLIN, 0}});
    who.assign({0});
    for (auto& [pid, k] : kids) {
      pfds.push_back(pollfd{k.pidfd, POLLIN, 0});
      who.push_back(pid);
    }
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      ::_exit(1);
    }
    for (std::size_t i = 1; i < pfds.size(); ++i) {
      if (!pfds[i].revents) continue;
      auto it = kids.find(who[i]);
      int status = 0;
      if (it == kids.end() || ::waitpid(who[i], &status, WNOHANG) != who[i]) continue;
      std::int32_t st = status;
      [[maybe_unused]] auto r = ::send(it->second.st, &st, sizeof st, MSG_NOSIGNAL);
      ::close(it->second.st);
      ::close(it->second.pidfd);
      kids.erase(it);
    }
    if (pfds[0].revents) {
      // End of file: the parent is gone. Anything malformed leaves the stream out of step,
      // so the server ends then too; the parent's next start begins a new one.
      Request rq;
      if (!recv_request(ctl, rq)) ::_exit(0);
      // The client's status socket, its lifeline, and its stdio (so the worker writes
      // where its parent does now, not where the server's stdio went), then the
      // descriptors its start passes.
      int st = rq.fds[0], lf = rq.fds[1];
      pid_t pid = ::fork();
      if (pid == 0) {
        ::close(ctl);
        for (auto& [p, k] : kids) {
          ::close(k.st);
          ::close(k.pidfd);
        }
        ::close(st);
        ::signal(SIGINT, SIG_DFL);
        for (int i = 0; i < 3; ++i) {
          ::dup2(rq.fds[2 + i], i);
          ::close(rq.fds[2 + i]);
        }
        arm_lifeline(lf);
        run_worker(rq.payload, std::vector<int>(rq.fds + kRequestFds, rq.fds + rq.nfds), false);
      }
      for (int i = 1; i < rq.nfds; ++i) ::close(rq.fds[i]);
      int pfd = pid > 0 ? sys_pidfd_open(pid) : -1;
      if (pid > 0 && pfd < 0) {  // cannot watch it: it must not run unwatched
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
      }
      std::int32_t p = pid;
      try {
        send_with_fds(st, std::string_view(reinterpret_cast<const char*>(&p), sizeof p), &pfd,
                      pfd >= 0 ? 1 : 0);
      } catch (...) {  // the client let go: the worker still runs; reap it when it ends
      }
      if (pid < 0) {
        ::close(st);
      } else {
        kids[pid] = Kid{st, pfd};
      }
    }
  }
}

bool server_alive(const ForkServer& s) {
  if (s.owner != ::getpid() || s.pidfd < 0) return false;
  pollfd p{s.pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// A fork server made by fork() holds every descriptor its parent had then, and each worker
// inherits them: a pipe or socket among them (a Connection created before the server) would
// stay open in every worker, so its peer would never see EOF. CPython's server, a fresh
// exec, holds none; neither does ours when spawned. Each such descriptor is pointed at
// /dev/null rather than closed, so that a number an inherited object still names is never
// reused for another file (the object then reads EOF and writes nowhere).
void neutralize_inherited_streams(int keep1, int keep2) {
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return;
  std::vector<int> fds;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    const int dfd = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != dfd && fd != devnull && fd != keep1 && fd != keep2) fds.push_back(fd);
    }
    ::closedir(d);
  }
  for (int fd : fds) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))) continue;
    const int flags = ::fcntl(fd, F_GETFD);
    ::dup3(devnull, fd, flags >= 0 && (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
  }
  ::close(devnull);
}

// Starts the fork server (forked from this process) unless it runs. Called with g.mu.
void ensure_server(Globals& g) {
  if (server_alive(g.server)) return;
  close_fd(g.server.ctl);
  close_fd(g.server.lifeline_w);
  close_fd(g.server.pidfd);
  if (g.server.pid > 0 && g.server.owner == ::getpid()) ::waitpid(g.server.pid, nullptr, WNOHANG);
  int ctl[2], lf[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) != 0)
    throw OSError("socketpair", errno);
  if (::pipe2(lf, O_CLOEXEC) != 0) {
    ::close(ctl[0]);
    ::close(ctl[1]);
    throw OSError("pipe", errno);
  }
  // From a multi-threaded parent the server is a fresh exec of this program (locks held
  // by other threads at a fork would stay held in every worker), as CPython 3.14's is;
  // from a single-threaded one, or without the main hook, a fork (cheaper).
  pid_t pid;
  if (has_main_hook(g) && count_threads() > 1) {
    try {
      pid = spawn_self("forkserver", ctl[1], lf[0]);
    } catch (...) {
      for (int fd : {ctl[0], ctl[1], lf[0], lf[1]}) ::close(fd);
      throw;
    }
  } else {
    flush_std_streams();
    pid = fork_holding_mu();
  }
  if (pid < 0) {
    int e = errno;
    ::close(ctl[0]);
    ::close(ctl[1]);
    ::close(lf[0]);
    ::close(lf[1]);
    throw OSError("fork", e);
  }
  if (pid == 0) {  // the fork handler made g.mu and the inherited descriptors right
    ::close(ctl[0]);
    ::close(lf[1]);
    neutralize_inherited_streams(ctl[1], lf[0]);
    arm_lifeline(lf[0]);
    server_loop(ctl[1]);
  }
  ::close(ctl[1]);
  ::close(lf[0]);
  g.server.pid = pid;
  g.server.owner = ::getpid();
  g.server.ctl = ctl[0];
  g.server.lifeline_w = lf[1];
  g.server.pidfd = sys_pidfd_open(pid);
}

// ---- waiting --------------------------------------------------------------------------

// Collects the exit code if the child has ended within `d`. Returns true once known.
bool poll_exit(ProcessState& s, Deadline d) {
  {
    std::lock_guard l(s.mu);
    if (s.exitcode) return true;
  }
  int fd;
  bool via_server;
  {
    std::lock_guard l(s.mu);
    via_server = s.status_fd >= 0;
    fd = via_server ? s.status_fd : s.pidfd;
  }
  if (fd < 0) return false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ms = -1;
    if (!d.is_forever()) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(d.remaining()).count();
      ms = static_cast<int>(std::min<long long>((us + 999) / 1000, INT_MAX));
    }
    int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0 && !d.expired()) continue;
      return false;
    }
    break;
  }
  std::lock_guard l(s.mu);
  if (s.exitcode) return true;
  if (via_server) {
    std::int32_t status = 0;
    ssize_t r;
    do r = ::read(s.status_fd, &status, sizeof status);
    while (r < 0 && errno == EINTR);
    s.exitcode = r == static_cast<ssize_t>(sizeof status) ? status_to_exitcode(status) : 255;
    close_fd(s.status_fd);
  } else {
    siginfo_t si{};
    int r;
    do r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s.pidfd), &si, WEXITED);
    while (r < 0 && errno == EINTR);
    if (r != 0) {
      s.exitcode = 255;
    } else {
      s.exitcode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    }
  }
  close_fd(s.lifeline_w);
  return true;
}

void send_signal(ProcessState& s, int sig) {
  std::lock_guard l(s.mu);
  if (s.exitcode || s.pidfd < 0) return;
  // A pidfd cannot hit a recycled pid; ESRCH (already ended) is not an error.
  ::syscall(SYS_pidfd_send_signal, s.pidfd, sig, nullptr, 0);
}

void remove_child(Globals& g, const std::shared_ptr<ProcessState>& s) {
  std::lock_guard l(g.mu);
  std::erase(g.children, s);
}

GILFREE_FORK_PATH void exit_function() {
  Globals& g = G();
  std::vector<std::shared_ptr<ProcessState>> kids;
  {
    std::lock_guard l(g.mu);
    kids = g.children;
  }
  for (auto& s : kids)
    if (s->daemon && !poll_exit(*s, Timeout::zero().deadline())) send_signal(*s, SIGTERM);
  for (auto& s : kids) poll_exit(*s, Deadline());
}

void stop_server_at_exit();
// At exit: the children as Python does, then the fork server (it would exit on EOF
// anyway; waiting for it means no process outlives the program).
void atexit_hook() {
  exit_function();
  stop_server_at_exit();
}

std::string default_method(Globals& g) {
  if (g.default_method.empty()) g.default_method = "forkserver";
  return g.default_method;
}

void check_method(const std::string& m) {
  if (m != "fork" && m != "forkserver" && m != "spawn")
    throw ValueError("cannot find context for '" + m + "'");
}

[[noreturn]] void bootstrapping_error() {
  std::fprintf(stderr,
               "gilfree: An attempt has been made to start a new process before the current "
               "process has finished its bootstrapping phase.\nThis spawned worker reached "
               "main() without becoming a worker: link the executable with gilfree::gilfree "
               "(its main hook) or call gilfree::mp::freeze_support(argc, argv) at the top of "
               "main().\n");
  std::fflush(stderr);
  ::_exit(1);
}

// A spawned child: the worker role is in the environment.
[[noreturn]] void spawned_worker_main() {
  ::unsetenv(kWorkerEnv);
  arm_lifeline(kSpawnLifelineFd);
  std::string payload;
  try {
    payload = read_framed(kSpawnPayloadFd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gilfree: spawned worker could not read its task: %s\n", e.what());
    ::_exit(1);
  }
  ::close(kSpawnPayloadFd);
  run_worker(payload, {}, true);
}

// Runs at static initialisation: marks an unhooked spawned worker so that it cannot
// start processes (no fork bomb) if it reaches user code.
const bool g_role_checked = [] {
  if (std::getenv(kWorkerEnv) && &__wrap_main == nullptr) G().bootstrapping = true;
  return true;
}();

}  // namespace

// Called by __wrap_main before the program's main.
int main_hook(int argc, char** argv) {
  (void)argc;
  (void)argv;
  const char* role = std::getenv(kWorkerEnv);
  if (!role) return 0;
  if (std::strcmp(role, "forkserver") == 0) {  // a fork server spawned by a threaded parent
    ::unsetenv(kWorkerEnv);
    arm_lifeline(kSpawnLifelineFd);
    server_loop(kSpawnPayloadFd);
  }
  spawned_worker_main();
}

// Stops this process's fork server (the next forkserver start makes a new one); for tests.
void stop_forkserver() {
  Globals& g = G();
  std::lock_guard l(g.mu);
  if (g.server.owner != ::getpid()) return;
  close_fd(g.server.ctl);  // the server exits on EOF
  close_fd(g.server.lifeline_w);
  if (g.server.pidfd >= 0) {
    pollfd p{g.server.pidfd, POLLIN, 0};
    ::poll(&p, 1, 5000);
  }
  close_fd(g.server.pidfd);
  if (g.server.pid > 0) ::waitpid(g.server.pid, nullptr, 0);
  g.server = ForkServer{};
}

namespace {
void stop_server_at_exit() { stop_forkserver(); }
}  // namespace

}  // namespace detail

using detail::G;

// ---- Process --------------------------------------------------------------------------

Process::Process(Options options) : state_(std::make_shared<detail::ProcessState>()) {
  Process& cur = current_process();
  auto& g = G();
  state_->name = std::move(options.name);
  state_->daemon = options.daemon.value_or(cur.state_->daemon);
  state_->authkey = cur.state_->authkey;
  if (!options.start_method.empty()) detail::check_method(options.start_method);
  state_->method = std::move(options.start_method);
  state_->parent_pid = ::getpid();
  state_->owner = this;
  std::lock_guard l(g.mu);
  state_->identity = cur.state_->identity;
  state_->identity.push_back(g.counter++);
}

Process::Process(Adopt, std::shared_ptr<detail::ProcessState> state) : state_(std::move(state)) {
  state_->owner = this;
}

Process::~Process() {
  auto& s = *state_;
  std::unique_lock l(s.mu);
  s.owner = nullptr;
  if (s.adopted || !s.started || s.closed) {
    l.unlock();
    if (!s.adopted) {
      std::lock_guard l2(s.mu);
      detail::close_fd(s.pidfd);
    }
    return;
  }
  l.unlock();
  if (detail::poll_exit(s, Timeout::zero().deadline())) {
    {
      std::lock_guard l2(s.mu);
      detail::close_fd(s.pidfd);
      detail::close_fd(s.status_fd);
      detail::close_fd(s.lifeline_w);
    }
    detail::remove_child(G(), state_);
  }
  // Still running: it stays among the children, joined (or terminated) at exit.
}

GILFREE_FORK_PATH void Process::run() {
  if (target_) target_();
}

// On the fork path: a fork child returns from fork() into this function.
GILFREE_FORK_PATH void Process::start() {
  auto& g = G();
  auto& s = *state_;
  if (s.closed) throw ValueError("process object is closed");
  if (s.started || s.adopted) throw AssertionError("cannot start a process twice");
  if (s.parent_pid != ::getpid())
    throw AssertionError("can only start a process object created by current process");
  if (current_process().state_->daemon)
    throw AssertionError("daemonic processes are not allowed to have children");
  if (g.bootstrapping) detail::bootstrapping_error();
  active_children();  // reap, as Python's _cleanup()
  std::string method;
  {
    std::lock_guard l(g.mu);
    method = s.method.empty() ? detail::default_method(g) : s.method;
  }
  if (s.name.empty()) s.name = name();
  if (method == "spawn" && !detail::has_main_hook(g)) {
    throw RuntimeError(
        "the spawn start method needs gilfree's main hook: link the executable with "
        "gilfree::gilfree (which adds -Wl,--wrap=main) or call "
        "gilfree::mp::freeze_support(argc, argv) at the top of main()");
  }

  // Under forkserver and spawn the work crosses as Python pickles the Process object: a
  // registered subclass as its type and fields, the callable and arguments as a call frame.
  // The descriptors of the objects among them (Connections, shared memory) are collected
  // here and travel with the start (detail/fd_passing.hpp).
  detail::PassingScope passing;
  std::string payload;
  if (method != "fork") {
    detail::WorkerSpec spec;
    if (typeid(*this) != typeid(Process)) {
      std::string type = detail::demangle(typeid(*this).name());
      auto encode = detail::find_process_encoder(typeid(*this));
      if (!encode) {
        throw PicklingError("the Process subclass " + type + " cannot cross to a '" + method +
                            "' child: register it with GILFREE_MP_REGISTER_PROCESS(" + type +
                            ") (it needs a default constructor and a cereal serialize() of the "
                            "fields run() uses), or use the fork start method");
      }
      spec.process = encode(*this);
      spec.process_type = std::move(type);
    }
    if (target_) {
      if (!encode_) {
        throw PicklingError("a lambda with captures cannot cross a process boundary ('" + method +
                            "' start method): pass the values as arguments, give the callable a "
                            "serialize() member, or use the fork start method");
      }
      spec.call = encode_();
    }
    spec.name = s.name;
    spec.identity = s.identity;
    spec.daemon = s.daemon;
    spec.authkey = s.authkey;
    spec.method = method;
    spec.parent_pid = ::getpid();
    spec.parent_name = current_process().name();
    spec.nfds = static_cast<std::int32_t>(passing.fds().size());
    payload = dumps(spec);
  }

  std::unique_lock l(g.mu);
  if (!g.exit_hook) {
    g.exit_hook = true;
    std::atexit(detail::atexit_hook);
  }
  // The fork server first: it must not inherit this child's lifeline.
  if (method == "forkserver") detail::ensure_server(g);
  int lf[2];
  if (::pipe2(lf, O_CLOEXEC) != 0) throw OSError("pipe", errno);
  s.method = method;

  if (method == "fork") {
    if (!g.warned_threads && detail::count_threads() > 1) {
      g.warned_threads = true;
      std::fprintf(stderr,
                   "gilfree: DeprecationWarning: This process (pid=%d) is multi-threaded, use of "
                   "fork() may lead to deadlocks in the child.\n",
                   static_cast<int>(::getpid()));
    }
    detail::flush_std_streams();
    pid_t parent = ::getpid();
    std::string parent_name = current_process().name();
    pid_t pid = detail::fork_holding_mu();
    if (pid < 0) {
      int e = errno;
      ::close(lf[0]);
      ::close(lf[1]);
      throw OSError("fork", e);
    }
    if (pid == 0) {  // the fork handler made g.mu and the inherited descriptors right
      ::close(lf[1]);
      detail::arm_lifeline(lf[0]);
      detail::bootstrap(this, parent, std::move(parent_name));
    }
    ::close(lf[0]);
    s.pid = pid;
    s.pidfd = detail::sys_pidfd_open(pid);
  } else if (method == "forkserver") {
    int st[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) != 0) {
      ::close(lf[0]);
      ::close(lf[1]);
      throw OSError("socketpair", errno);
    }
    int fds[detail::kMaxRequestFds] = {st[1], lf[0], 0, 1, 2};
    int nfds = detail::kRequestFds;
    for (int fd : passing.fds()) fds[nfds++] = fd;  // at most kMaxPassedFds (pass_fd)
    std::uint64_t n = payload.size();
    payload.insert(0, reinterpret_cast<const char*>(&n), sizeof n);
    try {
      detail::send_with_fds(g.server.ctl, payload, fds, nfds);
    } catch (...) {
      for (int fd : {st[0], st[1], lf[0], lf[1]}) ::close(fd);
      throw;
    }
    ::close(st[1]);
    ::close(lf[0]);
    std::int32_t pid = -1;
    int pidfd = -1;
    int got = detail::recv_with_fds(st[0], &pid, sizeof pid, &pidfd);
    if (got != 1 || pid <= 0) {
      if (got > 0) ::close(pidfd);
      for (int fd : {st[0], lf[1]}) ::close(fd);
      throw ProcessError("the forkserver could not start the process");
    }
    s.pid = pid;
    s.pidfd = pidfd;
    s.status_fd = st[0];
  } else {  // spawn
    int pl[2];
    if (::pipe2(pl, O_CLOEXEC) != 0) {
      ::close(lf[0]);
      ::close(lf[1]);
      throw OSError("pipe", errno);
    }
    pid_t pid;
    try {
      pid = detail::spawn_self("spawn", pl[0], lf[0], passing.fds());
    } catch (...) {
      for (int fd : {pl[0], pl[1], lf[0], lf[1]}) ::close(fd);
      throw;
    }
    ::close(pl[0]);
    ::close(lf[0]);
    s.pid = pid;
    s.pidfd = detail::sys_pidfd_open(pid);
    try {
      detail::write_framed(pl[1], payload);
    } catch (...) {  // the child died early: its exit code says why
    }
    ::close(pl[1]);
  }
  s.lifeline_w = lf[1];
  s.started = true;
  g.children.push_back(state_);
  l.unlock();
  // The child has its copy of the work: drop the parent's, as Python's start() does (a
  // Connection moved in as an argument closes here). Outside g.mu: destructors run.
  target_ = nullptr;
  encode_ = nullptr;
}

void Process::join(Timeout timeout) {
  auto& s = *state_;
  if (s.closed) throw ValueError("process object is closed");
  if (s.adopted || s.parent_pid != ::getpid())
    throw AssertionError("can only join a child process");
  if (!s.started) throw AssertionError("can only join a started process");
  if (detail::poll_exit(s, timeout.deadline())) detail::remove_child(G(), state_);
}

bool Process::is_alive() const {
  auto& s = *state_;
  if (s.closed) throw ValueError("process object is closed");
  if (this == &current_process()) return true;
  if (s.adopted) {  // the parent
    if (s.pidfd < 0) return false;
    pollfd p{s.pidfd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
  if (s.parent_pid != ::getpid()) throw AssertionError("can only test a child process");
  if (!s.started) return false;
  if (detail::poll_exit(s, Timeout::zero().deadline())) {
    detail::remove_child(G(), state_);
    return false;
  }
  return true;
}

void Process::terminate() {
  if (state_->closed) throw ValueError("process object is closed");
  detail::send_signal(*state_, SIGTERM);
}

void Process::kill() {
  if (state_->closed) throw ValueError("process object is closed");
  detail::send_signal(*state_, SIGKILL);
}

void Process::interrupt() {
  if (state_->closed) throw ValueError("process object is closed");
  detail::send_signal(*state_, SIGINT);
}

void Process::close() {
  auto& s = *state_;
  if (s.closed) return;
  if (s.started && !s.adopted && !detail::poll_exit(s, Timeout::zero().deadline()))
    throw ValueError(
        "Cannot close a process while it is still running. You should first call join() or "
        "terminate().");
  {
    std::lock_guard l(s.mu);
    detail::close_fd(s.pidfd);
    detail::close_fd(s.status_fd);
    detail::close_fd(s.lifeline_w);
    s.closed = true;
  }
  detail::remove_child(G(), state_);
}

std::optional<pid_t> Process::pid() const {
  if (state_->closed) throw ValueError("process object is closed");
  if (this == &current_process()) return ::getpid();
  std::lock_guard l(state_->mu);
  if (!state_->started) return std::nullopt;
  return state_->pid;
}

std::optional<int> Process::exitcode() const {
  auto& s = *state_;
  if (s.closed) throw ValueError("process object is closed");
  if (!s.started || s.adopted) return std::nullopt;
  detail::poll_exit(s, Timeout::zero().deadline());
  std::lock_guard l(s.mu);
  return s.exitcode;
}

int Process::sentinel() const {
  if (state_->closed) throw ValueError("process object is closed");
  std::lock_guard l(state_->mu);
  if (!state_->started || state_->pidfd < 0) throw ValueError("process not started");
  return state_->pidfd;
}

std::string Process::name() const {
  std::lock_guard l(state_->mu);
  if (!state_->name.empty()) return state_->name;
  std::string type = typeid(*this) == typeid(Process) ? std::string("Process")
                                                      : detail::demangle(typeid(*this).name());
  auto colon = type.rfind("::");
  if (colon != std::string::npos) type = type.substr(colon + 2);
  std::string n = type + "-";
  for (std::size_t i = 0; i < state_->identity.size(); ++i) {
    if (i) n += ':';
    n += std::to_string(state_->identity[i]);
  }
  return n;
}

void Process::set_name(std::string name) {
  std::lock_guard l(state_->mu);
  state_->name = std::move(name);
}

bool Process::daemon() const { return state_->daemon; }

void Process::set_daemon(bool daemonic) {
  if (state_->started) throw AssertionError("process has already started");
  state_->daemon = daemonic;
}

std::string Process::authkey() const {
  std::lock_guard l(state_->mu);
  return state_->authkey;
}

void Process::set_authkey(std::string key) {
  std::lock_guard l(state_->mu);
  state_->authkey = std::move(key);
}

std::string Process::start_method() const {
  std::lock_guard l(state_->mu);
  if (!state_->method.empty()) return state_->method;
  return get_start_method();
}

// ---- module functions -----------------------------------------------------------------

Process& current_process() {
  auto& g = G();
  static Process* main_process = [] {
    auto s = std::make_shared<detail::ProcessState>();
    s->name = "MainProcess";
    s->adopted = true;
    s->started = true;
    s->pid = ::getpid();
    std::random_device rd;
    s->authkey.resize(32);
    for (auto& c : s->authkey) c = static_cast<char>(rd());
    return detail::ProcessAccess::adopt(std::move(s));
  }();
  return g.current ? *g.current : *main_process;
}

Process* parent_process() {
  auto& g = G();
  std::lock_guard l(g.mu);
  if (!g.parent && g.parent_pid > 0) {
    // The parent is alive while this process runs (its death kills us through the
    // lifeline), so its pid cannot have been reused yet.
    auto ps = std::make_shared<detail::ProcessState>();
    ps->name = g.parent_name;
    ps->pid = g.parent_pid;
    ps->started = true;
    ps->adopted = true;
    ps->pidfd = detail::sys_pidfd_open(g.parent_pid);  // close-on-exec, as every pidfd
    g.parent = detail::ProcessAccess::adopt(std::move(ps));
  }
  return g.parent;
}

std::vector<Process*> active_children() {
  auto& g = G();
  std::vector<std::shared_ptr<detail::ProcessState>> kids;
  {
    std::lock_guard l(g.mu);
    kids = g.children;
  }
  std::vector<Process*> out;
  for (auto& s : kids) {
    if (detail::poll_exit(*s, Timeout::zero().deadline())) {
      detail::remove_child(g, s);
      continue;
    }
    std::lock_guard l(s->mu);
    if (s->owner) out.push_back(s->owner);
  }
  return out;
}

int cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

Context::Context(std::string method) : method_(std::move(method)) {
  detail::check_method(method_);
}

Context get_context(std::string method) {
  if (method.empty()) return Context(get_start_method());
  return Context(std::move(method));
}

void set_start_method(std::string method, bool force) {
  auto& g = G();
  std::lock_guard l(g.mu);
  if (!g.default_method.empty() && !force) throw RuntimeError("context has already been set");
  if (method.empty() && force) {
    g.default_method.clear();
    return;
  }
  detail::check_method(method);
  g.default_method = std::move(method);
}

std::string get_start_method(bool allow_none) {
  auto& g = G();
  std::lock_guard l(g.mu);
  if (g.default_method.empty() && allow_none) return {};
  return detail::default_method(g);
}

std::vector<std::string> get_all_start_methods() { return {"forkserver", "fork", "spawn"}; }

void freeze_support(int argc, char** argv) {
  G().freeze_support_called = true;
  G().bootstrapping = false;
  detail::main_hook(argc, argv);
}

}  // namespace gilfree::multiprocessing
