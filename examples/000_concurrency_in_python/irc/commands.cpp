// The commands of RFC 1459 §4, each run by State::handle under the state lock.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "casemap.hpp"
#include "numerics.hpp"
#include "state.hpp"

namespace irc {

namespace {

// A '*' and '?' pattern match (WHO masks), on casefolded strings.
bool glob(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return s;
}

}  // namespace

const std::unordered_map<std::string, State::Handler>& State::handlers() {
  static const std::unordered_map<std::string, Handler> table = {
      {"PASS", &State::cmd_pass},       {"NICK", &State::cmd_nick},
      {"USER", &State::cmd_user},       {"CAP", &State::cmd_cap},
      {"QUIT", &State::cmd_quit},       {"PING", &State::cmd_ping},
      {"PONG", &State::cmd_pong},       {"JOIN", &State::cmd_join},
      {"PART", &State::cmd_part},       {"PRIVMSG", &State::cmd_privmsg},
      {"NOTICE", &State::cmd_privmsg},  {"TOPIC", &State::cmd_topic},
      {"NAMES", &State::cmd_names},     {"LIST", &State::cmd_list},
      {"WHO", &State::cmd_who},         {"WHOIS", &State::cmd_whois},
      {"MODE", &State::cmd_mode},       {"KICK", &State::cmd_kick},
      {"INVITE", &State::cmd_invite},   {"AWAY", &State::cmd_away},
      {"MOTD", &State::cmd_motd},       {"LUSERS", &State::cmd_lusers},
      {"ISON", &State::cmd_ison},       {"USERHOST", &State::cmd_userhost},
      {"WHOWAS", &State::cmd_whowas},
  };
  return table;
}

// ---- registration ---------------------------------------------------------------------

void State::cmd_pass(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  if (c.registered) return reply(c, rpl::ERR_ALREADYREGISTRED, {"You may not reregister"});
  c.password = m.params[0];
}

void State::cmd_nick(Connection& c, const Message& m) {
  if (m.params.empty() || m.params[0].empty())
    return reply(c, rpl::ERR_NONICKNAMEGIVEN, {"No nickname given"});
  const std::string& nick = m.params[0];
  if (!valid_nick(nick)) return reply(c, rpl::ERR_ERRONEUSNICKNAME, {nick, "Erroneous nickname"});
  std::string folded = casefold(nick);
  auto it = nicks_.find(folded);
  if (it != nicks_.end() && it->second != &c)
    return reply(c, rpl::ERR_NICKNAMEINUSE, {nick, "Nickname is already in use"});
  if (nick == c.nick) return;
  if (c.registered) {
    to_peers(c, format(c.prefix(), "NICK", {nick}), true);
    remember(c);
  }
  if (!c.nick.empty()) nicks_.erase(casefold(c.nick));
  nicks_[folded] = &c;
  c.nick = nick;
  try_register(c);
}

void State::cmd_user(Connection& c, const Message& m) {
  if (m.params.size() < 4) return need_more_params(c, m.command);
  if (c.registered) return reply(c, rpl::ERR_ALREADYREGISTRED, {"You may not reregister"});
  std::string user = m.params[0];
  std::erase_if(user, [](char ch) { return ch == '@' || ch == '!'; });
  if (user.empty()) user = "user";
  c.user = user.substr(0, 10);
  c.realname = m.params[3];
  try_register(c);
}

// IRCv3 capability negotiation, reduced to "none": enough for clients that open with it.
void State::cmd_cap(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  std::string sub = upper(m.params[0]);
  if (sub == "LS" || sub == "LIST") {
    if (!c.registered && sub == "LS") c.cap_negotiating = true;
    c.send(format(config_.name, "CAP", {c.target(), sub, ""}));
  } else if (sub == "REQ") {
    if (!c.registered) c.cap_negotiating = true;
    c.send(format(config_.name, "CAP", {c.target(), "NAK", m.param(1)}));
  } else if (sub == "END") {
    c.cap_negotiating = false;
    try_register(c);
  } else {
    reply(c, "410", {m.params[0], "Invalid CAP command"});
  }
}

void State::cmd_quit(Connection& c, const Message& m) {
  c.kill(m.params.empty() ? "Client Quit" : "Quit: " + m.params[0], -1);
}

void State::cmd_ping(Connection& c, const Message& m) {
  if (m.params.empty()) return reply(c, rpl::ERR_NOORIGIN, {"No origin specified"});
  c.send(format(config_.name, "PONG", {config_.name, m.params[0]}));
}

// Any line resets the ping timer (in Server's reader), so PONG itself has nothing to do.
void State::cmd_pong(Connection&, const Message&) {}

// ---- channels -------------------------------------------------------------------------

void State::send_topic(Connection& c, const Channel& ch) {
  if (ch.topic.empty()) return reply(c, rpl::NOTOPIC, {ch.name, "No topic is set"});
  reply(c, rpl::TOPIC, {ch.name, ch.topic});
  reply(c, rpl::TOPICWHOTIME, {ch.name, ch.topic_who, std::to_string(ch.topic_time)});
}

void State::send_names(Connection& c, const Channel& ch) {
  bool member = ch.members.count(&c) > 0;
  std::string head = format(config_.name, rpl::NAMREPLY, {c.target(), "=", ch.name, "x"});
  const std::size_t room = kMaxLine - head.size() - 8;  // what one 353 line holds
  std::string names;
  for (auto& [who, op] : ch.members) {
    if (!member && who->invisible) continue;
    std::string entry = (op ? "@" : "") + who->nick;
    if (!names.empty() && names.size() + 1 + entry.size() > room) {
      reply(c, rpl::NAMREPLY, {"=", ch.name, names});
      names.clear();
    }
    if (!names.empty()) names += ' ';
    names += entry;
  }
  if (!names.empty()) reply(c, rpl::NAMREPLY, {"=", ch.name, names});
  reply(c, rpl::ENDOFNAMES, {ch.name, "End of /NAMES list"});
}

void State::cmd_join(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  if (m.params[0] == "0") {  // RFC 2812: JOIN 0 leaves every channel
    std::vector<std::string> names(c.channels.begin(), c.channels.end());
    for (const auto& name : names) {
      Channel& ch = channels_.at(name);
      part_channel(c, ch, format(c.prefix(), "PART", {ch.name, c.nick}));
    }
    return;
  }
  auto names = split_commas(m.params[0]);
  auto keys = split_commas(m.param(1));
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string key = i < keys.size() ? keys[i] : "";
    if (!valid_channel(name)) {
      reply(c, rpl::ERR_NOSUCHCHANNEL, {name, "No such channel"});
      continue;
    }
    std::string folded = casefold(name);
    if (c.channels.count(folded)) continue;
    if (c.channels.size() >= config_.max_channels) {
      reply(c, rpl::ERR_TOOMANYCHANNELS, {name, "You have joined too many channels"});
      continue;
    }
    auto it = channels_.find(folded);
    bool creating = it == channels_.end();
    if (!creating) {
      Channel& ch = it->second;
      bool invited = ch.invited.count(casefold(c.nick)) > 0;
      if (ch.invite_only && !invited) {
        reply(c, rpl::ERR_INVITEONLYCHAN, {ch.name, "Cannot join channel (+i)"});
        continue;
      }
      if (!ch.key.empty() && key != ch.key && !invited) {
        reply(c, rpl::ERR_BADCHANNELKEY, {ch.name, "Cannot join channel (+k)"});
        continue;
      }
      if (ch.limit > 0 && ch.members.size() >= ch.limit && !invited) {
        reply(c, rpl::ERR_CHANNELISFULL, {ch.name, "Cannot join channel (+l)"});
        continue;
      }
    } else {
      it = channels_.emplace(folded, Channel{}).first;
      it->second.name = name;
    }
    Channel& ch = it->second;
    ch.invited.erase(casefold(c.nick));
    ch.members[&c] = creating;  // the creator is the channel's operator
    c.channels.insert(folded);
    to_channel(ch, format(c.prefix(), "JOIN", {ch.name}), nullptr);
    if (!ch.topic.empty()) send_topic(c, ch);
    send_names(c, ch);
  }
}

