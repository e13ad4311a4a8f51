// The one demangler and exception printer (see describe.hpp).
#include "describe.hpp"

#include <cxxabi.h>

#include <cstdlib>

namespace gilfree::detail {

std::string type_name(const std::type_info& type) {
  int status = 0;
  char* d = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = (status == 0 && d) ? d : type.name();
  std::free(d);
  return out;
}

std::string exception_name(const std::exception_ptr& error, std::string* what) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& ex) {
    if (what) *what = ex.what();
    std::string n = type_name(typeid(ex));
    if (n.find('<') == std::string::npos) {
      auto pos = n.rfind("::");
      if (pos != std::string::npos) n = n.substr(pos + 2);
    }
    return n;
  } catch (...) {
    if (what) what->clear();
    return "exception";
  }
}

std::string format_exception(const std::exception_ptr& error) {
  std::string what;
  std::string out = exception_name(error, &what);
  if (!what.empty()) out += ": " + what;
  return out;
}

}  // namespace gilfree::detail
