// The Pool front's result-handler thread (see multiprocessing/pool.hpp).
#include <condition_variable>
#include <deque>
#include <mutex>

#include "gilfree/multiprocessing/pool.hpp"
#include "gilfree/threading.hpp"

namespace gilfree::multiprocessing::detail {

struct ResultHandler::Impl {
  std::string name;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;  // guarded by mu
  bool stop = false;                       // guarded by mu
  std::unique_ptr<Thread> thread;          // started by the first post()

  void main() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [this] { return stop || !jobs.empty(); });
      if (jobs.empty()) return;  // stop, and everything posted has run
      auto job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      try {
        job();
      } catch (...) {
        gilfree::detail::log_error("exception in Pool result handler", std::current_exception());
      }
      job = nullptr;  // drop what the job holds before taking the lock again
      lock.lock();
    }
  }
};

ResultHandler::ResultHandler(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
}

ResultHandler::~ResultHandler() {
  {
    std::lock_guard g(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_one();
  if (impl_->thread) impl_->thread->join();
}

void ResultHandler::post(std::function<void()> job) {
  {
    std::lock_guard g(impl_->mu);
    impl_->jobs.push_back(std::move(job));
    if (!impl_->thread) {
      // Daemon, as Python's: the destructor is what waits for it.
      impl_->thread = std::make_unique<Thread>(
          Thread::Options{.name = impl_->name, .daemon = true}, [impl = impl_.get()] {
            impl->main();
          });
      impl_->thread->start();
    }
  }
  impl_->cv.notify_one();
}

}  // namespace gilfree::multiprocessing::detail
