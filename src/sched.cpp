#include "gilfree/sched.hpp"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

namespace gilfree {

// The scheduler's lock, and what the default delay sleeps on. `head_gen` counts changes of
// the queue's first event, so a sleeping run() can tell "an earlier event arrived" (or "the
// event I wait for was cancelled") from a spurious wake-up. The scheduler is not a hot path
// (one event costs a heap allocation anyway), so a plain mutex and condition variable serve.
struct scheduler::Sync {
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t head_gen = 0;
  int sleepers = 0;  // run() calls inside the default delay; notify only when someone sleeps
};

namespace {

// Sleeps up to `delay` real seconds on `sync`, returning early when the head changes.
// Called with the lock held; returns with it held.
template <class Sync>
void default_delay(Sync& sync, std::unique_lock<std::mutex>& lk, double delay) {
  const std::uint64_t gen = sync.head_gen;
  auto changed = [&] { return sync.head_gen != gen; };
  ++sync.sleepers;
  if (!(delay < TIMEOUT_MAX)) {  // +inf included: only a change of head ends this wait
    sync.cv.wait(lk, changed);
  } else {
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(delay));
    sync.cv.wait_until(lk, until, changed);
  }
  --sync.sleepers;
}

}  // namespace

scheduler::scheduler() : scheduler(TimeFunc(&scheduler::monotonic)) {}

scheduler::scheduler(TimeFunc timefunc, DelayFunc delayfunc)
    : timefunc_(timefunc ? std::move(timefunc) : TimeFunc(&scheduler::monotonic)),
      delayfunc_(std::move(delayfunc)),
      sync_(std::make_unique<Sync>()) {}

scheduler::~scheduler() {
  // Drop every pending action (and with it any Event handle it captured, which would
  // otherwise keep its own record alive forever).
  for (const auto& rec : queue_) rec->action.reset();
}

double scheduler::monotonic() noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void scheduler::head_changed_locked() {
  ++sync_->head_gen;
  if (sync_->sleepers > 0) sync_->cv.notify_all();
}

sched::Event scheduler::enterabs_erased(double time, int priority,
                                 std::unique_ptr<detail::SchedAction> action) {
  if (std::isnan(time)) throw ValueError("sched: event time must not be NaN");
  auto rec = std::make_shared<detail::SchedRecord>(
      detail::SchedRecord{time, priority, 0, this, std::move(action)});
  std::lock_guard lk(sync_->mu);
  rec->sequence = next_sequence_++;
  auto it = queue_.insert(rec).first;
  if (it == queue_.begin()) head_changed_locked();
  return Event(std::move(rec));
}

void scheduler::cancel(const Event& event) {
  std::unique_ptr<detail::SchedAction> dropped;  // destroyed after the lock is released
  {
    std::lock_guard lk(sync_->mu);
    auto it = event.rec_ && event.rec_->owner == this ? queue_.find(event.rec_) : queue_.end();
    if (it == queue_.end() || it->get() != event.rec_.get())
      throw ValueError("list.remove(x): x not in list");
    const bool was_head = it == queue_.begin();
    dropped = std::move((*it)->action);
    queue_.erase(it);
    if (was_head) head_changed_locked();
  }
}

bool scheduler::empty() const {
  std::lock_guard lk(sync_->mu);
  return queue_.empty();
}

std::vector<sched::Event> scheduler::queue() const {
  std::lock_guard lk(sync_->mu);
  std::vector<Event> out;
  out.reserve(queue_.size());
  for (const auto& rec : queue_) out.push_back(Event(rec));
  return out;
}

std::optional<double> scheduler::run(bool blocking) {
  std::unique_lock lk(sync_->mu);
  for (;;) {
    if (queue_.empty()) return std::nullopt;
    auto head = queue_.begin();
    const double time = (*head)->time;
    const double now = timefunc_();
    if (time > now) {
      const double delay = time - now;
      if (!blocking) return delay;
      if (delayfunc_) {
        lk.unlock();
        delayfunc_(delay);
        lk.lock();
      } else {
        default_delay(*sync_, lk, delay);
      }
      continue;
    }
    // Due: take it out under the lock, run it without the lock (the action may enter or
    // cancel events, and other threads may too). If it throws, the exception leaves run()
    // with the lock released and the rest of the queue untouched, as in Python.
    std::unique_ptr<detail::SchedAction> action = std::move((*head)->action);
    queue_.erase(head);
    lk.unlock();
    (*action)();
    action.reset();  // the bound arguments die outside the lock too
    if (delayfunc_) delayfunc_(0);  // Python's "let other threads run"
    lk.lock();
  }
}

}  // namespace gilfree
