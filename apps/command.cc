#include "command.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "rvc/core/error.h"

namespace rvc::app {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

int parse_int(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE || x < -2147483647L || x > 2147483647L) {
    fail(flag, ": expected an integer, got '", v, "'");
  }
  return static_cast<int>(x);
}

double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    fail(flag, ": expected a number, got '", v, "'");
  }
  return x;
}
}  // namespace

RegisterCommand::RegisterCommand(std::string name, std::string summary, CommandFn run) {
  registry().push_back({std::move(name), std::move(summary), std::move(run)});
}

const std::vector<Command>& commands() { return registry(); }

EnvLookup environment_without_config() {
  return [env = process_environment()](const std::string& name) -> std::optional<std::string> {
    if (name == "RVC_CONFIG") return std::nullopt;
    return env(name);
  };
}

ArgParser::ArgParser(std::string command, std::string positional_usage)
    : command_(std::move(command)), positional_usage_(std::move(positional_usage)) {}

void ArgParser::flag(const std::string& name, const std::string& help, bool* out) {
  specs_.push_back({name, "", help, [out](const std::string&) { *out = true; }});
}
void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       std::string* out) {
  specs_.push_back({name, metavar, help, [out](const std::string& v) { *out = v; }});
}
void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       int* out) {
  specs_.push_back(
      {name, metavar, help, [out, name](const std::string& v) { *out = parse_int(name, v); }});
}
void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       double* out) {
  specs_.push_back(
      {name, metavar, help, [out, name](const std::string& v) { *out = parse_double(name, v); }});
}
void ArgParser::multi(const std::string& name, const std::string& metavar, const std::string& help,
                      std::vector<std::string>* out) {
  specs_.push_back({name, metavar, help, [out](const std::string& v) { out->push_back(v); }});
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool ArgParser::given(const std::string& name) const {
  for (const auto& g : given_) {
    if (g == name) return true;
  }
  return false;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-' || a == "-") {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      return false;
    }
    std::string name = a, value;
    bool has_value = false;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const Spec* s = find(name);
    if (!s)
      fail("unknown option '", name, "' for '", command_, "' (see rvc-rt ", command_, " --help)");
    if (s->metavar.empty()) {
      if (has_value) fail(name, ": takes no value");
    } else if (!has_value) {
      if (i + 1 >= args.size()) fail(name, ": expected a value (", s->metavar, ")");
      value = args[++i];
    }
    s->set(value);
    given_.push_back(name);
  }
  return true;
}

std::string ArgParser::usage() const {
  std::ostringstream os;
  os << "usage: rvc-rt " << command_ << " [options] " << positional_usage_ << "\n\noptions:\n";
  for (const auto& s : specs_) {
    std::string left = "  " + s.name + (s.metavar.empty() ? "" : " " + s.metavar);
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "\n" + std::string(28, ' ');
    os << left << s.help << "\n";
  }
  return os.str();
}

}  // namespace rvc::app
