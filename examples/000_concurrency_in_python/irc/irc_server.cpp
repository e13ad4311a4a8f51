// Seed 000, project idea 2: "Referencing just RFC 1459, implement an IRC server and IRC
// client using threading.Thread." The server; see server.hpp for its design.
//
//   irc_server [--host 127.0.0.1] [--port 6667] [--name irc.gilfree.test] [--motd FILE]
//              [--password PW] [--ping-interval S] [--ping-timeout S] [--sendq LINES]
//              [--max-clients N] [--quiet] [--trace]
//
// Prints "listening on HOST:PORT" to stderr once it accepts (with --port 0 the OS picks the
// port). SIGINT or SIGTERM: every client gets an ERROR line, every thread is joined, and
// the process exits 0.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "server.hpp"

namespace {

const char* kUsage =
    "usage: irc_server [options]\n"
    "  --host ADDR          address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --port N             TCP port (default 6667; 0 = any free port)\n"
    "  --name NAME          server name (default irc.gilfree.test)\n"
    "  --motd FILE          message of the day, read once at start\n"
    "  --password PW        require PASS PW before registration\n"
    "  --ping-interval S    PING a client silent for S seconds (default 120)\n"
    "  --ping-timeout S     drop it S seconds later without an answer (default 60)\n"
    "  --sendq LINES        lines queued for a client before it is dropped (default 2048)\n"
    "  --max-clients N      refuse connections beyond N (default 4096)\n"
    "  --quiet              do not log each connection\n"
    "  --trace              log every line received\n"
    "  --help               this text\n";

[[noreturn]] void usage_error(const std::string& what) {
  std::cerr << "irc_server: " << what << "\n" << kUsage;
  std::exit(2);
}

std::chrono::milliseconds seconds_arg(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end || v <= 0) usage_error("not a positive number of seconds: " + s);
  return std::chrono::milliseconds(static_cast<long long>(v * 1000));
}

long count_arg(const std::string& s, long lo, long hi) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end || v < lo || v > hi) usage_error("out of range: " + s);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  irc::ServerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--host") {
      options.host = value();
    } else if (arg == "--port") {
      options.port = static_cast<int>(count_arg(value(), 0, 65535));
    } else if (arg == "--name") {
      options.config.name = value();
      if (options.config.name.empty() || options.config.name.find(' ') != std::string::npos)
        usage_error("a server name has no spaces");
    } else if (arg == "--motd") {
      std::string path = value();
      std::ifstream in(path);
      if (!in) usage_error("cannot read " + path);
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        options.config.motd.push_back(line.substr(0, 400));
      }
      if (options.config.motd.empty()) options.config.motd.push_back("");
    } else if (arg == "--password") {
      options.config.password = value();
    } else if (arg == "--ping-interval") {
      options.ping_interval = seconds_arg(value());
    } else if (arg == "--ping-timeout") {
      options.ping_timeout = seconds_arg(value());
    } else if (arg == "--sendq") {
      options.sendq_lines = static_cast<std::size_t>(count_arg(value(), 1, 1 << 20));
    } else if (arg == "--max-clients") {
      options.max_clients = static_cast<std::size_t>(count_arg(value(), 1, 1 << 20));
    } else if (arg == "--trace") {
      options.trace = true;
    } else if (arg == "--quiet") {
      options.verbose = false;
    } else {
      usage_error("unknown option " + arg);
    }
  }

  // Block the stop signals in every thread (threads inherit the mask); main waits for
  // them with sigwait, so no handler runs in a random thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  try {
    irc::Server server(options);
    server.start();
    std::cerr << "irc_server: " << options.config.name << " listening on " << options.host << ":"
              << server.port() << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "irc_server: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down"
              << std::endl;
    server.stop();
    std::cerr << "irc_server: stopped after " << server.accepted() << " connections" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "irc_server: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
