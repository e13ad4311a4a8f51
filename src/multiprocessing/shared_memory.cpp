// SharedMemory: shm_open/ftruncate/mmap as CPython's _posixshmem, plus the creator-side
// tracking of issue 10 (unlink at normal exit what this process created and forgot).
#include "gilfree/multiprocessing/shared_memory.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>

namespace gilfree::multiprocessing::shared_memory {
namespace {

// The tracker process: a fork of each process that creates a tracked segment. It reads
// "R/name" and "U/name" lines from a socket whose other end that process (and any fork
// child made after it) holds; when the last of them is gone (EOF, whatever killed them), it
// unlinks the names still registered and says so on stderr, as CPython's resource
// tracker. It runs between fork() and _exit() on raw system calls only (no malloc: the
// forking process may have had other threads).
namespace tracker_proc {

constexpr int kMaxNames = 4096;
constexpr int kNameMax = 256;

struct Table {
  char names[kMaxNames][kNameMax];  // "" marks a free entry
  char line[kNameMax + 2];
  int line_len;
};

std::size_t cstrlen(const char* p) {
  std::size_t n = 0;
  while (p[n]) ++n;
  return n;
}

void put_str(char* out, std::size_t& n, const char* s) {
  while (*s && n < 511) out[n++] = *s++;
}

void handle_line(Table& t) {
  if (t.line_len < 2 || t.line[1] != '/') return;
  const char op = t.line[0];
  const char* name = t.line + 1;
  if (op == 'R') {
    for (auto& e : t.names) {
      if (e[0] == '\0') {
        std::memcpy(e, name, cstrlen(name) + 1);
        return;
      }
    }
  } else if (op == 'U') {
    for (auto& e : t.names)
      if (e[0] != '\0' && std::strcmp(e, name) == 0) e[0] = '\0';
  }
}

[[noreturn]] void run(int sock) {
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::prctl(PR_SET_NAME, "gilfree-tracker", 0, 0, 0);
  void* mem = ::mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) ::_exit(1);
  auto& t = *static_cast<Table*>(mem);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(sock, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        t.line[t.line_len] = '\0';
        handle_line(t);
        t.line_len = 0;
      } else if (t.line_len < kNameMax) {
        t.line[t.line_len++] = buf[i];
      }
    }
  }
  int left = 0;
  for (auto& e : t.names) {
    if (e[0] == '\0') continue;
    char path[kNameMax + 16];
    std::size_t k = 0;
    put_str(path, k, "/dev/shm");
    for (const char* q = e; *q && k < sizeof path - 1; ++q) path[k++] = *q;
    path[k] = '\0';
    if (::unlink(path) == 0) ++left;
  }
  if (left > 0) {
    char msg[512];
    std::size_t k = 0;
    put_str(msg, k, "gilfree resource_tracker: There appear to be ");
    char digits[12];
    int d = 0;
    for (int v = left; v > 0; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
    while (d > 0 && k < 511) msg[k++] = digits[--d];
    put_str(msg, k, " leaked shared_memory objects to clean up at shutdown\n");
    [[maybe_unused]] auto r = ::write(2, msg, k);
  }
  ::_exit(0);
}

}  // namespace tracker_proc

// Names this process created with track=true and has not unlinked. Leaked on purpose
// (never destroyed) so that the atexit handler can use it after static destruction began.
struct Tracker {
  std::mutex mu;
  std::set<std::string> names;  // with the leading slash
  pid_t owner = 0;              // the process that registered them; a fork child inherits
                                // the set but must not unlink its parent's segments
  int sock = -1;                // to this process's tracker process
  pid_t sock_owner = 0;         // the process that started it
};

// Tells the tracker process `op` ('R' or 'U') for `slashed`; starts it if this process
// has none. Called with the mutex held. Best effort: without a tracker, normal exit still
// unlinks.
void tell(Tracker& tr, char op, const std::string& slashed) {
  if (tr.sock >= 0 && tr.sock_owner != ::getpid()) {
    // Inherited through fork: the parent's tracker, not ours (each creator has its own, so
    // that its segments go as soon as it and its descendants are gone).
    ::close(tr.sock);
    tr.sock = -1;
  }
  if (tr.sock < 0) {
    if (op != 'R') return;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(sv[0]);
      ::close(sv[1]);
      return;
    }
    if (pid == 0) {
      // Only the read end and stderr: the tracker must not keep anyone's pipe open.
      if (sv[0] != 3) {
        ::dup2(sv[0], 3);
      }
      ::close_range(4, ~0u, 0);
      ::close(0);
      ::close(1);
      tracker_proc::run(3);
    }
    ::close(sv[0]);
    tr.sock = sv[1];
    tr.sock_owner = ::getpid();
  }
  std::string line;
  line.reserve(slashed.size() + 2);
  line += op;
  line += slashed;
  line += '\n';
  [[maybe_unused]] auto r = ::send(tr.sock, line.data(), line.size(), MSG_NOSIGNAL);
}

