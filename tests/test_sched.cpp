// Tests for gilfree/sched.hpp: Python's sched.scheduler.
//
// Ordering tests run on a fake clock (the delay function advances it), so they are exact
// and never sleep. The cross-thread tests use the real clock and the default,
// interruptible delay.
#include "gilfree/sched.hpp"
#include "stress_scale.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using gilfree::sched::Event;
using gilfree::scheduler;
using namespace std::chrono_literals;

using gilfree_test::kStressScale;  // base amounts below are sized for sanitizers

// A clock that only moves when the scheduler delays; records every delay asked for.
struct FakeClock {
  double now = 0;
  std::vector<double> delays;
  scheduler::TimeFunc timefunc() {
    return [this] { return now; };
  }
  scheduler::DelayFunc delayfunc() {
    return [this](double d) {
      delays.push_back(d);
      now += d;
    };
  }
};

TEST(Sched, RunsEventsInTimeOrderOnTheFakeClock) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::vector<std::pair<int, double>> ran;  // (id, clock when it ran)
  auto note = [&](int id) { ran.emplace_back(id, clock.now); };
  s.enterabs(3, 1, note, 3);
  s.enterabs(1, 1, note, 1);
  s.enterabs(2, 1, note, 2);
  EXPECT_EQ(s.run(), std::nullopt);
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], std::make_pair(1, 1.0));
  EXPECT_EQ(ran[1], std::make_pair(2, 2.0));
  EXPECT_EQ(ran[2], std::make_pair(3, 3.0));
  // As CPython: delayfunc(time - now) before each event, delayfunc(0) after each action.
  EXPECT_EQ(clock.delays, (std::vector<double>{1, 0, 1, 0, 1, 0}));
  EXPECT_TRUE(s.empty());
}

TEST(Sched, PriorityBreaksTimeTiesThenInsertionOrder) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::vector<std::string> ran;
  auto note = [&](std::string id) { ran.push_back(std::move(id)); };
  s.enterabs(5, 2, note, "p2-first");
  s.enterabs(5, 1, note, "p1");
  s.enterabs(5, 2, note, "p2-second");
  s.enterabs(4, 9, note, "earlier-time-beats-priority");
  s.enterabs(5, 0, note, "p0");
  s.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"earlier-time-beats-priority", "p0", "p1",
                                           "p2-first", "p2-second"}));
}

TEST(Sched, EnterIsRelativeToTimefunc) {
  FakeClock clock;
  clock.now = 10;
  scheduler s(clock.timefunc(), clock.delayfunc());
  Event e = s.enter(5, 3, [] {});
  EXPECT_EQ(e.time(), 15.0);
  EXPECT_EQ(e.priority(), 3);
  Event past = s.enter(-2, 0, [] {});  // in the past: due at once
  EXPECT_EQ(past.time(), 8.0);
  EXPECT_EQ(s.run(false), std::optional<double>(5.0));
  EXPECT_EQ(s.queue(), std::vector<Event>{e});
}

TEST(Sched, EventHandlesCompareLikePythonsEvent) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  Event a = s.enterabs(2, 1, [] {});
  Event b = s.enterabs(1, 5, [] {});
  Event c = s.enterabs(2, 0, [] {});
  Event d = s.enterabs(2, 1, [] {});
  EXPECT_LT(a.sequence(), d.sequence());
  EXPECT_LT(b, c);  // time first
  EXPECT_LT(c, a);  // then priority
  EXPECT_LT(a, d);  // then sequence
  EXPECT_GT(d, b);
  Event a2 = a;  // a copy is the same scheduled call
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, d);
  EXPECT_FALSE(a < a2 || a2 < a);
  EXPECT_TRUE(static_cast<bool>(a));
  EXPECT_FALSE(static_cast<bool>(Event{}));
  EXPECT_EQ(Event{}, Event{});
}

