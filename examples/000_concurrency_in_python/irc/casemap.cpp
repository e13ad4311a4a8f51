#include "casemap.hpp"

namespace irc {

std::string casefold(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    else if (c == '[') c = '{';
    else if (c == ']') c = '}';
    else if (c == '\\') c = '|';
    else if (c == '^') c = '~';
  }
  return out;
}

namespace {
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// RFC 2812's "special": [ ] \ ` _ ^ { | }
bool is_special(char c) {
  return (c >= '[' && c <= '`') || (c >= '{' && c <= '}');
}
}  // namespace

bool valid_nick(std::string_view nick) {
  if (nick.empty() || nick.size() > kNickLen) return false;
  if (!is_letter(nick[0]) && !is_special(nick[0])) return false;
  for (char c : nick.substr(1))
    if (!is_letter(c) && !is_digit(c) && !is_special(c) && c != '-') return false;
  return true;
}

bool is_channel_name(std::string_view name) {
  return !name.empty() && (name[0] == '#' || name[0] == '&');
}

bool valid_channel(std::string_view name) {
  if (!is_channel_name(name) || name.size() < 2 || name.size() > kChannelLen) return false;
  for (char c : name)
    if (c == ' ' || c == ',' || c == '\x07' || c == '\0' || c == '\r' || c == '\n') return false;
  return true;
}

}  // namespace irc
