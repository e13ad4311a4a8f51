// gilfree/futures/state.hpp — the public names of a future's life: its states, and the
// hook where the futures machinery reports errors it cannot raise.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string_view>

namespace gilfree {

// The states of a future, with CPython's names (concurrent/futures/_base.py). Enumerators
// that mirror Python's module constants keep Python's spelling; the library's own
// enumerators are snake_case.
enum class FutureState : std::uint32_t {
  PENDING,
  RUNNING,
  CANCELLED,
  CANCELLED_AND_NOTIFIED,
  FINISHED,
};

// "PENDING", "RUNNING", ... as CPython spells the state constants.
std::string_view to_string(FutureState state) noexcept;

// What the futures machinery reports instead of throwing, as CPython logs through the
// "concurrent.futures" logger: a message and the exception that caused it.
using LogHook = std::function<void(std::string_view message, std::exception_ptr error)>;

// Replaces the hook and returns the previous one; an empty hook restores the default,
// which prints the message and "ExceptionName: what()" to stderr.
LogHook set_log_hook(LogHook hook);

}  // namespace gilfree
