// apps/command.h: the subcommand registry of the rvc-rt executable.
//
// Each apps/cmd_*.cc registers itself with a static RegisterCommand, so adding a subcommand
// touches no shared file. A command returns the process exit status; rvc::Error escaping a
// command becomes "rvc-rt: error: <message>" and exit status 2 in main(). Every command parses
// its flags, RVC_* variables and config file with rvc::Settings (rvc/core/settings.h): there is
// no other flag parser.
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
// features, f0) and in devices and client: a shared config file names voice keys those commands
// do not have, and an unknown key is an error, so they read a config file only when given
// --config FILE.
EnvLookup environment_without_config();
// s.usage() for those commands: its --config line says that $RVC_CONFIG is not read.
std::string usage_without_config(const Settings& s);

}  // namespace rvc::app
