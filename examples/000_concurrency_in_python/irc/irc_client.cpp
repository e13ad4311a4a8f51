// Seed 000, project idea 2: the IRC client — one gilfree thread reads the socket, one the
// terminal (see client.hpp).
//
//   irc_client [--host 127.0.0.1] [--port 6667] [--nick guest] [--user NAME]
//              [--realname TEXT] [--password PW]
//
// Type /join #chan, then plain lines to talk there; /part, /msg, /nick, /topic, /names,
// /quote, /quit. Exit status 0 after /quit or end of input, 1 if the server hung up.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "client.hpp"

namespace {
const char* kUsage =
    "usage: irc_client [--host H] [--port N] [--nick NICK] [--user NAME] [--realname TEXT]\n"
    "                  [--password PW]\n"
    "then: /join #chan [key], plain lines, /part [#chan] [msg], /msg who text, /nick new,\n"
    "      /topic [#chan] [text], /names [#chan], /quote RAW, /quit [msg]\n";
}

int main(int argc, char** argv) {
  irc::ClientOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "irc_client: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--host") {
      options.host = value();
    } else if (arg == "--port") {
      options.port = std::atoi(value().c_str());
    } else if (arg == "--nick") {
      options.nick = value();
    } else if (arg == "--user") {
      options.user = value();
    } else if (arg == "--realname") {
      options.realname = value();
    } else if (arg == "--password") {
      options.password = value();
    } else {
      std::cerr << "irc_client: unknown option " << arg << "\n" << kUsage;
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  return irc::run_client(options, STDIN_FILENO, std::cout);
}
