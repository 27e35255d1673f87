#include "rvc/core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "rvc/core/error.h"

namespace rvc {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    default:
      return "off";
  }
}
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

LogLevel parse_log_level(const std::string& s) {
  for (int i = 0; i <= static_cast<int>(LogLevel::kOff); ++i) {
    if (s == level_name(static_cast<LogLevel>(i))) return static_cast<LogLevel>(i);
  }
  fail("log level '", s, "': expected debug, info, warn, error or off");
}

void log_line(LogLevel level, const std::string& msg) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "rvc-rt: %s: %s\n", level_name(level), msg.c_str());
}

}  // namespace rvc
