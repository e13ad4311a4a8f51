// gilfree/multiprocessing/shared_memory.hpp — multiprocessing.shared_memory.SharedMemory:
// a named POSIX shared-memory segment under /dev/shm, with CPython's names, so that a
// segment created here is attachable from Python's SharedMemory(name) and the other way
// round. Random names are "psm_" and 8 hex digits, as CPython's; name() has no leading
// slash, as CPython's on POSIX.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "exceptions.hpp"
#include "reduction.hpp"

namespace gilfree::multiprocessing::shared_memory {

// Python's FileNotFoundError: attaching to a name that does not exist.
struct FileNotFoundError : OSError {
  using OSError::OSError;
};

// Python's FileExistsError: creating a name that already exists.
struct FileExistsError : OSError {
  using OSError::OSError;
};

// Options of SharedMemory.
struct SharedMemoryOptions {
  // Python 3.13's `track`: when true, a segment this process *created* and has not
  // unlinked is unlinked when this process exits (with a warning on stderr, as CPython's
  // resource tracker prints): at normal exit by the process itself, and after any death
  // (SIGKILL included) by its tracker process, a small fork started at the first tracked
  // create that unlinks what is still registered once the creator (and the fork children
  // it made afterwards) are gone. Attaching never registers (CPython issue 82300: an
  // attaching process must not unlink someone else's segment).
  bool track = true;
};

// One mapping of a named segment. Move-only; the destructor closes (never unlinks).
class SharedMemory {
 public:
  using Options = SharedMemoryOptions;

  // SharedMemory(name, create=False, size=0): with create, makes a new segment of
  // `size` bytes (ValueError unless size > 0; FileExistsError if the name is taken; an
  // empty name picks a fresh random one); without, attaches to `name` (FileNotFoundError
  // if absent; ValueError if the name is empty) and maps its whole size.
  explicit SharedMemory(std::string name, bool create = false, std::size_t size = 0,
                        Options options = {});
  // A closed handle with no name (to be assigned, or read from a message).
  SharedMemory() noexcept = default;
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  // Another mapping of the same segment (Python objects are references; this is an attach
  // that never registers with the tracker). A copy of a closed handle is closed.
  SharedMemory(const SharedMemory& other);
  SharedMemory& operator=(const SharedMemory& other);
  ~SharedMemory();

  // The segment's name, without the leading slash (what Python's .name returns).
  const std::string& name() const noexcept { return name_; }
  // The mapped size in bytes.
  std::size_t size() const noexcept { return size_; }
  // The mapped bytes; empty after close().
  std::span<std::byte> buf() const noexcept { return {static_cast<std::byte*>(addr_), addr_ ? size_ : 0}; }
  // Unmaps and closes the descriptor; the segment itself stays. Idempotent.
  void close() noexcept;
  // Removes the name (the memory lives on while anyone maps it) and unregisters it from
  // this process's tracking; FileNotFoundError if it is already gone.
  void unlink();

  // The wire form (a Process argument under forkserver/spawn): the name, which the
  // receiver attaches to (untracked, as every attach); a closed handle arrives closed.
  template <class A>
  void save(A& ar) const {
    ar(name_, addr_ != nullptr);
  }
  template <class A>
  void load(A& ar) {
    std::string name;
    bool open = false;
    ar(name, open);
    if (open) {
      *this = SharedMemory(name);
    } else {
      close();
      name_ = std::move(name);
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace gilfree::multiprocessing::shared_memory
