// The `vecmath` extension module: seed 000's "parallel vector math in a native
// extension". Each call checks its buffers with the GIL held (buffers.hpp), releases
// the GIL, splits the arrays into one chunk per thread and runs the SIMD kernels
// (kernels.hpp) on a gilfree::ThreadPoolExecutor, the calling thread taking one chunk
// itself. So Python threads calling vecmath run in parallel with each other and with
// the pool, which plain Python code cannot do under the GIL.
//
//   dot(x, y)                    Σ x·y                       norm(x)   √Σ x²
//   axpy(a, x, y, out=None)      a*x + y (into y when out is None, as BLAS daxpy)
//   sincos_sqrt(x, out=None)     sin(x)*cos(x) + sqrt(x) (a new array.array when out is None)
//   sum(x)                       Σ x: the memory-bandwidth reference for dot
//   sincos_sqrt_async(x, out, start=None, done=None)
//                                the same map on the pool only; returns a Job at once. Its
//                                workers wait for the gilfree.Event `start` and set `done`
//                                (both used from C++ without the GIL, <gilfree/python.hpp>)
//   objects.*, serve()           C++ threads on gilfree objects passed from Python (objects.cpp,
//                                pipeline.cpp)
//
// Every function takes `threads=` (default: set_threads(), initially the core count).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // std::optional arguments

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "buffers.hpp"
#include "gilfree/futures.hpp"
#include "gilfree/python.hpp"
#include "gilfree/threading.hpp"
#include "kernels.hpp"
#include "objects.hpp"

