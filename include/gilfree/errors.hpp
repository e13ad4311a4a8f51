// gilfree/errors.hpp — Python's exceptions as C++ exception types.
//
// Each type keeps its Python name and its Python parent, so a C++ `catch` reads like a
// Python `except`. Messages follow CPython's wording ("release unlocked lock").
#pragma once

#include <stdexcept>
#include <string>

namespace gilfree {

// Python's ValueError: an argument has the right type but a bad value.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Python's RuntimeError: an operation is not allowed in the object's current state.
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Python's TimeoutError (concurrent.futures.TimeoutError is the same class since 3.11).
struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
  TimeoutError() : std::runtime_error("timed out") {}
};

// concurrent.futures.CancelledError: the future was cancelled before it produced a result.
struct CancelledError : std::runtime_error {
  using std::runtime_error::runtime_error;
  CancelledError() : std::runtime_error("cancelled") {}
};

// concurrent.futures.InvalidStateError: set_result/set_exception on a future that is done.
struct InvalidStateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// threading.BrokenBarrierError: the barrier was aborted, reset, timed out or its action failed.
struct BrokenBarrierError : RuntimeError {
  using RuntimeError::RuntimeError;
  BrokenBarrierError() : RuntimeError("barrier is broken") {}
};

// concurrent.futures.BrokenExecutor: the executor can no longer run work.
struct BrokenExecutor : RuntimeError {
  using RuntimeError::RuntimeError;
};

// concurrent.futures.thread.BrokenThreadPool: a worker's initializer failed.
struct BrokenThreadPool : BrokenExecutor {
  using BrokenExecutor::BrokenExecutor;
};

// concurrent.futures.process.BrokenProcessPool: a worker process died abruptly.
struct BrokenProcessPool : BrokenExecutor {
  using BrokenExecutor::BrokenExecutor;
};

// queue.Empty: get(block=false) or a timed get found no item.
struct Empty : std::runtime_error {
  using std::runtime_error::runtime_error;
  Empty() : std::runtime_error("queue is empty") {}
};

// queue.Full: put(block=false) or a timed put found no free slot.
struct Full : std::runtime_error {
  using std::runtime_error::runtime_error;
  Full() : std::runtime_error("queue is full") {}
};

// queue.ShutDown (Python 3.13): put or get on a queue that was shut down.
struct ShutDown : std::runtime_error {
  using std::runtime_error::runtime_error;
  ShutDown() : std::runtime_error("queue is shut down") {}
};

}  // namespace gilfree
