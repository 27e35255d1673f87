// rvc/core/log.h: leveled logging to stderr. Thread-safe; never call it on the real-time path.
#pragma once

#include <sstream>
#include <string>

namespace rvc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Parses "debug|info|warn|error|off"; throws rvc::Error naming the value otherwise.
LogLevel parse_log_level(const std::string& s);
void log_line(LogLevel level, const std::string& msg);

template <typename... Parts>
void log(LogLevel level, Parts&&... parts) {
  if (level < log_level()) return;
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  log_line(level, os.str());
}
template <typename... P>
void log_debug(P&&... p) {
  log(LogLevel::kDebug, std::forward<P>(p)...);
}
template <typename... P>
void log_info(P&&... p) {
  log(LogLevel::kInfo, std::forward<P>(p)...);
}
template <typename... P>
void log_warn(P&&... p) {
  log(LogLevel::kWarn, std::forward<P>(p)...);
}
template <typename... P>
void log_error(P&&... p) {
  log(LogLevel::kError, std::forward<P>(p)...);
}

}  // namespace rvc
