// rvc/core/error.h: the one exception type of rvc-rt.
//
// Contract: load- and config-time code reports bad input by throwing rvc::Error whose message
// names the file / field / offset and what was expected. Apps and the server catch it at one
// boundary and turn it into a one-line message or a protocol error. Nothing on the real-time
// path throws.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace rvc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Builds a message from any streamable parts: fail("tensor ", name, ": expected ", n, " dims").
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(os.str());
}

// Prefixes an Error's message with context (a path, a key) and rethrows.
template <typename Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace rvc
