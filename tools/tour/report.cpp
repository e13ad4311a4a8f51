// The tour's output: a block per experiment (table + lesson), a bar chart of speed-ups, and
// the figures as JSON for tools/plots/.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "tour.hpp"

namespace tour {
namespace {

// Speed-up of `c` over the first row's time of the same side, when both are times.
std::optional<double> speedup(const Experiment& e, const Cell Row::*side, const Row& r) {
  if (e.rows.empty()) return std::nullopt;
  const Cell& base = e.rows.front().*side;
  const Cell& c = r.*side;
  if (!base.seconds || !c.seconds || *c.seconds <= 0) return std::nullopt;
  return *base.seconds / *c.seconds;
}

std::string seconds_text(double s) {
  if (s < 0.01) return fmt("%.2f ms", s * 1e3);
  return fmt("%.3f s", s);
}

std::string cell_text(const Experiment& e, const Cell Row::*side, const Row& r) {
  const Cell& c = r.*side;
  std::string t;
  if (c.seconds) {
    t = seconds_text(*c.seconds);
    if (e.rows.size() > 1)
      if (auto s = speedup(e, side, r)) t += "  " + ratio(*s);
    if (!c.text.empty()) t += "  " + c.text;
  } else {
    t = c.text.empty() ? "—" : c.text;
  }
  return t;
}

// Display width of UTF-8 text (counts code points; every glyph we print is one column).
size_t width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string pad(const std::string& s, size_t w) {
  size_t have = width(s);
  return have >= w ? s + " " : s + std::string(w - have, ' ');
}

std::string bar(double value, double max_value, int max_chars) {
  static const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  if (max_value <= 0 || value <= 0) return "";
  double cells = std::min(value / max_value, 1.0) * max_chars;
  int full = static_cast<int>(cells);
  int part = static_cast<int>((cells - full) * 8);
  std::string b;
  for (int i = 0; i < full; ++i) b += "█";
  b += kEighths[part];
  if (b.empty()) b = "▏";
  return b;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return "\"" + o + "\"";
}

std::string json_number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "null";
  return fmt("%.9g", *v);
}

}  // namespace

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::vector<double> best_interleaved(int repeats, const std::vector<std::function<void()>>& fns) {
  std::vector<double> best(fns.size(), 1e300);
  for (int r = 0; r < repeats; ++r)
    for (std::size_t i = 0; i < fns.size(); ++i) best[i] = std::min(best[i], best_of(1, fns[i]));
  return best;
}

std::string gil_note(double s) { return s < 1.3 ? " — the GIL" : ""; }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

std::string ratio(double x) { return fmt(x >= 10 ? "%.0f×" : "%.2f×", x); }

void print_experiment(const Experiment& e, const std::string& python_label) {
  std::string head = "── " + e.title + " (" + e.seed + ") ";
  while (width(head) < 96) head += "─";
  std::printf("\n%s\n", head.c_str());
  std::printf("   sizes: gilfree %s · CPython %s\n", e.gilfree_size.c_str(),
              e.cpython_size.c_str());
  std::printf("   %s%s%s\n", pad("variant", 24).c_str(), pad("gilfree", 36).c_str(),
              python_label.c_str());
  for (const auto& r : e.rows) {
    std::printf("   %s%s%s\n", pad(r.variant, 24).c_str(),
                pad(cell_text(e, &Row::gilfree, r), 36).c_str(),
                cell_text(e, &Row::cpython, r).c_str());
  }
  for (const auto& n : e.notes) std::printf("   %s\n", n.c_str());
  std::printf("   → %s%s\n", e.lesson.c_str(), e.ok ? "" : "   [CHECK FAILED]");
  std::fflush(stdout);
}

void print_summary(const std::vector<Experiment>& all) {
  std::printf("\n── Speed-up over each side's own sequential run %s\n", std::string(40, '-').c_str());
  std::printf("   (%u hardware threads; bars scaled per experiment)\n",
              std::thread::hardware_concurrency());
  for (const auto& e : all) {
    struct Line {
      std::string label;
      double s;
    };
    std::vector<Line> lines;
    for (size_t i = 1; i < e.rows.size(); ++i) {
      const Row& r = e.rows[i];
      if (auto s = speedup(e, &Row::gilfree, r)) lines.push_back({"gilfree " + r.variant, *s});
      if (auto s = speedup(e, &Row::cpython, r)) lines.push_back({"CPython " + r.variant, *s});
    }
    if (lines.empty()) continue;
    double max_s = 1.0;
    for (const auto& l : lines) max_s = std::max(max_s, l.s);
    std::printf("   %s\n", e.key.c_str());
    for (const auto& l : lines)
      std::printf("     %s%s %s\n", pad(l.label, 34).c_str(), bar(l.s, max_s, 40).c_str(),
                  ratio(l.s).c_str());
  }
  std::fflush(stdout);
}

void write_json(const std::string& path, const Options& opt, const std::string& python_label,
                const std::vector<Experiment>& all, double total_seconds) {
  std::ostringstream j;
  j << "{\n  \"tool\": \"gilfree-tour\",\n  \"quick\": " << (opt.quick ? "true" : "false")
    << ",\n  \"hardware_threads\": " << std::thread::hardware_concurrency()
    << ",\n  \"load_average_at_end\": " << json_escape(load_average())
    << ",\n  \"python\": " << json_escape(python_label)
    << ",\n  \"total_seconds\": " << json_number(total_seconds) << ",\n  \"experiments\": [";
  for (size_t k = 0; k < all.size(); ++k) {
    const auto& e = all[k];
    j << (k ? "," : "") << "\n    {\"key\": " << json_escape(e.key)
      << ", \"title\": " << json_escape(e.title) << ", \"seed\": " << json_escape(e.seed)
      << ",\n     \"gilfree_size\": " << json_escape(e.gilfree_size)
      << ", \"cpython_size\": " << json_escape(e.cpython_size)
      << ",\n     \"ok\": " << (e.ok ? "true" : "false")
      << ", \"lesson\": " << json_escape(e.lesson) << ",\n     \"figures\": {";
    size_t f = 0;
    for (const auto& [name, v] : e.figures)
      j << (f++ ? ", " : "") << json_escape(name) << ": " << json_number(v);
    j << "},\n     \"rows\": [";
    for (size_t i = 0; i < e.rows.size(); ++i) {
      const Row& r = e.rows[i];
      j << (i ? "," : "") << "\n       {\"variant\": " << json_escape(r.variant)
        << ", \"gilfree_seconds\": " << json_number(r.gilfree.seconds)
        << ", \"gilfree_speedup\": " << json_number(speedup(e, &Row::gilfree, r))
        << ", \"gilfree_text\": " << json_escape(r.gilfree.text)
        << ", \"cpython_seconds\": " << json_number(r.cpython.seconds)
        << ", \"cpython_speedup\": " << json_number(speedup(e, &Row::cpython, r))
        << ", \"cpython_text\": " << json_escape(r.cpython.text) << "}";
    }
    j << "]}";
  }
  j << "\n  ]\n}\n";
  std::ofstream out(path);
  out << j.str();
  if (!out) std::fprintf(stderr, "gilfree-tour: cannot write %s\n", path.c_str());
}

}  // namespace tour
