// tests/support/error_of.cc: see error_of.h.
#include "support/error_of.h"

#include "rvc/core/error.h"

namespace rvc::test {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace rvc::test
