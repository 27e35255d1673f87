// tests/support/error_of.h: the message of the rvc::Error a callable throws.
#pragma once

#include <functional>
#include <string>

namespace rvc::test {

// Runs fn; returns the what() of the rvc::Error it throws, or "no error" when it returns normally.
// Other exception types propagate (so the test fails loudly).
std::string error_of(const std::function<void()>& fn);

}  // namespace rvc::test