void State::part_channel(Connection& c, Channel& ch, const std::string& line) {
  to_channel(ch, line, nullptr);
  ch.members.erase(&c);
  std::string folded = casefold(ch.name);
  c.channels.erase(folded);
  if (ch.members.empty()) channels_.erase(folded);
}

void State::cmd_part(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  for (const auto& name : split_commas(m.params[0])) {
    Channel* ch = find_channel(name);
    if (!ch) {
      reply(c, rpl::ERR_NOSUCHCHANNEL, {name, "No such channel"});
      continue;
    }
    if (!ch->members.count(&c)) {
      reply(c, rpl::ERR_NOTONCHANNEL, {ch->name, "You're not on that channel"});
      continue;
    }
    Params params = {ch->name};
    if (m.params.size() > 1) params.push_back(m.params[1]);
    part_channel(c, *ch, format(c.prefix(), "PART", params));
  }
}

void State::cmd_privmsg(Connection& c, const Message& m) {
  const bool notice = m.command == "NOTICE";  // RFC 1459 §4.4.2: never an automatic reply
  if (m.params.empty()) {
    if (!notice) reply(c, rpl::ERR_NORECIPIENT, {"No recipient given (" + m.command + ")"});
    return;
  }
  if (m.params.size() < 2 || m.params[1].empty()) {
    if (!notice) reply(c, rpl::ERR_NOTEXTTOSEND, {"No text to send"});
    return;
  }
  c.last_spoke = std::chrono::steady_clock::now();
  for (const auto& target : split_commas(m.params[0])) {
    if (is_channel_name(target)) {
      Channel* ch = find_channel(target);
      if (!ch) {
        if (!notice) reply(c, rpl::ERR_NOSUCHNICK, {target, "No such nick/channel"});
        continue;
      }
      auto self = ch->members.find(&c);
      bool member = self != ch->members.end();
      if ((ch->no_external && !member) || (ch->moderated && !(member && self->second))) {
        if (!notice) reply(c, rpl::ERR_CANNOTSENDTOCHAN, {ch->name, "Cannot send to channel"});
        continue;
      }
      to_channel(*ch, format(c.prefix(), m.command, {ch->name, m.params[1]}), &c);
    } else {
      Connection* to = find_nick(target);
      if (!to) {
        if (!notice) reply(c, rpl::ERR_NOSUCHNICK, {target, "No such nick/channel"});
        continue;
      }
      to->send(format(c.prefix(), m.command, {to->nick, m.params[1]}));
      if (!notice && !to->away.empty()) reply(c, rpl::AWAY, {to->nick, to->away});
    }
  }
}

