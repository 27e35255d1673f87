// apps/command.h: subcommand registry and a small flag parser for the rvc-rt executable.
//
// Each apps/cmd_*.cc registers itself with a static RegisterCommand, so adding a subcommand
// touches no shared file. A command returns the process exit status; rvc::Error escaping a
// command becomes "rvc-rt: error: <message>" and exit status 2 in main().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rvc/core/settings.h"

namespace rvc::app {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

struct RegisterCommand {
  RegisterCommand(std::string name, std::string summary, CommandFn run);
};

const std::vector<Command>& commands();

// The process environment minus RVC_CONFIG, for Settings::load() in the tool commands (info,
// features, f0): a shared config file names voice keys those commands do not have, and an unknown
// key is an error, so they read a config file only when given --config FILE.
EnvLookup environment_without_config();

// Flags: "--name value", "--name=value", boolean "--name". Everything else is positional ("--"
// ends flags). Unknown flags and missing or malformed values throw rvc::Error naming the flag.
class ArgParser {
 public:
  ArgParser(std::string command, std::string positional_usage);

  void flag(const std::string& name, const std::string& help, bool* out);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              std::string* out);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              int* out);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              double* out);
  // A repeatable option; each occurrence appends.
  void multi(const std::string& name, const std::string& metavar, const std::string& help,
             std::vector<std::string>* out);

  // Parses args. Returns false when --help was given (usage already printed to stdout).
  bool parse(const std::vector<std::string>& args);
  const std::vector<std::string>& positional() const { return positional_; }
  // Whether the flag/option appeared on the command line.
  bool given(const std::string& name) const;
  std::string usage() const;

 private:
  struct Spec {
    std::string name, metavar, help;
    std::function<void(const std::string&)> set;  // empty metavar: boolean flag
  };
  const Spec* find(const std::string& name) const;

  std::string command_, positional_usage_;
  std::vector<Spec> specs_;
  std::vector<std::string> positional_, given_;
};

}  // namespace rvc::app
