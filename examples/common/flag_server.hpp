// The stand-in for flupy.org in the flag-download seed (004): a local HTTP server on
// 127.0.0.1 at a port the OS picks, serving GET /data/flags/<cc>/<cc>.gif.
//
// Each request sleeps `delay` first (the network's latency, which is what concurrency hides);
// known country codes get a generated GIF, unknown ones a 404, and the codes in `fail`
// (or a random `error_rate` share of requests) a 500, for flags2's error handling.
// Request handlers run on gilfree threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace seedkit {

struct FlagServerOptions {
  // Sleep before answering each request.
  std::chrono::milliseconds delay{0};
  // Upper-case codes always answered with 500 Internal Server Error.
  std::set<std::string> fail;
  // Share of other requests answered with 500, drawn at random.
  double error_rate = 0.0;
  // Requests served at once (the server's handler threads).
  int handler_threads = 32;
};

class FlagServer {
 public:
  // Binds 127.0.0.1:0 and serves on background threads until destroyed.
  explicit FlagServer(FlagServerOptions options = {});
  ~FlagServer();
  FlagServer(const FlagServer&) = delete;
  FlagServer& operator=(const FlagServer&) = delete;

  // The port the OS chose.
  int port() const noexcept { return port_; }
  // "http://127.0.0.1:PORT/data/flags", the seed's BASE_URL.
  std::string base_url() const;
  // Requests answered so far, and the most that were being handled at the same moment.
  std::size_t requests() const noexcept { return requests_.load(); }
  std::size_t max_in_flight() const noexcept { return max_in_flight_.load(); }

  // The upper-case codes the server knows (real ISO 3166 codes; not every two letters).
  static const std::set<std::string>& known_codes();
  // The bytes served for a known code: a small fake GIF, the same every time.
  static std::string flag_bytes(std::string_view cc);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<std::size_t> requests_{0}, in_flight_{0}, max_in_flight_{0};
};

// The seed's POP20_CC: the twenty most populous countries.
inline const std::vector<std::string> POP20_CC = {
    "CN", "IN", "US", "ID", "BR", "PK", "NG", "BD", "RU", "JP",
    "MX", "PH", "VN", "ET", "EG", "DE", "IR", "TR", "CD", "FR"};

}  // namespace seedkit
