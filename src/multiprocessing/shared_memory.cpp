// SharedMemory: shm_open/ftruncate/mmap as CPython's _posixshmem, plus the creator-side
// tracking of issue 10 (unlink at normal exit what this process created and forgot).
#include "gilfree/multiprocessing/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>

namespace gilfree::multiprocessing::shared_memory {
namespace {

// Names this process created with track=true and has not unlinked. Leaked on purpose
// (never destroyed) so that the atexit handler can use it after static destruction began.
struct Tracker {
  std::mutex mu;
  std::set<std::string> names;  // with the leading slash
  pid_t owner = 0;              // the process that registered them; a fork child inherits
                                // the set but must not unlink its parent's segments
};

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
      for (const auto& n : tr.names) ::shm_unlink(n.c_str());
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
}

void untrack(const std::string& slashed) {
  Tracker& tr = tracker();
  std::lock_guard<std::mutex> lock(tr.mu);
  if (tr.owner == ::getpid()) tr.names.erase(slashed);
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
