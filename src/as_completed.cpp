// as_completed's completion queue and wait() (see futures/as_completed.hpp).
#include "gilfree/futures/as_completed.hpp"

#include <cstdio>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gilfree {
namespace detail {

// ---- as_completed ---------------------------------------------------------------------

class AsCompletedCore final : public Waiter {
 public:
  explicit AsCompletedCore(Deadline deadline) : deadline_(deadline) {}
  AsCompletedCore(const AsCompletedCore&) = delete;
  ~AsCompletedCore() {
    for (auto& [s, link] : pending_) {
      s->remove_waiter(&link);
      s->release();
    }
  }

  void add(SharedStateBase* s) {
    WaiterLink* link;
    {
      std::lock_guard g(mu_);
      auto [it, inserted] = pending_.try_emplace(s);
      if (!inserted) return;
      s->add_ref();
      ++total_;
      link = &it->second;
      link->owner = this;
    }
    if (!s->add_waiter(link)) push_ready(s);  // already done: yielded first
  }

  void on_done(SharedStateBase* s, Event) noexcept override { push_ready(s); }

  SharedStateBase* next() {
    for (;;) {
      {
        std::unique_lock g(mu_);
        if (!ready_.empty()) {
          SharedStateBase* s = ready_.front();
          ready_.pop_front();
          nready_.fetch_sub(1, std::memory_order_relaxed);
          auto node = pending_.extract(s);
          g.unlock();
          s->remove_waiter(&node.mapped());  // waits out a notification still in flight
          return s;  // our reference goes to the caller
        }
        if (pending_.empty()) return nullptr;
      }
      if (!detail::await(ec_, deadline_,
                         [this] { return nready_.load(std::memory_order_acquire) > 0; })) {
        std::lock_guard g(mu_);
        if (!ready_.empty()) continue;
        char msg[96];
        std::snprintf(msg, sizeof msg, "%zu (of %zu) futures unfinished", pending_.size(), total_);
        throw TimeoutError(msg);
      }
    }
  }

  std::size_t size() const {
    std::lock_guard g(mu_);
    return pending_.size();
  }

 private:
  void push_ready(SharedStateBase* s) noexcept {
    {
      std::lock_guard g(mu_);
      ready_.push_back(s);
      nready_.fetch_add(1, std::memory_order_release);
    }
    ec_.notify_one();
  }

  Deadline deadline_;
  mutable std::mutex mu_;
  std::unordered_map<SharedStateBase*, WaiterLink> pending_;  // owns one reference each
  std::deque<SharedStateBase*> ready_;                        // done, not yet yielded
  std::atomic<std::size_t> nready_{0};
  std::size_t total_ = 0;
  EventCount ec_;
};

std::unique_ptr<AsCompletedCore, void (*)(AsCompletedCore*)> make_as_completed_core(
    Timeout timeout) {
  return {new AsCompletedCore(timeout.deadline()), [](AsCompletedCore* c) { delete c; }};
}

void as_completed_add(AsCompletedCore& core, const AnyFuture& future) {
  if (!future.valid()) throw ValueError("as_completed: empty future");
  core.add(AnyFutureAccess::state(future));
}

SharedStateBase* as_completed_next(AsCompletedCore& core) { return core.next(); }

std::size_t as_completed_size(const AsCompletedCore& core) { return core.size(); }

}  // namespace detail

// ---- wait -----------------------------------------------------------------------------

namespace {

class WaitWaiter final : public detail::Waiter {
 public:
  WaitWaiter(ReturnWhen when, std::size_t pending) : when_(when), remaining_(pending) {}
  void on_done(detail::SharedStateBase*, Event event) noexcept override {
    if (when_ == FIRST_COMPLETED || (when_ == FIRST_EXCEPTION && event == Event::exception)) {
      fire();
    } else if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      fire();
    }
  }
  bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }
  detail::EventCount& ec() noexcept { return ec_; }

 private:
  void fire() noexcept {
    fired_.store(true, std::memory_order_release);
    ec_.notify_all();
  }
  ReturnWhen when_;
  std::atomic<std::size_t> remaining_;
  std::atomic<bool> fired_{false};
  detail::EventCount ec_;
};

bool finished_with_exception(const AnyFuture& f) {
  auto* s = detail::AnyFutureAccess::state(f);
  return s->state() == FutureState::FINISHED && s->stored_exception() != nullptr;
}

}  // namespace

DoneAndNotDoneFutures<> wait(const std::vector<AnyFuture>& futures, Timeout timeout,
                           ReturnWhen return_when) {
  const Deadline deadline = timeout.deadline();
  DoneAndNotDoneFutures<> r;
  std::vector<AnyFuture> pending;
  for (const auto& f : futures) {
    if (!f.valid()) throw ValueError("wait: empty future");
    if (r.done.count(f) || r.not_done.count(f)) continue;
    if (detail::AnyFutureAccess::state(f)->notified_done()) {
      r.done.insert(f);
    } else {
      r.not_done.insert(f);
      pending.push_back(f);
    }
  }
  if (return_when == FIRST_COMPLETED && !r.done.empty()) return r;
  if (return_when == FIRST_EXCEPTION) {
    for (const auto& f : r.done)
      if (finished_with_exception(f)) return r;
  }
  if (pending.empty()) return r;

  WaitWaiter waiter(return_when, pending.size());
  std::vector<detail::WaiterLink> links(pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto* s = detail::AnyFutureAccess::state(pending[i]);
    links[i].owner = &waiter;
    if (!s->add_waiter(&links[i])) {
      using E = detail::Waiter::Event;
      waiter.on_done(s, s->state() != FutureState::FINISHED ? E::cancelled
                        : s->stored_exception()              ? E::exception
                                                             : E::result);
    }
  }
  detail::await(waiter.ec(), deadline, [&] { return waiter.fired(); });
  for (std::size_t i = 0; i < pending.size(); ++i)
    detail::AnyFutureAccess::state(pending[i])->remove_waiter(&links[i]);

  for (const auto& f : pending) {
    if (detail::AnyFutureAccess::state(f)->notified_done()) {
      r.not_done.erase(f);
      r.done.insert(f);
    }
  }
  return r;
}

}  // namespace gilfree
