// gilfree/detail/work_item.hpp — what an in-process executor queues and runs.
//
// A WorkItem is the executor's view of one submitted call: something its queue links
// (TaskNode) and a worker runs. TaskState puts the future's state, the work item and the
// Call in one allocation from the futures' slab allocator, so a submit costs one
// allocation and no lock. The future's side (SharedState) and the worker's side (Call)
// stay separate types; only this glue knows both.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>

#include "../errors.hpp"
#include "call.hpp"
#include "future_state.hpp"
#include "state_alloc.hpp"
#include "task_queue.hpp"

namespace gilfree::detail {

// Called by WorkItem::run() after the call returned, just before its result is published
// (an executor uses it to count its worker as available before anyone sees the result).
struct RunHook {
  void (*fn)(void* ctx) noexcept = nullptr;
  void* ctx = nullptr;
};

// A submitted call as an executor's queue holds it.
class WorkItem : public TaskNode {
 public:
  // The future this call completes.
  SharedStateBase& future() const noexcept { return *future_; }
  // The executor that accepted it (as given to the constructor).
  const void* owner() const noexcept { return owner_; }

  // Starts the future (unless cancelled or already started), runs the call and completes
  // the future with its result or exception; a no-op if someone else started it.
  virtual void run(RunHook hook = {}) noexcept = 0;
  // typeid of the Call<F, Args...> inside, and a pointer to it: for an executor that
  // does not run closures and looks calls up by type to encode them.
  virtual const std::type_info& call_type() const noexcept = 0;
  virtual void* call() noexcept = 0;

  // Drops the queue's reference (the future's state goes once every handle is gone).
  void release() noexcept { future_->release(); }

 protected:
  WorkItem(SharedStateBase* future, const void* owner) noexcept
      : future_(future), owner_(owner) {}
  ~WorkItem() = default;

 private:
  SharedStateBase* future_;
  const void* owner_;
};

// One submitted call of result type R: future state + work item + Call, one allocation.
template <class R, class C>
class TaskState final : public SharedState<R>, public WorkItem {
 public:
  // A task of executor `owner`, born with two references (the future's, the queue's).
  TaskState(const void* owner, C&& call)
      : SharedState<R>(2), WorkItem(this, owner), call_(std::move(call)) {}

  // Tasks live in the slab allocator's per-thread pools (see state_alloc.hpp).
  static void* operator new(std::size_t size) { return state_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { state_free(p, size); }

  void run(RunHook hook = {}) noexcept override {
    switch (this->try_start()) {
      case SharedStateBase::Start::started:
        break;
      case SharedStateBase::Start::cancelled:
        call_.reset();  // drop what the call holds, as Python drops the work item
        return;
      case SharedStateBase::Start::busy:
        return;  // run (or being run) inline by a thread that waits on it
    }
    std::exception_ptr error;
    try {
      if constexpr (std::is_void_v<R>) {
        (*call_)();
        call_.reset();
        if (hook.fn) hook.fn(hook.ctx);
        this->set_value();
      } else {
        R v = (*call_)();
        call_.reset();  // Python drops the work item before the result is seen
        if (hook.fn) hook.fn(hook.ctx);
        this->set_value(std::move(v));
      }
      return;
    } catch (const InvalidStateError&) {
      return;  // someone called set_result on an executor's future: theirs stands
    } catch (...) {
      error = std::current_exception();
    }
    call_.reset();
    if (hook.fn) hook.fn(hook.ctx);
    try {
      this->set_exception(std::move(error));
    } catch (...) {
    }
  }

  const std::type_info& call_type() const noexcept override { return typeid(C); }
  void* call() noexcept override { return call_ ? &*call_ : nullptr; }

 private:
  std::optional<C> call_;
};

}  // namespace gilfree::detail
