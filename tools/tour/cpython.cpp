// Running the CPython side: `python3 tools/tour/python/<script> args...`, reading the
// "RESULT key value" lines each script prints after the seed program's own output.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tour.hpp"

namespace tour {
namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command, returning (exit status, stdout+stderr).
std::pair<int, std::string> capture(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  return {status, out};
}

}  // namespace

std::optional<double> PyRun::number(const std::string& key) const {
  auto it = results.find(key);
  if (it == results.end()) return std::nullopt;
  try {
    return std::stod(it->second);
  } catch (...) {
    return std::nullopt;
  }
}

std::string PyRun::text(const std::string& key) const {
  auto it = results.find(key);
  return it == results.end() ? std::string() : it->second;
}

std::string python_version(const Options& opt) {
  if (opt.python.empty()) return "";
  auto [status, out] = capture(shell_quote(opt.python) +
                               " -c 'import platform; print(platform.python_implementation(),"
                               " platform.python_version())'");
  if (status != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

PyRun run_python(const Options& opt, const std::string& script,
                 const std::vector<std::string>& args) {
  PyRun r;
  if (opt.python.empty()) {
    r.why = "not run";
    return r;
  }
  std::string cmd = "cd " + shell_quote(opt.python_dir) + " && " + shell_quote(opt.python) +
                    " " + shell_quote(script);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  auto [status, out] = capture(cmd);
  r.output = out;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("RESULT ", 0) != 0) continue;
    auto sp = line.find(' ', 7);
    if (sp == std::string::npos) continue;
    r.results[line.substr(7, sp - 7)] = line.substr(sp + 1);
  }
  if (status != 0) {
    r.why = script + " failed (status " + std::to_string(status) + ")";
    std::fprintf(stderr, "gilfree-tour: %s:\n%s\n", r.why.c_str(), out.c_str());
    return r;
  }
  r.ran = true;
  if (opt.verbose) std::printf("%s", out.c_str());
  return r;
}

Cell py_cell(const PyRun& py, const std::string& key) {
  Cell c;
  if (!py.ran) c.text = py.why;
  else if (auto v = py.number(key)) c.seconds = v;
  else c.text = "not run";
  return c;
}

}  // namespace tour