void State::cmd_topic(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  Channel* ch = find_channel(m.params[0]);
  if (!ch) return reply(c, rpl::ERR_NOSUCHCHANNEL, {m.params[0], "No such channel"});
  auto self = ch->members.find(&c);
  if (self == ch->members.end())
    return reply(c, rpl::ERR_NOTONCHANNEL, {ch->name, "You're not on that channel"});
  if (m.params.size() < 2) return send_topic(c, *ch);
  if (ch->topic_ops && !self->second)
    return reply(c, rpl::ERR_CHANOPRIVSNEEDED, {ch->name, "You're not channel operator"});
  ch->topic = m.params[1].substr(0, 390);
  ch->topic_who = c.nick;
  ch->topic_time = std::time(nullptr);
  to_channel(*ch, format(c.prefix(), "TOPIC", {ch->name, ch->topic}), nullptr);
}

void State::cmd_names(Connection& c, const Message& m) {
  if (m.params.empty()) {
    for (auto& [folded, ch] : channels_) send_names(c, ch);
    return;
  }
  for (const auto& name : split_commas(m.params[0])) {
    if (Channel* ch = find_channel(name)) send_names(c, *ch);
    else reply(c, rpl::ENDOFNAMES, {name, "End of /NAMES list"});
  }
}

void State::cmd_list(Connection& c, const Message& m) {
  reply(c, rpl::LISTSTART, {"Channel", "Users  Name"});
  auto one = [&](const Channel& ch) {
    reply(c, rpl::LIST, {ch.name, std::to_string(ch.members.size()), ch.topic});
  };
  if (m.params.empty()) {
    for (auto& [folded, ch] : channels_) one(ch);
  } else {
    for (const auto& name : split_commas(m.params[0]))
      if (Channel* ch = find_channel(name)) one(*ch);
  }
  reply(c, rpl::LISTEND, {"End of /LIST"});
}

void State::cmd_who(Connection& c, const Message& m) {
  std::string mask = m.params.empty() ? "*" : m.params[0];
  auto row = [&](const std::string& channel, const Connection& who, bool op) {
    std::string flags = who.away.empty() ? "H" : "G";
    if (op) flags += '@';
    reply(c, rpl::WHOREPLY, {channel, who.user, who.host, config_.name, who.nick, flags,
                             "0 " + who.realname});
  };
  if (is_channel_name(mask)) {
    if (Channel* ch = find_channel(mask)) {
      bool member = ch->members.count(&c) > 0;
      for (auto& [who, op] : ch->members)
        if (member || !who->invisible) row(ch->name, *who, op);
    }
  } else {
    std::string pattern = casefold(mask == "0" ? "*" : mask);
    for (auto& [folded, who] : nicks_) {
      if (!who->registered || !visible_to(*who, c) || !glob(pattern, folded)) continue;
      row("*", *who, false);
    }
  }
  reply(c, rpl::ENDOFWHO, {mask, "End of /WHO list"});
}

