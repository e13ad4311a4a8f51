// gilfree/multiprocessing/exceptions.hpp — the exceptions of `multiprocessing` (and the
// builtins it raises: OSError, EOFError, AssertionError), as C++ types in
// gilfree::multiprocessing so that they never clash with gilfree's threading names.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../errors.hpp"

namespace gilfree::multiprocessing {

// Python's OSError: a system call failed (errno() says why; 0 for a protocol error such
// as "bad message length").
struct OSError : std::runtime_error {
  explicit OSError(const std::string& what, int err = 0)
      : std::runtime_error(err ? what + ": " + std::strerror(err) : what), errno_(err) {}
  // The errno value, or 0.
  int error_code() const noexcept { return errno_; }

 private:
  int errno_;
};

// Python's EOFError: the other end of a connection is closed and nothing is left to read.
struct EOFError : std::runtime_error {
  using std::runtime_error::runtime_error;
  EOFError() : std::runtime_error("EOF") {}
};

// Python's AssertionError, which multiprocessing raises for misuse ("cannot start a
// process twice", "can only join a started process").
struct AssertionError : std::logic_error {
  using std::logic_error::logic_error;
};

// multiprocessing.ProcessError: the base of multiprocessing's own errors.
struct ProcessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// multiprocessing.BufferTooShort: recv_bytes_into's buffer is too small; message() holds
// the whole message that was read.
struct BufferTooShort : ProcessError {
  explicit BufferTooShort(std::string message)
      : ProcessError("buffer too short for a message of " + std::to_string(message.size()) +
                     " bytes"),
        message_(std::move(message)) {}
  // The complete message.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

// multiprocessing.AuthenticationError: the authkey handshake failed.
struct AuthenticationError : ProcessError {
  using ProcessError::ProcessError;
};

// pickle.PicklingError: a value or callable cannot be sent to another process.
struct PicklingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// pickle.UnpicklingError: a message cannot be decoded as the type asked for (truncated,
// corrupt, another type, or from another build).
struct UnpicklingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A task's exception whose type has no counterpart on the caller's side (a worker process
// or an MPI rank raised it): what() is "<type>: <message>", as Python's RemoteTraceback
// shows the remote error. register_exception<E>() (detail/remote_call.hpp, included by
// every executor of processes) makes a type come back as itself instead.
struct RemoteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace gilfree::multiprocessing

namespace gilfree {
namespace mp = multiprocessing;
}