TEST(Sched, QueueIsASortedSnapshotOfPendingEvents) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  EXPECT_TRUE(s.queue().empty());
  Event e3 = s.enterabs(3, 0, [] {});
  Event e1 = s.enterabs(1, 0, [] {});
  Event e2b = s.enterabs(2, 1, [] {});
  Event e2a = s.enterabs(2, 0, [] {});
  std::vector<Event> q = s.queue();
  EXPECT_EQ(q, (std::vector<Event>{e1, e2a, e2b, e3}));
  s.cancel(e2a);
  EXPECT_EQ(s.queue(), (std::vector<Event>{e1, e2b, e3}));
  EXPECT_EQ(q.size(), 4u);  // a snapshot: unchanged by later cancels
  EXPECT_EQ(q[1].time(), 2.0);  // and its handles stay readable
}

TEST(Sched, CancelRemovesAPendingEvent) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::vector<int> ran;
  Event e1 = s.enterabs(1, 0, [&] { ran.push_back(1); });
  Event e2 = s.enterabs(2, 0, [&] { ran.push_back(2); });
  EXPECT_FALSE(s.empty());
  s.cancel(e1);
  s.run();
  EXPECT_EQ(ran, std::vector<int>{2});
  EXPECT_EQ(clock.now, 2.0);
  (void)e2;
}

TEST(Sched, CancelOfAnUnknownEventIsValueError) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  Event e = s.enterabs(1, 0, [] {});
  s.cancel(e);
  EXPECT_THROW(s.cancel(e), gilfree::ValueError);  // cancelled twice
  Event ran = s.enterabs(1, 0, [] {});
  s.run();
  EXPECT_THROW(s.cancel(ran), gilfree::ValueError);  // already ran
  EXPECT_THROW(s.cancel(Event{}), gilfree::ValueError);  // refers to nothing
  try {
    s.cancel(e);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& err) {  // ValueError is an invalid_argument
    EXPECT_STREQ(err.what(), "list.remove(x): x not in list");
  }
}

TEST(Sched, CancelOfAnotherSchedulersEventIsValueError) {
  FakeClock clock;
  scheduler s1(clock.timefunc(), clock.delayfunc());
  scheduler s2(clock.timefunc(), clock.delayfunc());
  // Same time, priority and sequence: only the identity tells them apart.
  Event e1 = s1.enterabs(1, 0, [] {});
  Event e2 = s2.enterabs(1, 0, [] {});
  ASSERT_EQ(e1.sequence(), e2.sequence());
  EXPECT_THROW(s1.cancel(e2), gilfree::ValueError);
  EXPECT_EQ(s1.queue(), std::vector<Event>{e1});
  EXPECT_EQ(s2.queue(), std::vector<Event>{e2});
}

TEST(Sched, NonBlockingRunRunsWhatIsDueAndReturnsTheDelayToTheNext) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  EXPECT_EQ(s.run(false), std::nullopt);  // nothing queued: Python's None
  std::vector<int> ran;
  for (int t : {5, 1, 2}) s.enterabs(t, 0, [&ran, t] { ran.push_back(t); });
  EXPECT_EQ(s.run(false), std::optional<double>(1.0));  // nothing due yet
  EXPECT_TRUE(ran.empty());
  clock.now = 2;
  EXPECT_EQ(s.run(false), std::optional<double>(3.0));
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(clock.delays, (std::vector<double>{0, 0}));  // only the yields after actions
  clock.now = 7;
  EXPECT_EQ(s.run(false), std::nullopt);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 5}));
}

TEST(Sched, ArgumentsAreDecayCopiedAndMayBeMoveOnly) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::string text = "hello";
  std::string got_text;
  int got_value = 0;
  s.enterabs(1, 0, [&](const std::string& t, std::unique_ptr<int> p) {
    got_text = t;
    got_value = *p;
  }, text, std::make_unique<int>(42));
  text = "changed";  // the event holds its own copy
  s.run();
  EXPECT_EQ(got_text, "hello");
  EXPECT_EQ(got_value, 42);
}

