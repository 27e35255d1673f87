// rvc-rt: real-time voice conversion with RVC models. Dispatches to the subcommands registered
// in apps/cmd_*.cc and is the one place that turns rvc::Error into "rvc-rt: error: ..." + exit 2.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/hugepages.h"
#include "rvc/core/log.h"

#ifndef RVC_VERSION
#define RVC_VERSION "dev"
#endif

namespace {

void print_help() {
  std::printf("rvc-rt %s: real-time voice conversion with RVC models, no Python needed\n\n",
              RVC_VERSION);
  std::printf("usage: rvc-rt [--log-level LEVEL] COMMAND [options] ...\n\ncommands:\n");
  for (const auto& c : rvc::app::commands()) {
    std::printf("  %-12s %s\n", c.name.c_str(), c.summary.c_str());
  }
  std::printf("\nrvc-rt COMMAND --help shows a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  rvc::use_huge_pages(argv);  // may re-execute this program once (see rvc/core/hugepages.h)
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    while (!args.empty() && args[0].rfind("--log-level", 0) == 0) {
      std::string v;
      if (args[0].size() > 11 && args[0][11] == '=') {
        v = args[0].substr(12);
        args.erase(args.begin());
      } else if (args.size() >= 2) {
        v = args[1];
        args.erase(args.begin(), args.begin() + 2);
      } else {
        rvc::fail("--log-level: expected a value");
      }
      rvc::set_log_level(rvc::parse_log_level(v));
    }
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
      print_help();
      return args.empty() ? 1 : 0;
    }
    if (args[0] == "--version" || args[0] == "version") {
      std::printf("rvc-rt %s\n%s\n", RVC_VERSION, rvc::huge_pages_status().c_str());
      return 0;
    }
    for (const auto& c : rvc::app::commands()) {
      if (c.name == args[0]) {
        return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
      }
    }
    rvc::fail("unknown command '", args[0], "' (see rvc-rt --help)");
  } catch (const rvc::Error& e) {
    std::fprintf(stderr, "rvc-rt: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rvc-rt: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rvc-rt: error: internal: %s\n", e.what());
    return 3;
  }
}
