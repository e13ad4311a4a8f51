// irc/client.hpp — a terminal IRC client on gilfree threads.
//
// Two threads, as the seed's project asks: "irc-net" reads the socket (answers PING at
// once, prints what arrives) and "irc-tty" reads the terminal (commands and plain lines).
// Both may write to the socket and to the screen, each under its own gilfree::Lock, so
// lines never interleave. Either side ending ends the other: the net thread wakes the
// terminal thread through a pipe; the terminal thread's /quit (or end of input) sends QUIT
// and waits, bounded, for the server to close.
#pragma once

#include <ostream>
#include <string>

namespace irc {

// The client's keyword arguments.
struct ClientOptions {
  // The server: a host name or address, and its port.
  std::string host = "127.0.0.1";
  int port = 6667;
  // The nick to register; "_" is appended while the server says it is taken (433).
  std::string nick = "guest";
  // USER's user name and real name.
  std::string user = "gilfree";
  std::string realname = "gilfree irc client";
  // Sent as PASS before NICK when not empty.
  std::string password = {};
};

// Connects, registers, and runs until the connection ends or the user quits; reads
// commands from `in_fd` and prints to `out`. Returns 0 after /quit or end of input, 1
// when the server closed the connection first or it could not connect.
//
// Commands: /join #chan [key] (and makes it the current channel), /part [#chan] [msg],
// /msg target text, /nick new, /topic [#chan] [text], /names [#chan], /quit [msg],
// /quote raw line. Any other line goes to the current channel.
int run_client(const ClientOptions& options, int in_fd, std::ostream& out);

}  // namespace irc
