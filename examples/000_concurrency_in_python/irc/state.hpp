// irc/state.hpp — everything the server shares between connections, and the commands.
//
// Design: one gilfree::Lock guards the whole state (nick table, channels, every
// connection's identity fields). Each command runs start to end under it, so a command is
// atomic — NICK renames in the nick table and in every channel at once, KICK and JOIN
// cannot interleave, and every member of a channel sees that channel's messages in one
// order. The lock is never held across I/O: delivering a message is Connection::send,
// a non-blocking put on a bounded queue, so critical sections are short (microseconds)
// and a stalled client cannot hold the lock. Finer locks (per channel) would need a lock
// order for every multi-channel command for little gain at IRC's message rates.
#pragma once

#include <cstddef>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <gilfree/threading.hpp>

#include "connection.hpp"
#include "message.hpp"

namespace irc {

// What the operator configures.
struct Config {
  // The server's name: the prefix of its own messages.
  std::string name = "irc.gilfree.test";
  // Message of the day, one entry per line; empty means none (ERR_NOMOTD).
  std::vector<std::string> motd = {};
  // When not empty, clients must send PASS with it before registering.
  std::string password = {};
  // How many channels one client may be on (ERR_TOOMANYCHANNELS beyond).
  std::size_t max_channels = 50;
};

// One channel and its modes.
struct Channel {
  std::string name;  // as spelt by whoever created it
  std::string topic, topic_who;
  std::time_t topic_time = 0;
  std::time_t created = std::time(nullptr);
  bool invite_only = false;   // +i
  bool topic_ops = true;      // +t: only operators set the topic
  bool no_external = true;    // +n: no messages from outside
  bool moderated = false;     // +m: only operators (and +v) speak
  std::string key;            // +k, empty when unset
  std::size_t limit = 0;      // +l, 0 when unset
  std::map<Connection*, bool> members;  // member -> is channel operator
  std::set<std::string> invited;        // casefolded nicks invited while +i
  // The mode string with its parameters, e.g. "+ntkl secret 10".
  std::string modes() const;
};

// Counts for LUSERS and the benchmarks.
struct StateCounts {
  std::size_t registered = 0, unregistered = 0, invisible = 0, channels = 0;
};

class State {
 public:
  explicit State(Config config);

  // Registers a new connection (before its threads start).
  void add(std::shared_ptr<Connection> conn);
  // Runs one command from `conn`. QUIT (and a failed PASS) kill the connection.
  void handle(Connection& conn, const Message& msg);
  // Removes `conn`: QUIT to everyone sharing a channel with it, out of the nick table and
  // channels. Returns false when it was already gone.
  bool remove(Connection& conn, const std::string& reason);
  // Calls fn on every connection, under the lock (fn must not call back into State).
  void for_each(const std::function<void(Connection&)>& fn);
  // A snapshot of the counts.
  StateCounts counts();
  const Config& config() const { return config_; }

 private:
  using Params = std::vector<std::string>;
  using Handler = void (State::*)(Connection&, const Message&);
  static const std::unordered_map<std::string, Handler>& handlers();

  // Sends a numeric to `c`: ":server CODE <nick or *> params...".
  void reply(Connection& c, const char* code, Params params, bool text_last = true);
  void need_more_params(Connection& c, const std::string& command);
  // Sends `line` to every member of `ch` but `except`.
  void to_channel(const Channel& ch, const std::string& line, const Connection* except);
  // Sends `line` once to everyone sharing a channel with `c` (and to `c` if include_self).
  void to_peers(Connection& c, const std::string& line, bool include_self);
  Channel* find_channel(const std::string& name);
  Connection* find_nick(const std::string& nick);
  void try_register(Connection& c);
  void welcome(Connection& c);
  void part_channel(Connection& c, Channel& ch, const std::string& line);
  void send_names(Connection& c, const Channel& ch);
  void send_topic(Connection& c, const Channel& ch);
  bool visible_to(const Connection& who, const Connection& viewer) const;
  bool shares_channel(const Connection& a, const Connection& b) const;
  void channel_mode(Connection& c, Channel& ch, const Message& msg);
  void user_mode(Connection& c, const Message& msg);

  void cmd_pass(Connection&, const Message&);
  void cmd_nick(Connection&, const Message&);
  void cmd_user(Connection&, const Message&);
  void cmd_cap(Connection&, const Message&);
  void cmd_quit(Connection&, const Message&);
  void cmd_ping(Connection&, const Message&);
  void cmd_pong(Connection&, const Message&);
  void cmd_join(Connection&, const Message&);
  void cmd_part(Connection&, const Message&);
  void cmd_privmsg(Connection&, const Message&);
  void cmd_topic(Connection&, const Message&);
  void cmd_names(Connection&, const Message&);
  void cmd_list(Connection&, const Message&);
  void cmd_who(Connection&, const Message&);
  void cmd_whois(Connection&, const Message&);
  void cmd_mode(Connection&, const Message&);
  void cmd_kick(Connection&, const Message&);
  void cmd_invite(Connection&, const Message&);
  void cmd_away(Connection&, const Message&);
  void cmd_motd(Connection&, const Message&);
  void cmd_lusers(Connection&, const Message&);
  void cmd_ison(Connection&, const Message&);
  void cmd_userhost(Connection&, const Message&);
  void cmd_whowas(Connection&, const Message&);
  // Remembers who `c` was (for WHOWAS) before it quits or changes nick.
  void remember(const Connection& c);

  const Config config_;
  const std::string created_;  // when the server started, for 003
  gilfree::Lock lock_;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  std::unordered_map<std::string, Connection*> nicks_;  // casefolded nick -> its holder
  std::map<std::string, Channel> channels_;             // casefolded name -> channel
  struct Was {
    std::string nick, user, host, realname;
  };
  std::deque<Was> whowas_;  // newest first, at most kWhowas entries
  static constexpr std::size_t kWhowas = 256;
};

}  // namespace irc