TEST(Sched, ActionsMayEnterAndCancelEvents) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::vector<std::string> ran;
  Event doomed = s.enterabs(10, 0, [&] { ran.push_back("doomed"); });
  s.enterabs(1, 0, [&] {
    ran.push_back("first");
    s.enter(1, 0, [&] { ran.push_back("entered by first"); });
    s.cancel(doomed);
  });
  s.enterabs(3, 0, [&] { ran.push_back("third"); });
  s.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "entered by first", "third"}));
  EXPECT_EQ(clock.now, 3.0);
}

TEST(Sched, AnActionsExceptionPropagatesAndLeavesTheRestQueued) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  std::vector<int> ran;
  s.enterabs(1, 0, [&] { ran.push_back(1); });
  s.enterabs(2, 0, [] { throw std::runtime_error("boom"); });
  Event later = s.enterabs(3, 0, [&] { ran.push_back(3); });
  EXPECT_THROW(
      {
        try {
          s.run();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(ran, std::vector<int>{1});
  EXPECT_EQ(s.queue(), std::vector<Event>{later});  // the failed event is gone, not the rest
  s.run();                                         // the scheduler is still usable
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

TEST(Sched, ADelayfuncExceptionPropagatesToo) {
  FakeClock clock;
  scheduler s(clock.timefunc(), [](double d) {
    if (d > 0) throw std::runtime_error("no sleeping");
  });
  Event e = s.enterabs(1, 0, [] {});
  EXPECT_THROW(s.run(), std::runtime_error);
  EXPECT_EQ(s.queue(), std::vector<Event>{e});
}

TEST(Sched, NanTimeIsValueError) {
  FakeClock clock;
  scheduler s(clock.timefunc(), clock.delayfunc());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(s.enterabs(nan, 0, [] {}), gilfree::ValueError);
  EXPECT_THROW(s.enter(nan, 0, [] {}), gilfree::ValueError);
  EXPECT_TRUE(s.empty());
}

TEST(Sched, AnActionHoldingItsOwnHandleDoesNotLeak) {
  // Under ASan's leak checker this fails if a record owned its action past cancel/run.
  auto s = std::make_unique<scheduler>();
  auto self = std::make_shared<Event>();
  *self = s->enter(1000, 0, [self] { (void)self; });
  auto self2 = std::make_shared<Event>();
  *self2 = s->enter(1000, 0, [self2] { (void)self2; });
  s->cancel(*self2);
  s.reset();  // drops the pending one
}

TEST(Sched, DefaultClockSleepsUntilTheEventIsDue) {
  scheduler s;
  double ran_at = 0;
  const double t0 = scheduler::monotonic();
  Event e = s.enter(0.05, 0, [&] { ran_at = scheduler::monotonic(); });
  EXPECT_GE(e.time(), t0 + 0.05);  // enter() reads the clock after t0
  EXPECT_LT(e.time(), t0 + 5.0);    // and not long after, even on a loaded machine
  s.run();
  EXPECT_GE(ran_at, e.time());  // never early
}

TEST(Sched, AnEarlierEventEnteredFromAnotherThreadWakesRun) {
  scheduler s;
  Event far = s.enter(60, 0, [] {});  // run() would sleep a minute for this one
  std::promise<void> fired;
  std::thread runner([&] { s.run(); });
  // Give run() a chance to fall asleep; the test passes either way.
  std::this_thread::sleep_for(20ms);
  const auto t0 = std::chrono::steady_clock::now();
  s.enter(0, 0, [&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(10s), std::future_status::ready)
      << "run() was not woken by an earlier event";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  s.cancel(far);  // the head goes away: run() wakes, finds nothing, returns
  runner.join();
  EXPECT_TRUE(s.empty());
}

TEST(Sched, CancellingTheAwaitedEventWakesRun) {
  scheduler s;
  Event far = s.enter(std::numeric_limits<double>::infinity(), 0, [] {});
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    s.run();
    returned = true;
  });
  std::this_thread::sleep_for(20ms);  // a chance to fall asleep; passes either way
  s.cancel(far);
  runner.join();  // hangs (and the test times out) if the cancel did not wake run()
  EXPECT_TRUE(returned);
}

TEST(Sched, ConcurrentEnterCancelAndRunStress) {
  // Producers enter events 0-2 ms ahead and try to cancel some (racing the runners); two
  // runners run concurrently; a reader takes snapshots. Checked: every event either ran
  // exactly once or was cancelled exactly once, never both; none ran before its time; every
  // snapshot is sorted.
  constexpr int kProducers = 3;
  const int kPerProducer = 3200 * kStressScale;
  struct Slot {
    std::atomic<int> runs{0};
    Event handle;
    double time = 0;
    bool early = false;
  };
  std::vector<Slot> slots(kProducers * kPerProducer);
  std::atomic<int> cancelled{0}, cancel_refused{0};
  scheduler s;
  // Keeps run() alive until the producers are done; cancelled at the end.
  Event sentinel = s.enterabs(std::numeric_limits<double>::infinity(), 0, [] {});

  std::vector<std::thread> runners;
  for (int r = 0; r < 2; ++r) runners.emplace_back([&] { s.run(); });
  std::atomic<bool> producing{true};
  std::thread reader([&] {
    while (producing.load()) {
      auto q = s.queue();
      for (size_t i = 1; i < q.size(); ++i) EXPECT_TRUE(q[i - 1] < q[i]);
      EXPECT_FALSE(q.empty());  // the sentinel is always there
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(p);
      std::uniform_real_distribution<double> delay(0, 0.002);
      for (int i = 0; i < kPerProducer; ++i) {
        Slot& slot = slots[p * kPerProducer + i];
        // slot.time is written before enterabs() publishes the event under the
        // scheduler's lock; slot.handle is read only by this producer.
        slot.time = scheduler::monotonic() + delay(rng);
        slot.handle = s.enterabs(slot.time, static_cast<int>(rng() % 3), [&slot] {
          slot.early = scheduler::monotonic() < slot.time;
          slot.runs.fetch_add(1);
        });
        if (rng() % 3 == 0) {  // cancel an earlier one of ours, which may have run already
          Slot& victim = slots[p * kPerProducer + static_cast<int>(rng() % (i + 1))];
          try {
            s.cancel(victim.handle);
            victim.runs.fetch_add(100);  // marks "cancelled"
            cancelled.fetch_add(1);
          } catch (const gilfree::ValueError&) {
            cancel_refused.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  producing = false;
  reader.join();
  s.cancel(sentinel);
  for (auto& t : runners) t.join();

  EXPECT_TRUE(s.empty());
  int ran = 0, was_cancelled = 0;
  for (const Slot& slot : slots) {
    const int r = slot.runs.load();
    ASSERT_TRUE(r == 1 || r == 100) << "ran/cancelled count " << r;
    ran += r == 1;
    was_cancelled += r == 100;
    EXPECT_FALSE(slot.early);
  }
  EXPECT_EQ(was_cancelled, cancelled.load());
  EXPECT_EQ(ran + was_cancelled, kProducers * kPerProducer);
  EXPECT_GT(cancelled.load() + cancel_refused.load(), 0);
}

TEST(Sched, ManyThreadsEnterIntoOneRunnerOnAFakeClockInOrder) {
  // A single runner on a fake clock that only advances when asked to wait: whatever the
  // interleaving of producers, the events run in (time, priority, sequence) order, because
  // every producer finishes before run() starts.
  std::mutex mu;
  double now = 0;
  scheduler s([&] { std::lock_guard g(mu); return now; },
              [&](double d) { std::lock_guard g(mu); now += d; });
  constexpr int kThreads = 4;
  const int kEach = 2000 * kStressScale;
  std::vector<Event> ran;  // touched by the runner only
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kEach; ++i) {
        auto slot = std::make_shared<Event>();
        *slot = s.enterabs(rng() % 50, static_cast<int>(rng() % 4),
                           [&ran, slot] { ran.push_back(*slot); });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(s.queue().size(), static_cast<size_t>(kThreads * kEach));
  s.run();
  ASSERT_EQ(ran.size(), static_cast<size_t>(kThreads * kEach));
  for (size_t i = 1; i < ran.size(); ++i) ASSERT_TRUE(ran[i - 1] < ran[i]) << i;
}

// --- Priorities of any type (basic_scheduler<Priority, Compare>) ---

// A comparator that counts its calls and throws on a priority it cannot order, as Python's
// `<` raises TypeError for unorderable objects.
struct PickyLess {
  static inline int calls = 0;
  bool operator()(const std::string& a, const std::string& b) const {
    ++calls;
    if (a == "unorderable" || b == "unorderable") throw std::invalid_argument("unorderable");
    return a < b;
  }
};
using StringScheduler = gilfree::basic_scheduler<std::string, PickyLess>;

TEST(Sched, StringPrioritiesOrderUnderTheirComparator) {
  double now = 0;
  StringScheduler s([&] { return now; }, [&](double d) { now += d; });
  std::vector<std::string> ran;
  auto log = [&](std::string m) { ran.push_back(std::move(m)); };
  s.enterabs(2, "b", log, "2b");
  s.enterabs(2, "a", log, "2a");
  s.enterabs(1, "z", log, "1z");
  s.enterabs(2, "b", log, "2b-second");  // equal priority: the order entered
  StringScheduler::Event e = s.enterabs(2, "aa", log, "2aa");
  EXPECT_EQ(e.priority(), "aa");
  std::vector<StringScheduler::Event> q = s.queue();
  ASSERT_EQ(q.size(), 5u);
  for (size_t i = 1; i < q.size(); ++i) EXPECT_TRUE(q[i - 1] < q[i]) << i;
  s.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"1z", "2a", "2aa", "2b", "2b-second"}));
}

TEST(Sched, AThrowingComparisonPropagatesAndLeavesTheQueueIntact) {
  double now = 0;
  StringScheduler s([&] { return now; }, [&](double d) { now += d; });
  std::vector<std::string> ran;
  auto log = [&](std::string m) { ran.push_back(std::move(m)); };
  StringScheduler::Event a = s.enterabs(1, "a", log, "a");
  s.enterabs(2, "b", log, "b");
  // A different time never compares priorities, as in Python's tuple order.
  PickyLess::calls = 0;
  s.enterabs(3, "unorderable", log, "u");
  EXPECT_THROW(s.enterabs(1, "unorderable", log, "x"), std::invalid_argument);
  EXPECT_THROW(s.enterabs(3, "c", log, "y"), std::invalid_argument);
  EXPECT_GT(PickyLess::calls, 0);
  ASSERT_EQ(s.queue().size(), 3u);
  s.cancel(a);
  EXPECT_THROW(s.cancel(a), gilfree::ValueError);
  s.run();
  EXPECT_EQ(ran, (std::vector<std::string>{"b", "u"}));
  EXPECT_TRUE(s.empty());
}

// A priority whose destruction is counted, to check that pending records die with the
// scheduler and that a move-only priority works.
TEST(Sched, MoveOnlyPrioritiesAreOwnedAndReleased) {
  struct Less {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
      return *a < *b;
    }
  };
  auto alive = std::make_shared<int>(0);
  {
    gilfree::basic_scheduler<std::unique_ptr<int>, Less> s;
    std::vector<int> ran;
    s.enterabs(0, std::make_unique<int>(2), [&] { ran.push_back(2); });
    s.enterabs(0, std::make_unique<int>(1), [&] { ran.push_back(1); });
    s.enterabs(1e9, std::make_unique<int>(0), [alive] {});  // never runs
    EXPECT_EQ(*s.queue().back().priority(), 0);
    EXPECT_EQ(s.run(false).has_value(), true);
    EXPECT_EQ(ran, (std::vector<int>{1, 2}));
    EXPECT_EQ(alive.use_count(), 2);
  }
  EXPECT_EQ(alive.use_count(), 1);  // the pending action died with the scheduler
}

}  // namespace
