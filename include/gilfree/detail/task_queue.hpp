// gilfree/detail/task_queue.hpp — the executors' work queue: an intrusive, unbounded,
// multi-producer queue (Dmitry Vyukov's MPSC design) whose consumer end is shared by the
// workers under a spin lock.
//
// Why this shape: a submit is one atomic exchange and one store on memory the submitter
// already owns (the task, allocated once as the future's own state), so the submit path
// never takes a lock and never makes a syscall; the consumers' critical section is a
// handful of loads. Tasks are the futures' states themselves, so there is no node to
// allocate per push.
#pragma once

#include <atomic>

#include "spinlock.hpp"

namespace gilfree::detail {

// A link in a TaskQueue. Executors' tasks derive from it.
struct TaskNode {
  std::atomic<TaskNode*> next_link{nullptr};
};

class TaskQueue {
 public:
  TaskQueue() noexcept : head_(&stub_), tail_(&stub_) {}
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Appends `node` (wait-free, any thread). The node must not be in any queue. The
  // exchange is seq_cst and empty() reads its target with a seq_cst load, so a pusher
  // that then reads a flag with a seq_cst load needs no fence to pair with a consumer
  // that sets the flag and then checks empty() (the executor's wake-up protocol).
  void push(TaskNode* node) noexcept {
    node->next_link.store(nullptr, std::memory_order_relaxed);
    TaskNode* prev = head_.exchange(node, std::memory_order_seq_cst);
    prev->next_link.store(node, std::memory_order_release);
  }

  // Removes the oldest node, or returns nullptr when the queue is empty or a producer is
  // half-way through a push (callers that saw !empty() simply retry).
  TaskNode* try_pop() noexcept {
    if (!consumer_.try_lock()) return nullptr;
    TaskNode* n = pop_locked();
    consumer_.unlock();
    return n;
  }

  // Like try_pop(), but waits for the consumer lock instead of failing on contention.
  TaskNode* pop() noexcept {
    consumer_.lock();
    TaskNode* n = pop_locked();
    consumer_.unlock();
    return n;
  }

  // True when no node is queued and no push is under way (possibly stale; exact once
  // producers are quiet). A push counts from its exchange, before its node is linked:
  // the queue is empty only while the stub is both the last node pushed (head_) and the
  // next to pop (tail_); pop_locked() re-pushes the stub whenever it takes the last node.
  bool empty() const noexcept {
    if (head_.load(std::memory_order_seq_cst) != &stub_) return false;
    return tail_.load(std::memory_order_acquire) == &stub_;
  }

 private:
  TaskNode* pop_locked() noexcept {
    TaskNode* tail = tail_.load(std::memory_order_relaxed);
    TaskNode* next = tail->next_link.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_.store(next, std::memory_order_release);
      tail = next;
      next = next->next_link.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_.store(next, std::memory_order_release);
      return tail;
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // push in flight
    push(&stub_);
    next = tail->next_link.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_.store(next, std::memory_order_release);
      return tail;
    }
    return nullptr;  // another push slipped in before the stub: retry later
  }

  alignas(64) std::atomic<TaskNode*> head_;  // producers' end: the last node pushed
  alignas(64) std::atomic<TaskNode*> tail_;  // consumers' end: the next node to return
  SpinLock consumer_;
  TaskNode stub_;
};

}  // namespace gilfree::detail
