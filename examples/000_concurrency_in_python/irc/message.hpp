// irc/message.hpp — RFC 1459 §2.3 messages: parsing, formatting and line framing.
//
//   message = [':' prefix SPACE] command {SPACE param} [SPACE ':' trailing] CRLF
//
// A message is at most 512 bytes with its CRLF. Lines may also end with a bare LF (many
// clients and the RFC's own examples do). The framer never lets a peer make it buffer more
// than one maximal line: a longer line is cut at 510 bytes and the rest, up to the next
// line end, is dropped.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace irc {

// The longest message, CRLF included (RFC 1459 §2.3).
inline constexpr std::size_t kMaxLine = 512;
// The most parameters a message carries (RFC 1459 §2.3: 15).
inline constexpr std::size_t kMaxParams = 15;

// One parsed message. `command` is upper-cased; `params` include the trailing one.
struct Message {
  // The sender ("nick!user@host" or a server name); empty when the line had none.
  std::string prefix;
  // The command or the three-digit numeric, upper-cased.
  std::string command;
  // The parameters, the trailing one (after " :") last and whole.
  std::vector<std::string> params;

  // The i-th parameter, or "" when there are fewer.
  const std::string& param(std::size_t i) const;
};

// Parses one line (without its line end). nullopt for a line with no command (empty,
// spaces only, or a prefix alone). NUL bytes end the line, as in C servers.
std::optional<Message> parse(std::string_view line);

// Formats ":prefix command p1 p2 :last\r\n". The last parameter is marked trailing (':')
// when it must be (empty, holds a space, starts with ':') and, with `text_last`, whenever
// there are two or more (as servers write free text: PRIVMSG, numerics); MODE changes pass
// false. CR, LF and NUL are dropped; the result is cut to kMaxLine bytes, CRLF kept.
std::string format(std::string_view prefix, std::string_view command,
                   const std::vector<std::string>& params, bool text_last = true);

// Splits a byte stream into lines ending in CRLF or LF, each at most kMaxLine-2 bytes.
class LineFramer {
 public:
  // Adds received bytes.
  void feed(std::string_view bytes);
  // The next complete line without its line end, or nullopt when none is complete yet.
  std::optional<std::string> next();
  // How many over-long lines were cut so far.
  std::size_t truncated() const noexcept { return truncated_; }

 private:
  void finish_line();
  std::string current_;             // the line being received, at most kMaxLine bytes
  std::deque<std::string> lines_;   // complete lines not yet taken
  bool discarding_ = false;         // dropping the tail of an over-long line until its LF
  std::size_t truncated_ = 0;
};

// Splits "a,b,,c" into {"a","b","c"} (empty items dropped).
std::vector<std::string> split_commas(std::string_view list);

}  // namespace irc
