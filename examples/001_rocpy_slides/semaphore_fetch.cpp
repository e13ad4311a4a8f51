// Seed 001, "Resource Control Example": sema = Semaphore(5) around fetch_page(url), so at
// most 5 threads fetch at once however many are started. Twenty threads fetch flags from
// the local flag server (which sleeps 100 ms per request); both this program and the server
// count how many requests were in flight together: never more than 5, and 5 was reached.
// expect: 20 pages fetched, at most [2-5] at once \(server saw at most [1-5]\)
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <string>

#include <gilfree/threading.hpp>

#include "flag_server.hpp"
#include "seedkit.hpp"

gilfree::Semaphore sema(5);
std::atomic<int> inside{0}, most_inside{0};

std::string fetch_page(int port, const std::string& url) {
  sema.acquire();
  try {
    int now = ++inside;
    for (int seen = most_inside; now > seen && !most_inside.compare_exchange_weak(seen, now);) {
    }
    httplib::Client u("127.0.0.1", port);  // u = urllib.urlopen(url)
    auto res = u.Get(url);
    --inside;
    sema.release();
    return res && res->status == 200 ? res->body : std::string();
  } catch (...) {
    --inside;
    sema.release();  // finally: sema.release()
    throw;
  }
}

int main() {
  seedkit::FlagServer server({.delay = std::chrono::milliseconds(100)});
  std::atomic<int> fetched{0};
  std::deque<gilfree::Thread> threads;
  for (const auto& cc : seedkit::POP20_CC) {
    std::string lower = cc;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    threads.emplace_back([&, url = "/data/flags/" + lower + "/" + lower + ".gif", cc] {
      if (fetch_page(server.port(), url) == seedkit::FlagServer::flag_bytes(cc)) ++fetched;
    });
    threads.back().start();
  }
  for (auto& t : threads) t.join();
  seedkit::check(fetched == 20, "every page fetched");
  seedkit::check(most_inside <= 5 && server.max_in_flight() <= 5, "never more than 5 at once");
  // 20 threads holding it 100 ms each overlap (normally 5 at once; a busy machine may start
  // them too slowly for that, so only overlap itself is required).
  seedkit::check(most_inside >= 2, "fetches overlapped");
  std::cout << fetched << " pages fetched, at most " << most_inside << " at once (server saw at most "
            << server.max_in_flight() << ")\n";
}