void State::cmd_whois(Connection& c, const Message& m) {
  if (m.params.empty()) return reply(c, rpl::ERR_NONICKNAMEGIVEN, {"No nickname given"});
  const std::string& list = m.params.size() > 1 ? m.params[1] : m.params[0];
  for (const auto& nick : split_commas(list)) {
    Connection* who = find_nick(nick);
    if (!who) {
      reply(c, rpl::ERR_NOSUCHNICK, {nick, "No such nick/channel"});
      continue;
    }
    reply(c, rpl::WHOISUSER, {who->nick, who->user, who->host, "*", who->realname});
    std::string chans;
    for (const auto& folded : who->channels) {
      const Channel& ch = channels_.at(folded);
      if (!chans.empty()) chans += ' ';
      chans += (ch.members.at(who) ? "@" : "") + ch.name;
    }
    if (!chans.empty()) reply(c, rpl::WHOISCHANNELS, {who->nick, chans});
    reply(c, rpl::WHOISSERVER, {who->nick, config_.name, "gilfree IRC server"});
    if (!who->away.empty()) reply(c, rpl::AWAY, {who->nick, who->away});
    auto idle = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - who->last_spoke);
    auto signon = std::chrono::system_clock::to_time_t(who->signon);
    reply(c, rpl::WHOISIDLE, {who->nick, std::to_string(idle.count()), std::to_string(signon),
                              "seconds idle, signon time"});
  }
  reply(c, rpl::ENDOFWHOIS, {list, "End of /WHOIS list"});
}

void State::cmd_whowas(Connection& c, const Message& m) {
  if (m.params.empty() || m.params[0].empty())
    return reply(c, rpl::ERR_NONICKNAMEGIVEN, {"No nickname given"});
  long count = m.params.size() > 1 ? std::atol(m.params[1].c_str()) : 0;
  for (const auto& nick : split_commas(m.params[0])) {
    std::string folded = casefold(nick);
    long shown = 0;
    for (const Was& was : whowas_) {
      if (casefold(was.nick) != folded) continue;
      reply(c, rpl::WHOWASUSER, {was.nick, was.user, was.host, "*", was.realname});
      reply(c, rpl::WHOISSERVER, {was.nick, config_.name, "gilfree IRC server"});
      if (++shown == count && count > 0) break;
    }
    if (shown == 0) reply(c, rpl::ERR_WASNOSUCHNICK, {nick, "There was no such nickname"});
  }
  reply(c, rpl::ENDOFWHOWAS, {m.params[0], "End of WHOWAS"});
}

void State::cmd_mode(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  if (is_channel_name(m.params[0])) {
    Channel* ch = find_channel(m.params[0]);
    if (!ch) return reply(c, rpl::ERR_NOSUCHCHANNEL, {m.params[0], "No such channel"});
    return channel_mode(c, *ch, m);
  }
  user_mode(c, m);
}

