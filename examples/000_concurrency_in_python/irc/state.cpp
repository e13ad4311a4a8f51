// The State's bookkeeping: connections, lookups, delivery, registration. The commands
// themselves are in commands.cpp.
#include "state.hpp"

#include <mutex>
#include <unordered_set>

#include "casemap.hpp"
#include "numerics.hpp"

namespace irc {

namespace {
std::string now_string() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a %b %d %Y at %H:%M:%S UTC", &tm);
  return buf;
}
}  // namespace

std::string Channel::modes() const {
  std::string flags = "+", args;
  if (invite_only) flags += 'i';
  if (moderated) flags += 'm';
  if (no_external) flags += 'n';
  if (topic_ops) flags += 't';
  if (!key.empty()) {
    flags += 'k';
    args += " " + key;
  }
  if (limit > 0) {
    flags += 'l';
    args += " " + std::to_string(limit);
  }
  return flags + args;
}

State::State(Config config) : config_(std::move(config)), created_(now_string()) {}

void State::add(std::shared_ptr<Connection> conn) {
  std::scoped_lock g(lock_);
  Connection* key = conn.get();
  connections_.emplace(key, std::move(conn));
}

void State::for_each(const std::function<void(Connection&)>& fn) {
  std::scoped_lock g(lock_);
  for (auto& [c, owner] : connections_) fn(*c);
}

StateCounts State::counts() {
  std::scoped_lock g(lock_);
  StateCounts n;
  for (auto& [c, owner] : connections_) {
    if (c->registered) {
      ++n.registered;
      if (c->invisible) ++n.invisible;
    } else {
      ++n.unregistered;
    }
  }
  n.channels = channels_.size();
  return n;
}

void State::reply(Connection& c, const char* code, Params params, bool text_last) {
  params.insert(params.begin(), c.target());
  c.send(format(config_.name, code, params, text_last));
}

void State::need_more_params(Connection& c, const std::string& command) {
  reply(c, rpl::ERR_NEEDMOREPARAMS, {command, "Not enough parameters"});
}

void State::to_channel(const Channel& ch, const std::string& line, const Connection* except) {
  for (auto& [member, op] : ch.members)
    if (member != except) member->send(line);
}

void State::to_peers(Connection& c, const std::string& line, bool include_self) {
  std::unordered_set<Connection*> seen = {&c};
  if (include_self) c.send(line);
  for (const auto& name : c.channels) {
    auto it = channels_.find(name);
    if (it == channels_.end()) continue;
    for (auto& [member, op] : it->second.members)
      if (seen.insert(member).second) member->send(line);
  }
}

Channel* State::find_channel(const std::string& name) {
  auto it = channels_.find(casefold(name));
  return it == channels_.end() ? nullptr : &it->second;
}

Connection* State::find_nick(const std::string& nick) {
  auto it = nicks_.find(casefold(nick));
  return it == nicks_.end() || !it->second->registered ? nullptr : it->second;
}

bool State::shares_channel(const Connection& a, const Connection& b) const {
  for (const auto& name : a.channels)
    if (b.channels.count(name)) return true;
  return false;
}

bool State::visible_to(const Connection& who, const Connection& viewer) const {
  return !who.invisible || &who == &viewer || shares_channel(who, viewer);
}

bool State::remove(Connection& c, const std::string& reason) {
  std::scoped_lock g(lock_);
  auto it = connections_.find(&c);
  if (it == connections_.end()) return false;
  if (c.registered) {
    to_peers(c, format(c.prefix(), "QUIT", {reason}), false);
    remember(c);
  }
  for (const auto& name : c.channels) {
    auto ch = channels_.find(name);
    if (ch == channels_.end()) continue;
    ch->second.members.erase(&c);
    if (ch->second.members.empty()) channels_.erase(ch);
  }
  c.channels.clear();
  if (!c.nick.empty()) {
    auto n = nicks_.find(casefold(c.nick));
    if (n != nicks_.end() && n->second == &c) nicks_.erase(n);
  }
  connections_.erase(it);  // the caller still holds its own reference
  return true;
}

void State::remember(const Connection& c) {
  whowas_.push_front({c.nick, c.user, c.host, c.realname});
  if (whowas_.size() > kWhowas) whowas_.pop_back();
}

void State::handle(Connection& c, const Message& msg) {
  std::scoped_lock g(lock_);
  if (c.killed()) return;
  auto& table = handlers();
  auto it = table.find(msg.command);
  if (!c.registered) {
    static const std::set<std::string> before_registration = {"PASS", "NICK", "USER", "CAP",
                                                              "QUIT", "PING", "PONG"};
    if (!before_registration.count(msg.command)) {
      // RFC 1459 §4.1: anything else before registration is ERR_NOTREGISTERED.
      reply(c, rpl::ERR_NOTREGISTERED, {"You have not registered"});
      return;
    }
  }
  if (it == table.end()) {
    reply(c, rpl::ERR_UNKNOWNCOMMAND, {msg.command, "Unknown command"});
    return;
  }
  (this->*(it->second))(c, msg);
}

void State::try_register(Connection& c) {
  if (c.registered || c.nick.empty() || c.user.empty() || c.cap_negotiating) return;
  if (!config_.password.empty() && c.password != config_.password) {
    reply(c, rpl::ERR_PASSWDMISMATCH, {"Password incorrect"});
    c.kill("Bad password", -1);
    return;
  }
  c.registered = true;
  c.signon = std::chrono::system_clock::now();
  welcome(c);
}

void State::welcome(Connection& c) {
  const std::string& server = config_.name;
  reply(c, rpl::WELCOME, {"Welcome to the Internet Relay Network " + c.prefix()});
  reply(c, rpl::YOURHOST, {"Your host is " + server + ", running version gilfree-irc-1.0"});
  reply(c, rpl::CREATED, {"This server was created " + created_});
  reply(c, rpl::MYINFO, {server, "gilfree-irc-1.0", "i", "iklmnot"});
  reply(c, rpl::ISUPPORT,
        {"CASEMAPPING=rfc1459", "CHANTYPES=#&", "CHANMODES=,k,l,imnt", "PREFIX=(o)@",
         "NICKLEN=" + std::to_string(kNickLen), "CHANNELLEN=" + std::to_string(kChannelLen),
         "CHANLIMIT=#&:" + std::to_string(config_.max_channels), "NETWORK=gilfree",
         "are supported by this server"});
  cmd_lusers(c, Message{});
  cmd_motd(c, Message{});
}

}  // namespace irc
