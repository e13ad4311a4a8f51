// src/describe.hpp (private to the library) — the one demangler and the one way to print
// an exception, shared by excepthook, the futures' log hook and Future's repr.
#pragma once

#include <exception>
#include <string>
#include <typeinfo>

namespace gilfree::detail {

// The demangled name of `type` (its mangled name if demangling fails).
std::string type_name(const std::type_info& type);

// The class name of the exception in `error` as Python shows `exc.__class__.__name__`:
// namespaces dropped unless the name is a template; "exception" for a non-std exception.
// With `what`, also stores its what() there ("" for a non-std exception).
std::string exception_name(const std::exception_ptr& error, std::string* what = nullptr);

// "Name: what()" (or just "Name" when what() is empty), as the last line of a Python
// traceback.
std::string format_exception(const std::exception_ptr& error);

}  // namespace gilfree::detail
