#include "command.h"

#include <optional>
#include <utility>

namespace rvc::app {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
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

std::string usage_without_config(const Settings& s) {
  std::string u = s.usage();
  const std::string also = "(also $RVC_CONFIG)";
  if (const auto at = u.find(also); at != std::string::npos) {
    u.replace(at, also.size(), "(this command does not read $RVC_CONFIG)");
  }
  return u;
}

}  // namespace rvc::app
