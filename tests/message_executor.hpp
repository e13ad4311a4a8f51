// tests/message_executor.hpp — an executor that cannot run closures, standing in for the
// process and MPI executors to come: it proves that the Executor contract
// (tests/test_executor.cpp) and the Pool front (BasicPool<Ex>) work for an executor that
// implements submit() with F and Args in hand and ships only data to its workers.
//
// What crosses to a worker is a Message: a function key (one Trampoline<F, Args...> per
// call type, registered when submit<F, Args...> is instantiated), the function object's
// bytes (F must be trivially copyable: a captureless lambda, a function pointer, a
// ChunkCall over one of those — the stand-in for "encodable"), and the arguments (a
// typed blob here, where a real one would hold cereal bytes). What comes back is a Reply:
// a value blob or an exception. Futures, cancellation and completion stay on the
// "parent's" side: the typed `complete` closure is kept in the pending entry, never in the
// Message. (For brevity the worker threads also perform the parent's two steps around
// each Message — start-or-skip before, complete after — where a process executor would
// do them in its dispatcher and result threads; the call itself sees only the Message.)
#pragma once

#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <ranges>
#include <thread>
#include <type_traits>
#include <vector>

#include "gilfree/futures.hpp"

namespace gilfree_test {

struct Message {
  std::size_t key = 0;                    // which Trampoline decodes and runs it
  std::array<std::byte, 64> fn_bytes{};   // the function object, copied bytewise
  std::shared_ptr<void> args;             // the arguments (a tuple), "encoded"
};

struct Reply {
  std::shared_ptr<void> value;  // the result (a stored_t<R>), "encoded"
  std::exception_ptr error;
};

using TrampolineFn = Reply (*)(Message&);

inline std::vector<TrampolineFn>& trampolines() {
  static std::vector<TrampolineFn> t;
  return t;
}
inline std::mutex& trampolines_mu() {
  static std::mutex m;
  return m;
}

// The worker's side of calls of type F(Args...): rebuilds F from bytes, takes the
// arguments, runs the detail::Call and packs the Outcome into a Reply.
template <class F, class... Args>
struct Trampoline {
  static_assert(std::is_trivially_copyable_v<F> && sizeof(F) <= 64,
                "this executor ships functions, not closures: pass a captureless lambda "
                "or a function pointer");
  static std::size_t key() {
    static const std::size_t k = [] {
      std::lock_guard g(trampolines_mu());
      trampolines().push_back(&run);
      return trampolines().size() - 1;
    }();
    return k;
  }
  static Reply run(Message& m) {
    alignas(F) std::array<std::byte, sizeof(F)> raw;
    std::memcpy(raw.data(), m.fn_bytes.data(), sizeof(F));
    F fn = *std::launder(reinterpret_cast<F*>(raw.data()));
    auto& args = *static_cast<std::tuple<Args...>*>(m.args.get());
    gilfree::detail::Call<F, Args...> call{fn, std::move(args)};
    auto out = gilfree::detail::run_call(call);
    Reply r;
    if (out.ok()) {
      using V = std::remove_cvref_t<decltype(out.value())>;
      r.value = std::make_shared<V>(std::move(out.value()));
    } else {
      r.error = out.error();
    }
    return r;
  }
};

class MessageExecutor final : public gilfree::Executor {
 public:
  explicit MessageExecutor(int workers) {
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker(); });
  }
  ~MessageExecutor() override { shutdown(true); }

  // submit() with F and Args in hand: the call is encoded into a Message here.
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args) {
    using FD = std::decay_t<F>;
    using C = gilfree::detail::Call<FD, std::decay_t<Args>...>;
    using R = typename C::result_type;
    Message m;
    m.key = Trampoline<FD, std::decay_t<Args>...>::key();
    FD f(std::forward<F>(fn));
    std::memcpy(m.fn_bytes.data(), &f, sizeof(FD));
    m.args = std::make_shared<std::tuple<std::decay_t<Args>...>>(std::forward<Args>(args)...);
    gilfree::Future<R> future;
    // The parent's side of the reply: typed, and never sent anywhere.
    auto complete = [future](Reply& r) {
      if (r.error) {
        future.set_exception(r.error);
      } else if constexpr (std::is_void_v<R>) {
        future.set_result();
      } else {
        future.set_result(std::move(*static_cast<R*>(r.value.get())));
      }
    };
    {
      std::lock_guard g(mu_);
      if (shut_) throw gilfree::RuntimeError("cannot schedule new futures after shutdown");
      pending_.push_back({std::move(m), future, std::move(complete)});
    }
    cv_.notify_one();
    return future;
  }

  // map() with this executor's submit (detail::map_results is map's engine).
  template <class F, std::ranges::viewable_range... Rs>
  auto map(F fn, Rs&&... ranges) {
    return map_with(std::move(fn), gilfree::MapOptions{}, std::forward<Rs>(ranges)...);
  }
  template <class F, std::ranges::viewable_range R>
  auto map(F fn, R&& range, gilfree::MapOptions options) {
    return map_with(std::move(fn), std::move(options), std::forward<R>(range));
  }
  template <class F, std::ranges::viewable_range R1, std::ranges::viewable_range R2>
  auto map(F fn, R1&& r1, R2&& r2, gilfree::MapOptions options) {
    return map_with(std::move(fn), std::move(options), std::forward<R1>(r1), std::forward<R2>(r2));
  }

  void shutdown(bool wait = true, bool cancel_futures = false) override {
    std::deque<Entry> dropped;
    {
      std::lock_guard g(mu_);
      shut_ = true;
      if (cancel_futures) dropped.swap(pending_);
    }
    for (auto& e : dropped) {
      e.future.cancel();
      (void)e.future.set_running_or_notify_cancel();  // CANCELLED -> ..._AND_NOTIFIED
    }
    cv_.notify_all();
    if (!wait) return;
    std::lock_guard g(join_mu_);
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

 protected:
  // Reached only through Executor& with a closure: this executor cannot run one.
  void schedule(gilfree::detail::WorkItem*, const gilfree::Deadline&) override {
    throw gilfree::RuntimeError("MessageExecutor runs functions, not closures");
  }

 private:
  struct Entry {
    Message msg;
    gilfree::AnyFuture future;
    std::function<void(Reply&)> complete;
  };

  template <class F, class... Rs>
  auto map_with(F fn, gilfree::MapOptions options, Rs&&... ranges) {
    using raw = std::invoke_result_t<F&, std::ranges::range_reference_t<Rs>...>;
    auto submit = [this](F& f, std::ranges::range_reference_t<std::views::all_t<Rs>>... xs)
        -> gilfree::Future<raw> { return this->submit(f, std::forward<decltype(xs)>(xs)...); };
    return gilfree::detail::map_results(std::move(submit), std::move(fn), std::move(options),
                                        std::views::all(std::forward<Rs>(ranges))...);
  }

  void worker() {
    for (;;) {
      Entry e;
      {
        std::unique_lock g(mu_);
        cv_.wait(g, [this] { return shut_ || !pending_.empty(); });
        if (pending_.empty()) return;
        e = std::move(pending_.front());
        pending_.pop_front();
      }
      // Parent's side, as CPython does before it sends a call: start or skip cancelled.
      if (!e.future.set_running_or_notify_cancel()) continue;
      // Worker's side: only the Message.
      TrampolineFn run;
      {
        std::lock_guard g(trampolines_mu());
        run = trampolines()[e.msg.key];
      }
      Reply r = run(e.msg);
      // Parent's side again: complete the future from the Reply.
      e.complete(r);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> pending_;
  bool shut_ = false;
  std::mutex join_mu_;
  std::vector<std::thread> workers_;
};

}  // namespace gilfree_test
