#include "message.hpp"

#include <algorithm>

namespace irc {

const std::string& Message::param(std::size_t i) const {
  static const std::string empty;
  return i < params.size() ? params[i] : empty;
}

std::optional<Message> parse(std::string_view line) {
  if (auto nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  auto skip_spaces = [&] {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  };
  auto word = [&] {
    auto end = std::min(line.find(' '), line.size());
    std::string_view w = line.substr(0, end);
    line.remove_prefix(end);
    return w;
  };
  Message m;
  skip_spaces();
  if (!line.empty() && line.front() == ':') {
    line.remove_prefix(1);
    m.prefix = std::string(word());
    skip_spaces();
  }
  std::string_view command = word();
  if (command.empty()) return std::nullopt;
  m.command.reserve(command.size());
  for (char c : command) m.command += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  for (;;) {
    skip_spaces();
    if (line.empty()) break;
    if (line.front() == ':' || m.params.size() == kMaxParams - 1) {
      if (line.front() == ':') line.remove_prefix(1);
      m.params.emplace_back(line);
      break;
    }
    m.params.emplace_back(word());
  }
  return m;
}

std::string format(std::string_view prefix, std::string_view command,
                   const std::vector<std::string>& params, bool text_last) {
  std::string out;
  out.reserve(64);
  if (!prefix.empty()) {
    out += ':';
    out += prefix;
    out += ' ';
  }
  out += command;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string& p = params[i];
    out += ' ';
    if (i + 1 == params.size() &&
        (p.empty() || p.front() == ':' || p.find(' ') != std::string::npos ||
         (text_last && params.size() >= 2)))
      out += ':';
    out += p;
  }
  // Nothing a peer sent may break our framing: drop CR, LF and NUL from the text.
  std::erase_if(out, [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
  if (out.size() > kMaxLine - 2) out.resize(kMaxLine - 2);
  out += "\r\n";
  return out;
}

void LineFramer::finish_line() {
  if (!current_.empty() && current_.back() == '\r') current_.pop_back();
  if (current_.size() > kMaxLine - 2) {
    current_.resize(kMaxLine - 2);
    ++truncated_;
  }
  lines_.push_back(std::move(current_));
  current_.clear();
}

void LineFramer::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (discarding_) {
      if (nl == std::string_view::npos) return;
      bytes.remove_prefix(nl + 1);
      discarding_ = false;
      continue;
    }
    std::size_t take = nl == std::string_view::npos ? bytes.size() : nl;
    std::size_t room = kMaxLine - current_.size();
    if (take > room) {  // over-long: keep one line's worth, drop the rest up to the LF
      current_.append(bytes.substr(0, room));
      ++truncated_;
      current_.resize(kMaxLine - 2);
      lines_.push_back(std::move(current_));
      current_.clear();
      discarding_ = true;
      bytes.remove_prefix(room);
      continue;
    }
    current_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (nl != std::string_view::npos) {
      bytes.remove_prefix(1);
      finish_line();
    }
  }
}

std::optional<std::string> LineFramer::next() {
  if (lines_.empty()) return std::nullopt;
  std::string line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

std::vector<std::string> split_commas(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto end = std::min(list.find(','), list.size());
    if (end > 0) out.emplace_back(list.substr(0, end));
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return out;
}

}  // namespace irc
