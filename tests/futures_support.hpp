// tests/futures_support.hpp — helpers shared by the futures tests.
#pragma once

#include <pthread.h>

#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gilfree/futures.hpp"

namespace gilfree_test {

// Captures what the log hook receives while alive.
struct LogCapture {
  std::vector<std::string> messages;
  std::mutex mu;
  gilfree::LogHook previous;
  LogCapture() {
    previous = gilfree::set_log_hook([this](std::string_view m, std::exception_ptr e) {
      std::lock_guard g(mu);
      std::string s(m);
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          s += " | ";
          s += ex.what();
        }
      }
      messages.push_back(s);
    });
  }
  ~LogCapture() { gilfree::set_log_hook(previous); }
  std::size_t size() {
    std::lock_guard g(mu);
    return messages.size();
  }
};

// The calling thread's OS-level name.
inline std::string thread_os_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace gilfree_test