namespace vecmath {

namespace {

using namespace pybind11::literals;

// A chunk below this many elements (256 KiB) costs more to hand to a worker than to run.
constexpr std::size_t kMinChunk = 32 * 1024;

// ---- the pool ---------------------------------------------------------------------------

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::atomic<int> g_threads{0};  // set_threads(); 0 until the first use

// The process's pool, made on first use with one worker per core (a call with more
// threads= than that queues its extra chunks). Shut down by the atexit hook below.
std::mutex g_pool_mutex;
std::unique_ptr<gilfree::ThreadPoolExecutor> g_pool;

gilfree::ThreadPoolExecutor* pool() {
  std::scoped_lock g(g_pool_mutex);
  if (!g_pool)
    g_pool = std::make_unique<gilfree::ThreadPoolExecutor>(gilfree::ThreadPoolExecutor::Options{
        .max_workers = default_threads(), .thread_name_prefix = "vecmath"});
  return g_pool.get();
}

int threads_arg(const py::object& threads) {
  if (threads.is_none()) {
    int t = g_threads.load(std::memory_order_relaxed);
    return t > 0 ? t : default_threads();
  }
  int t = threads.cast<int>();
  if (t <= 0) throw py::value_error("threads must be at least 1");
  return t;
}

// ---- splitting --------------------------------------------------------------------------

// How a call of n elements is cut: `parts` chunks whose bounds are multiples of 8
// elements (64 bytes) from the start, the last taking the remainder.
struct Plan {
  std::size_t n, parts, step;
  std::size_t begin(std::size_t i) const { return i * step; }
  std::size_t end(std::size_t i) const { return i + 1 == parts ? n : (i + 1) * step; }
};

Plan plan(std::size_t n, int threads) {
  std::size_t parts = std::min<std::size_t>(static_cast<std::size_t>(threads), n / kMinChunk);
  if (parts <= 1) return {n, 1, n};
  std::size_t step = (n / parts) & ~std::size_t{7};
  return {n, parts, step};
}

// Runs fn(i) for every chunk i: chunks 1.. on the pool, chunk 0 on the calling thread,
// then waits for all. Chunks the pool would not take (a submit that throws) run here too:
// the submitted ones refer to `fn` on this stack, so this never returns before they end.
// Called with the GIL released.
template <class F>
void run_chunks(const Plan& p, F&& fn) {
  if (p.parts == 1) return fn(0);
  std::vector<gilfree::Future<void>> futures;
  futures.reserve(p.parts - 1);
  try {
    auto* ex = pool();
    for (std::size_t i = 1; i < p.parts; ++i) futures.push_back(ex->submit([&fn, i] { fn(i); }));
  } catch (...) {  // out of memory, a pool shut down: the caller does the rest
  }
  for (std::size_t i = 1 + futures.size(); i < p.parts; ++i) fn(i);
  fn(0);
  for (auto& f : futures) f.result();
}

// A reduction: kernel(begin, length) per chunk, partial sums added in chunk order (so a
// given thread count always gives the same result).
template <class K>
double reduce(std::size_t n, int threads, K&& kernel) {
  const Plan p = plan(n, threads);
  std::vector<double> partial(p.parts);
  {
    py::gil_scoped_release nogil;
    run_chunks(p, [&](std::size_t i) { partial[i] = kernel(p.begin(i), p.end(i) - p.begin(i)); });
  }
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

template <class K>
void map(std::size_t n, int threads, K&& kernel) {
  const Plan p = plan(n, threads);
  py::gil_scoped_release nogil;
  run_chunks(p, [&](std::size_t i) { kernel(p.begin(i), p.end(i) - p.begin(i)); });
}

// A new array.array('d') of n zeros, for an `out` the caller did not give.
py::object new_array(std::size_t n) {
  py::object zero = py::module_::import("array").attr("array")("d", py::make_tuple(0.0));
  return zero.attr("__mul__")(n);
}

// ---- the Python functions ---------------------------------------------------------------

double py_dot(py::handle x, py::handle y, const py::object& threads) {
  Buffer bx(x, "x", false), by(y, "y", false);
  check_same_length(bx, "x", by, "y");
  return reduce(bx.size(), threads_arg(threads), [&](std::size_t b, std::size_t m) {
    return dot(bx.data() + b, by.data() + b, m);
  });
}

double py_norm(py::handle x, const py::object& threads) {
  Buffer bx(x, "x", false);
  return std::sqrt(reduce(bx.size(), threads_arg(threads), [&](std::size_t b, std::size_t m) {
    return sum_squares(bx.data() + b, m);
  }));
}

double py_sum(py::handle x, const py::object& threads) {
  Buffer bx(x, "x", false);
  return reduce(bx.size(), threads_arg(threads),
                [&](std::size_t b, std::size_t m) { return sum(bx.data() + b, m); });
}

py::object py_axpy(double a, py::handle x, py::handle y, py::object out, const py::object& threads) {
  const int t = threads_arg(threads);
  Buffer bx(x, "x", false);
  Buffer by(y, "y", out.is_none());
  check_same_length(bx, "x", by, "y");
  if (out.is_none()) out = py::reinterpret_borrow<py::object>(y);
  Buffer bo(out, "out", true);
  check_same_length(bx, "x", bo, "out");
  check_no_partial_overlap(bo, "out", bx, "x");
  check_no_partial_overlap(bo, "out", by, "y");
  map(bx.size(), t, [&](std::size_t b, std::size_t m) {
    axpy(a, bx.data() + b, by.data() + b, bo.mutable_data() + b, m);
  });
  return out;
}

py::object py_sincos_sqrt(py::handle x, py::object out, const py::object& threads) {
  const int t = threads_arg(threads);
  Buffer bx(x, "x", false);
  if (out.is_none()) out = new_array(bx.size());
  Buffer bo(out, "out", true);
  check_same_length(bx, "x", bo, "out");
  check_no_partial_overlap(bo, "out", bx, "x");
  map(bx.size(), t, [&](std::size_t b, std::size_t m) {
    sincos_sqrt(bx.data() + b, bo.mutable_data() + b, m);
  });
  return out;
}

// ---- asynchronous work: a C++ worker that outlives the caller's interest ---------------

// Jobs still running, so that the atexit hook can wait for them before the interpreter
// goes (a finishing job takes the GIL to release its buffers).
gilfree::Lock g_jobs_lock;
gilfree::Condition g_jobs_idle(g_jobs_lock);
long g_jobs_live = 0;

// One sincos_sqrt_async call: its buffers, held until the last chunk is done (so the
// arrays live on even if Python drops every reference to them and to the Job), and the
// flag the Job waits on.
struct JobState {
  Buffer x, out;
  Plan p{};
  std::atomic<std::size_t> left{0};
  gilfree::Event done;
  gilfree::python::Ref<gilfree::Event> start, user_done;  // gilfree.Events from Python, or empty

  // Runs on a pool worker, without the GIL.
  void run_chunk(std::size_t i) {
    if (start) start->wait();
    sincos_sqrt(x.data() + p.begin(i), out.mutable_data() + p.begin(i), p.end(i) - p.begin(i));
    if (left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    x.release();  // take the GIL briefly: the arrays may now be freed
    out.release();
    done.set();
    if (user_done) user_done->set();
    start = {};  // drop the Python objects now (takes the GIL), not when the last Job goes
    user_done = {};
    std::scoped_lock g(g_jobs_lock);
    if (--g_jobs_live == 0) g_jobs_idle.notify_all();
  }
};

// The Python handle of a job; dropping it does not stop or disturb the job.
struct Job {
  std::shared_ptr<JobState> s;
  bool wait(const py::object& timeout) {
    gilfree::Timeout t = timeout.is_none() ? gilfree::Timeout() : gilfree::Timeout(timeout.cast<double>());
    py::gil_scoped_release nogil;
    return s->done.wait(t);
  }
  bool is_done() const { return s->done.is_set(); }
};

using EventRef = gilfree::python::Ref<gilfree::Event>;

Job py_sincos_sqrt_async(py::handle x, py::handle out, std::optional<EventRef> start,
                         std::optional<EventRef> done, const py::object& threads) {
  const int t = threads_arg(threads);
  auto s = std::make_shared<JobState>();
  if (start) s->start = std::move(*start);
  if (done) s->user_done = std::move(*done);
  s->x = Buffer(x, "x", false);
  s->out = Buffer(out, "out", true);
  check_same_length(s->x, "x", s->out, "out");
  check_no_partial_overlap(s->out, "out", s->x, "x");
  s->p = plan(s->x.size(), t);
  s->left = s->p.parts;
  {
    std::scoped_lock g(g_jobs_lock);
    ++g_jobs_live;
  }
  py::gil_scoped_release nogil;
  std::size_t i = 0;
  try {
    auto* ex = pool();
    for (; i < s->p.parts; ++i) ex->submit([s, i] { s->run_chunk(i); });
  } catch (...) {  // chunks the pool would not take run here, so the job still ends
  }
  for (; i < s->p.parts; ++i) s->run_chunk(i);
  return Job{std::move(s)};
}

// Before the interpreter finalises: wait for running jobs and dropped workers, then stop
// the pool.
void at_exit() {
  py::gil_scoped_release nogil;
  {
    std::scoped_lock g(g_jobs_lock);
    while (g_jobs_live > 0) g_jobs_idle.wait();
  }
  join_orphans();
  std::unique_ptr<gilfree::ThreadPoolExecutor> p;
  {
    std::scoped_lock g(g_pool_mutex);
    p = std::move(g_pool);
  }
  p.reset();  // shutdown(wait=true)
}

}  // namespace

}  // namespace vecmath

PYBIND11_MODULE(vecmath, m) {
  using namespace vecmath;
  m.doc() = "Parallel float64 vector math over any buffer, on a gilfree ThreadPoolExecutor "
            "with the GIL released (seed 000).";
  const auto thr = "threads"_a = py::none();
  m.def("dot", &py_dot, "x"_a, "y"_a, py::kw_only(), thr, "Σ x[i]*y[i].");
  m.def("norm", &py_norm, "x"_a, py::kw_only(), thr, "The Euclidean norm √Σ x[i]².");
  m.def("sum", &py_sum, "x"_a, py::kw_only(), thr,
        "Σ x[i]: reads x at the machine's memory bandwidth (the reference for dot).");
  m.def("axpy", &py_axpy, "a"_a, "x"_a, "y"_a, "out"_a = py::none(), py::kw_only(), thr,
        "out = a*x + y, returns out; without out, y is updated in place (BLAS daxpy).");
  m.def("sincos_sqrt", &py_sincos_sqrt, "x"_a, "out"_a = py::none(), py::kw_only(), thr,
        "out = sin(x)*cos(x) + sqrt(x), returns out (a new array.array('d') when omitted).");
  py::class_<Job>(m, "Job", "A running sincos_sqrt_async call.")
      .def("wait", &Job::wait, "timeout"_a = py::none(),
           "Waits up to `timeout` seconds (None: forever); True once the job is done.")
      .def("done", &Job::is_done, "True once every chunk is written.");
  m.def("sincos_sqrt_async", &py_sincos_sqrt_async, "x"_a, "out"_a, py::kw_only(),
        "start"_a = py::none(), "done"_a = py::none(), thr,
        "Starts out = sin(x)*cos(x) + sqrt(x) on the pool and returns a Job at once. The job "
        "keeps x and out alive until it is done, whatever the caller drops. Its workers wait "
        "for the gilfree.Event `start` first, and set the gilfree.Event `done` last (after "
        "releasing x and out).");
  m.def("set_threads", [](int n) {
    if (n <= 0) throw py::value_error("threads must be at least 1");
    g_threads = n;
  }, "n"_a, "How many threads a call uses by default.");
  m.def("get_threads", [] { return threads_arg(py::none()); });
  m.def("min_chunk", [] { return kMinChunk; }, "Arrays shorter than 2*min_chunk() run on the caller alone.");
  bind_objects(m);
  bind_pipeline(m);
  // gilfree first: its own atexit hook (which closes its GIL gate) then runs after ours,
  // so our finishing jobs and workers can still take the GIL (python.hpp, rule 5).
  py::module_::import("gilfree");
  py::module_::import("atexit").attr("register")(py::cpp_function(&at_exit));
}
