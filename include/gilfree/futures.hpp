// gilfree/futures.hpp — Python's `concurrent.futures` in C++.
//
// Future<T> (a cheap shared handle, Python's states and errors), AnyFuture (the same
// handle with the element type erased, so wait() and as_completed() mix futures of any
// type and any executor), as_completed (a lazy completion queue), wait, and the Executor
// interface with ThreadPoolExecutor.
//
//   gilfree::ThreadPoolExecutor ex({.max_workers = 4});
//   std::vector<gilfree::Future<int>> fs;
//   for (int i = 0; i < 10; ++i) fs.push_back(ex.submit([](int x) { return x * x; }, i));
//   for (auto f : gilfree::as_completed(fs)) use(f.result());   // f is a Future<int>
//   for (int sq : ex.map([](int x) { return x * x; }, inputs, {.buffersize = 64})) ...
//
// Beyond Python: as_completed accepts more futures while it is being iterated;
// ThreadPoolExecutor has bounded submission (`max_pending`, `submit_for`), and a task that
// waits on a future of its own pool which has not started runs that task itself instead
// of deadlocking (see ThreadPoolExecutor).
#pragma once

// The pieces, by concern: futures/state.hpp (FutureState, the log hook), futures/future.hpp
// (Future, AnyFuture), futures/as_completed.hpp (as_completed, wait), futures/executor.hpp
// (Executor and its data flow), futures/thread_pool_executor.hpp, futures/process.hpp
// (ProcessPoolExecutor).
#include "futures/as_completed.hpp"
#include "futures/executor.hpp"
#include "futures/future.hpp"
#include "futures/state.hpp"
#include "futures/thread_pool_executor.hpp"
#include "futures/process.hpp"
