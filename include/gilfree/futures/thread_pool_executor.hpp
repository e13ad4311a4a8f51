// gilfree/futures/thread_pool_executor.hpp — concurrent.futures.ThreadPoolExecutor.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "../timeout.hpp"
#include "executor.hpp"

namespace gilfree {

// ThreadPoolExecutor's keyword arguments.
struct ThreadPoolExecutorOptions {
  // At most this many worker threads; unset: min(32, cores + 4), as Python. ≤ 0 is a
  // ValueError.
  std::optional<int> max_workers{};
  // Workers are named "<prefix>_N"; empty: "ThreadPoolExecutor-K" (K counts executors).
  std::string thread_name_prefix{};
  // Called on each worker before it takes work; if it throws, the pool is broken:
  // pending and later submissions fail with BrokenThreadPool.
  std::function<void()> initializer{};
  // Beyond Python: when nonzero, at most this many submitted calls may wait for a worker;
  // submit() then blocks and submit_for() blocks up to its timeout.
  std::size_t max_pending = 0;
};

// Python's ThreadPoolExecutor. Workers are gilfree threads started on demand (one per
// submit while none is idle, up to max_workers) and reused; idle ones sleep after a
// short spin. The submit path takes no lock and makes no syscall while workers are busy.
//
// Deadlock guard: a worker that waits (result()/exception()) on a future of this same
// executor whose call has not started runs that call itself, right there. We chose this
// over detection because it is exact (only the awaited call runs on the waiting stack,
// so no unrelated work, no reordering surprises, no false positives from waits that a
// timeout or another thread would have ended) and it turns the classic deadlock — every
// worker blocked on work queued behind it, e.g. max_workers=1 and a task waiting on a
// task it submitted — into plain nested calls. wait() and as_completed() do not do this.
// (It is the workers' BlockingHook, detail/future_state.hpp: futures know nothing of it.)
//
// Fork: in a child forked from a process that made it, the executor refuses work with
// BrokenThreadPool (its workers exist only in the parent) and its destructor returns at
// once (see detail/fork.hpp).
class ThreadPoolExecutor final : public Executor {
 public:
  using Options = ThreadPoolExecutorOptions;

  // A pool with `options`; ValueError("max_workers must be greater than 0").
  explicit ThreadPoolExecutor(Options options = {});
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  // shutdown(true): runs every submitted call, then joins the workers.
  ~ThreadPoolExecutor() override;

  using Executor::submit;
  // As submit(), but with max_pending set waits at most `timeout` for room, then throws
  // Full("executor queue is full"). Without max_pending it is submit().
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Args>...>
  auto submit_for(Timeout timeout, F&& fn, Args&&... args) {
    return submit_until(timeout.deadline(), std::forward<F>(fn), std::forward<Args>(args)...);
  }

  void shutdown(bool wait = true, bool cancel_futures = false) override;

  // The max_workers in effect.
  int max_workers() const noexcept;
  // The workers' name prefix in effect.
  const std::string& thread_name_prefix() const noexcept;
  // How many worker threads have been started so far.
  std::size_t num_threads() const noexcept;
  // Calls submitted and not yet taken by a worker (exact only when quiet).
  bool has_queued_work() const noexcept;

 protected:
  void schedule(detail::WorkItem* item, const Deadline& deadline) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gilfree
