// Experiments not written yet (temporary).
#include "tour.hpp"
namespace tour {
static Experiment todo(const char* key) {
  Experiment e{.key = key, .title = std::string(key) + ": not yet ported", .seed = "-"};
  e.lesson = "to come";
  return e;
}
Experiment run_bad_fib(const Options&) { return todo("bad_fib"); }
Experiment run_integrate(const Options&) { return todo("integrate"); }
Experiment run_flags(const Options&) { return todo("flags"); }
Experiment run_wordcount(const Options&) { return todo("wordcount"); }
}  // namespace tour
