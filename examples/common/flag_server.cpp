#include "flag_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <cctype>
#include <functional>
#include <random>
#include <thread>

#include <gilfree/futures.hpp>
#include <gilfree/threading.hpp>

namespace seedkit {
namespace {

// httplib's handler pool: a gilfree ThreadPoolExecutor runs each connection's task.
class ExecutorTaskQueue : public httplib::TaskQueue {
 public:
  explicit ExecutorTaskQueue(int n) : executor_({.max_workers = n, .thread_name_prefix = "flagsrv"}) {}
  // httplib's tasks report their own errors; the Future is not needed.
  void enqueue(std::function<void()> fn) override { executor_.submit(std::move(fn)); }
  void shutdown() override { executor_.shutdown(true); }

 private:
  gilfree::ThreadPoolExecutor executor_;
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct FlagServer::Impl {
  httplib::Server server;
  std::unique_ptr<gilfree::Thread> listener;
  gilfree::Lock rng_lock;  // guards rng: handlers draw from it concurrently
  std::mt19937 rng{12345};
};

FlagServer::FlagServer(FlagServerOptions options) : impl_(std::make_unique<Impl>()) {
  int threads = options.handler_threads;
  impl_->server.new_task_queue = [threads] { return new ExecutorTaskQueue(threads); };
  impl_->server.Get(
      R"(/data/flags/([a-z]{2})/([a-z]{2})\.gif)",
      [this, options](const httplib::Request& req, httplib::Response& res) {
        std::size_t now_in = ++in_flight_;
        for (std::size_t seen = max_in_flight_.load();
             now_in > seen && !max_in_flight_.compare_exchange_weak(seen, now_in);) {
        }
        if (options.delay.count() > 0) std::this_thread::sleep_for(options.delay);
        std::string cc = upper(req.matches[1]);
        bool fail = options.fail.count(cc) > 0;
        if (!fail && options.error_rate > 0) {
          std::scoped_lock g(impl_->rng_lock);
          fail = std::uniform_real_distribution<double>(0, 1)(impl_->rng) < options.error_rate;
        }
        if (fail) {
          res.status = 500;
          res.set_content("Internal Server Error", "text/plain");
        } else if (req.matches[1] != req.matches[2] || !known_codes().count(cc)) {
          res.status = 404;
          res.set_content("Not Found", "text/plain");
        } else {
          res.set_content(flag_bytes(cc), "image/gif");
        }
        --in_flight_;
        ++requests_;
      });
  // Debian's httplib listens with a backlog of 5: a burst of 20 connections then loses SYNs,
  // and each lost one costs the client a 1 s retransmit. Remember the listening socket and
  // listen again on it with a real backlog (Linux updates the backlog of a listening socket).
  int listening = -1;
  impl_->server.set_socket_options([&listening](socket_t sock) {
    httplib::default_socket_options(sock);
    listening = sock;
  });
  port_ = impl_->server.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("flag server: cannot bind 127.0.0.1");
  if (listening >= 0) ::listen(listening, 1024);
  impl_->listener = std::make_unique<gilfree::Thread>(
      gilfree::Thread::Options{.name = "flagsrv-listen"},
      [this] { impl_->server.listen_after_bind(); });
  impl_->listener->start();  // the socket already listens: early connections wait in its backlog
}

FlagServer::~FlagServer() {
  impl_->server.stop();
  impl_->listener->join();
}

std::string FlagServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/data/flags";
}

const std::set<std::string>& FlagServer::known_codes() {
  static const std::set<std::string> codes = [] {
    std::set<std::string> s;
    for (const auto& cc : POP20_CC) s.insert(cc);
    // Those of AA..CZ that are countries, so that flags2's "a b c" finds some and misses some.
    for (const char* cc :
         {"AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD",
          "BE", "BF", "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ",
          "CA", "CD", "CF", "CG", "CH", "CI", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CY",
          "CZ"})
      s.insert(cc);
    return s;
  }();
  return codes;
}

std::string FlagServer::flag_bytes(std::string_view cc) {
  // "GIF89a", then a few hundred bytes that depend only on the code.
  std::string out = "GIF89a";
  unsigned h = 2166136261u;
  for (char c : cc) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  std::size_t size = 600 + h % 900;
  for (std::size_t i = 0; out.size() < size; ++i) {
    h = h * 1103515245u + 12345u;
    out += static_cast<char>(h >> 24);
  }
  return out;
}

}  // namespace seedkit