void State::channel_mode(Connection& c, Channel& ch, const Message& m) {
  if (m.params.size() < 2) {
    reply(c, rpl::CHANNELMODEIS, {ch.name, ch.modes()}, false);
    reply(c, "329", {ch.name, std::to_string(ch.created)});
    return;
  }
  const std::string& modes = m.params[1];
  if (modes == "b" || modes == "+b") {  // the ban list (we keep none): clients ask on join
    reply(c, "368", {ch.name, "End of channel ban list"});
    return;
  }
  auto self = ch.members.find(&c);
  if (self == ch.members.end() || !self->second)
    return reply(c, rpl::ERR_CHANOPRIVSNEEDED, {ch.name, "You're not channel operator"});
  bool adding = true;
  std::size_t next = 2;
  std::string applied, applied_sign;
  Params applied_args;
  auto note = [&](char mode, const std::string* arg) {
    std::string sign = adding ? "+" : "-";
    if (sign != applied_sign) {
      applied += sign;
      applied_sign = sign;
    }
    applied += mode;
    if (arg) applied_args.push_back(*arg);
  };
  for (char mode : modes) {
    switch (mode) {
      case '+': adding = true; break;
      case '-': adding = false; break;
      case 'i': if (ch.invite_only != adding) { ch.invite_only = adding; note(mode, nullptr); } break;
      case 't': if (ch.topic_ops != adding) { ch.topic_ops = adding; note(mode, nullptr); } break;
      case 'n': if (ch.no_external != adding) { ch.no_external = adding; note(mode, nullptr); } break;
      case 'm': if (ch.moderated != adding) { ch.moderated = adding; note(mode, nullptr); } break;
      case 'k': {
        if (adding) {
          if (next >= m.params.size()) { need_more_params(c, "MODE"); break; }
          const std::string& key = m.params[next++];
          if (!ch.key.empty()) { reply(c, rpl::ERR_KEYSET, {ch.name, "Channel key already set"}); break; }
          if (key.empty() || key.find(' ') != std::string::npos) break;
          ch.key = key;
          note(mode, &key);
        } else {
          if (next < m.params.size()) ++next;  // "-k key": the key is optional to us
          if (ch.key.empty()) break;
          std::string old = ch.key;
          ch.key.clear();
          note(mode, &old);
        }
        break;
      }
      case 'l': {
        if (adding) {
          if (next >= m.params.size()) { need_more_params(c, "MODE"); break; }
          const std::string& arg = m.params[next++];
          long n = std::atol(arg.c_str());
          if (n <= 0) break;
          ch.limit = static_cast<std::size_t>(n);
          std::string shown = std::to_string(n);
          note(mode, &shown);
        } else if (ch.limit > 0) {
          ch.limit = 0;
          note(mode, nullptr);
        }
        break;
      }
      case 'o': {
        if (next >= m.params.size()) { need_more_params(c, "MODE"); break; }
        const std::string& nick = m.params[next++];
        Connection* who = find_nick(nick);
        if (!who) { reply(c, rpl::ERR_NOSUCHNICK, {nick, "No such nick/channel"}); break; }
        auto member = ch.members.find(who);
        if (member == ch.members.end()) {
          reply(c, rpl::ERR_USERNOTINCHANNEL, {who->nick, ch.name, "They aren't on that channel"});
          break;
        }
        if (member->second != adding) {
          member->second = adding;
          note(mode, &who->nick);
        }
        break;
      }
      default:
        reply(c, rpl::ERR_UNKNOWNMODE, {std::string(1, mode), "is unknown mode char to me"});
    }
  }
  if (applied.empty()) return;
  Params params = {ch.name, applied};
  params.insert(params.end(), applied_args.begin(), applied_args.end());
  to_channel(ch, format(c.prefix(), "MODE", params, false), nullptr);
}

void State::user_mode(Connection& c, const Message& m) {
  const std::string& nick = m.params[0];
  if (casefold(nick) != casefold(c.nick)) {
    if (!find_nick(nick)) return reply(c, rpl::ERR_NOSUCHNICK, {nick, "No such nick/channel"});
    return reply(c, rpl::ERR_USERSDONTMATCH, {"Cannot change mode for other users"});
  }
  if (m.params.size() < 2) return reply(c, rpl::UMODEIS, {c.invisible ? "+i" : "+"}, false);
  bool adding = true;
  std::string applied;
  bool unknown = false;
  for (char mode : m.params[1]) {
    if (mode == '+') adding = true;
    else if (mode == '-') adding = false;
    else if (mode == 'i') {
      if (c.invisible != adding) {
        c.invisible = adding;
        applied += adding ? "+i" : "-i";
      }
    } else if (mode == 'w' || mode == 's' || mode == 'o' || mode == 'O' || mode == 'r') {
      // Known to RFC 1459, but nothing to do here (no wallops, notices or operators).
    } else {
      unknown = true;
    }
  }
  if (unknown) reply(c, rpl::ERR_UMODEUNKNOWNFLAG, {"Unknown MODE flag"});
  if (!applied.empty()) c.send(format(c.nick, "MODE", {c.nick, applied}, false));
}

void State::cmd_kick(Connection& c, const Message& m) {
  if (m.params.size() < 2) return need_more_params(c, m.command);
  Channel* ch = find_channel(m.params[0]);
  if (!ch) return reply(c, rpl::ERR_NOSUCHCHANNEL, {m.params[0], "No such channel"});
  auto self = ch->members.find(&c);
  if (self == ch->members.end())
    return reply(c, rpl::ERR_NOTONCHANNEL, {ch->name, "You're not on that channel"});
  if (!self->second)
    return reply(c, rpl::ERR_CHANOPRIVSNEEDED, {ch->name, "You're not channel operator"});
  std::string comment = m.params.size() > 2 ? m.params[2] : c.nick;
  std::string channel_name = ch->name;
  for (const auto& nick : split_commas(m.params[1])) {
    Connection* who = find_nick(nick);
    if (!who || !ch->members.count(who)) {
      reply(c, rpl::ERR_USERNOTINCHANNEL, {nick, channel_name, "They aren't on that channel"});
      continue;
    }
    part_channel(*who, *ch, format(c.prefix(), "KICK", {channel_name, who->nick, comment}));
    ch = find_channel(channel_name);  // gone when the last member was kicked
    if (!ch) break;
  }
}