Tracker& tracker() {
  static Tracker* t = [] {
    auto* p = new Tracker;
    std::atexit([] {
      Tracker& tr = tracker();
      std::lock_guard<std::mutex> lock(tr.mu);
      if (tr.owner != ::getpid() || tr.names.empty()) return;
      std::fprintf(stderr,
                   "gilfree resource_tracker: There appear to be %zu leaked shared_memory "
                   "objects to clean up at shutdown\n",
                   tr.names.size());
      for (const auto& n : tr.names) {
        ::shm_unlink(n.c_str());
        tell(tr, 'U', n);
      }
      tr.names.clear();
    });
    return p;
  }();
  return *t;
}

void track(const std::string& slashed) {
  Tracker& tr = tracker();
  std::lock_guard<std::mutex> lock(tr.mu);
  if (tr.owner != ::getpid()) {
    tr.names.clear();  // inherited through fork: the parent's, not ours
    tr.owner = ::getpid();
  }
  tr.names.insert(slashed);
  tell(tr, 'R', slashed);
}

void untrack(const std::string& slashed) {
  Tracker& tr = tracker();
  std::lock_guard<std::mutex> lock(tr.mu);
  if (tr.owner == ::getpid() && tr.names.erase(slashed)) tell(tr, 'U', slashed);
}

// CPython: "psm_" + secrets.token_hex(4).
std::string random_name() {
  static thread_local std::mt19937_64 gen{std::random_device{}() ^
                                          (static_cast<std::uint64_t>(::getpid()) << 32)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "psm_%08x", static_cast<unsigned>(gen()));
  return buf;
}

[[noreturn]] void throw_open_error(const std::string& name, int err) {
  if (err == ENOENT) throw FileNotFoundError("No such file or directory: '/" + name + "'", err);
  if (err == EEXIST) throw FileExistsError("File exists: '/" + name + "'", err);
  throw OSError("shm_open('/" + name + "')", err);
}

}  // namespace

SharedMemory::SharedMemory(std::string name, bool create, std::size_t size, Options options) {
  if (!create && name.empty()) throw ValueError("'name' can only be None if create=True");
  if (create && size == 0) throw ValueError("'size' must be a positive number different from zero");
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  const bool pick = name.empty();
  for (;;) {
    if (pick) name = random_name();
    const std::string slashed = "/" + name;
    const int flags = create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR;
    fd_ = ::shm_open(slashed.c_str(), flags | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      if (pick && errno == EEXIST) continue;
      throw_open_error(name, errno);
    }
    break;
  }
  name_ = name;
  const std::string slashed = "/" + name_;
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (create) ::shm_unlink(slashed.c_str());
    throw OSError(what, err);
  };
  if (create && ::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("ftruncate");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("fstat");
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) {
    errno = EINVAL;
    fail("cannot mmap an empty segment");
  }
  addr_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (addr_ == MAP_FAILED) {
    addr_ = nullptr;
    fail("mmap");
  }
  if (create && options.track) track(slashed);
}

SharedMemory::SharedMemory(SharedMemory&& o) noexcept
    : name_(std::move(o.name_)), fd_(o.fd_), addr_(o.addr_), size_(o.size_) {
  o.fd_ = -1;
  o.addr_ = nullptr;
  o.size_ = 0;
}

SharedMemory& SharedMemory::operator=(SharedMemory&& o) noexcept {
  if (this != &o) {
    close();
    name_ = std::move(o.name_);
    fd_ = o.fd_;
    addr_ = o.addr_;
    size_ = o.size_;
    o.fd_ = -1;
    o.addr_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

SharedMemory::SharedMemory(const SharedMemory& o) : name_(o.name_) {
  if (o.fd_ < 0 || !o.addr_) return;
  fd_ = ::fcntl(o.fd_, F_DUPFD_CLOEXEC, 0);
  if (fd_ < 0) throw OSError("dup", errno);
  addr_ = ::mmap(nullptr, o.size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (addr_ == MAP_FAILED) {
    const int err = errno;
    addr_ = nullptr;
    ::close(fd_);
    fd_ = -1;
    throw OSError("mmap", err);
  }
  size_ = o.size_;
}

SharedMemory& SharedMemory::operator=(const SharedMemory& o) {
  if (this != &o) *this = SharedMemory(o);
  return *this;
}

SharedMemory::~SharedMemory() { close(); }

void SharedMemory::close() noexcept {
  if (addr_) ::munmap(addr_, size_);
  addr_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SharedMemory::unlink() {
  const std::string slashed = "/" + name_;
  untrack(slashed);
  if (::shm_unlink(slashed.c_str()) != 0) throw_open_error(name_, errno);
}

}  // namespace gilfree::multiprocessing::shared_memory