void State::cmd_invite(Connection& c, const Message& m) {
  if (m.params.size() < 2) return need_more_params(c, m.command);
  Connection* who = find_nick(m.params[0]);
  if (!who) return reply(c, rpl::ERR_NOSUCHNICK, {m.params[0], "No such nick/channel"});
  const std::string& name = m.params[1];
  if (Channel* ch = find_channel(name)) {
    auto self = ch->members.find(&c);
    if (self == ch->members.end())
      return reply(c, rpl::ERR_NOTONCHANNEL, {ch->name, "You're not on that channel"});
    if (ch->members.count(who))
      return reply(c, rpl::ERR_USERONCHANNEL, {who->nick, ch->name, "is already on channel"});
    if (ch->invite_only && !self->second)
      return reply(c, rpl::ERR_CHANOPRIVSNEEDED, {ch->name, "You're not channel operator"});
    ch->invited.insert(casefold(who->nick));
  }
  reply(c, rpl::INVITING, {who->nick, name});
  who->send(format(c.prefix(), "INVITE", {who->nick, name}));
  if (!who->away.empty()) reply(c, rpl::AWAY, {who->nick, who->away});
}

// ---- users and the server -------------------------------------------------------------

void State::cmd_away(Connection& c, const Message& m) {
  if (m.params.empty() || m.params[0].empty()) {
    c.away.clear();
    return reply(c, rpl::UNAWAY, {"You are no longer marked as being away"});
  }
  c.away = m.params[0];
  reply(c, rpl::NOWAWAY, {"You have been marked as being away"});
}

void State::cmd_motd(Connection& c, const Message&) {
  if (config_.motd.empty()) return reply(c, rpl::ERR_NOMOTD, {"MOTD File is missing"});
  reply(c, rpl::MOTDSTART, {"- " + config_.name + " Message of the day - "});
  for (const auto& line : config_.motd) reply(c, rpl::MOTD, {"- " + line});
  reply(c, rpl::ENDOFMOTD, {"End of /MOTD command"});
}

void State::cmd_lusers(Connection& c, const Message&) {
  std::size_t users = 0, invisible = 0, unknown = 0;
  for (auto& [conn, owner] : connections_) {
    if (!conn->registered) ++unknown;
    else if (conn->invisible) ++invisible;
    else ++users;
  }
  reply(c, rpl::LUSERCLIENT, {"There are " + std::to_string(users) + " users and " +
                                  std::to_string(invisible) + " invisible on 1 servers"});
  reply(c, rpl::LUSEROP, {"0", "operator(s) online"});
  reply(c, rpl::LUSERUNKNOWN, {std::to_string(unknown), "unknown connection(s)"});
  reply(c, rpl::LUSERCHANNELS, {std::to_string(channels_.size()), "channels formed"});
  reply(c, rpl::LUSERME,
        {"I have " + std::to_string(users + invisible) + " clients and 0 servers"});
}

void State::cmd_ison(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  std::string online;
  for (const auto& param : m.params) {
    std::size_t pos = 0;
    while (pos < param.size()) {  // the trailing parameter may hold several nicks
      auto end = std::min(param.find(' ', pos), param.size());
      if (end > pos)
        if (Connection* who = find_nick(param.substr(pos, end - pos))) {
          if (!online.empty()) online += ' ';
          online += who->nick;
        }
      pos = end + 1;
    }
  }
  reply(c, rpl::ISON, {online});
}

void State::cmd_userhost(Connection& c, const Message& m) {
  if (m.params.empty()) return need_more_params(c, m.command);
  std::string out;
  for (std::size_t i = 0; i < m.params.size() && i < 5; ++i) {
    Connection* who = find_nick(m.params[i]);
    if (!who) continue;
    if (!out.empty()) out += ' ';
    out += who->nick + "=" + (who->away.empty() ? "+" : "-") + who->user + "@" + who->host;
  }
  reply(c, rpl::USERHOST, {out});
}

}  // namespace irc
