// rvc-rt devices: host APIs and audio devices as PortAudio sees them.
//
//   rvc-rt devices
//
// Prints one line per device: index, in/out channels, default rate, host API, name, and marks
// the default input / output. With no sound hardware it says so and exits 0.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "rvc/audio/portaudio_device.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"

namespace rvc::app {
namespace {

int run_devices(const std::vector<std::string>& args) {
  Settings s("devices");
  // No settings of its own: a shared $RVC_CONFIG (voice keys) must not make it fail.
  if (!s.load(args, environment_without_config())) {
    std::fputs(usage_without_config(s).c_str(), stdout);
    return 0;
  }
  if (!s.positional().empty()) fail("devices: takes no arguments");
  const audio::AudioSystemInfo info = audio::list_audio_devices();
  std::printf("%s\n", info.version.c_str());
  if (!info.error.empty()) {
    std::printf("audio system unavailable: %s\nno audio devices found\n", info.error.c_str());
    return 0;
  }
  std::printf("host APIs:");
  if (info.host_apis.empty()) std::printf(" none");
  for (const auto& h : info.host_apis) std::printf(" [%s]", h.c_str());
  std::printf("\n");
  if (info.devices.empty()) {
    std::printf("no audio devices found\n");
    return 0;
  }
  std::printf("%5s %4s %4s %8s  %-12s %s\n", "index", "in", "out", "rate", "host API", "name");
  for (const auto& d : info.devices) {
    std::string mark;
    if (d.is_default_input) mark += " (default input)";
    if (d.is_default_output) mark += " (default output)";
    std::printf("%5d %4d %4d %8.0f  %-12s %s%s\n", d.index, d.max_input_channels,
                d.max_output_channels, d.default_sample_rate, d.host_api.c_str(), d.name.c_str(),
                mark.c_str());
  }
  return 0;
}

const RegisterCommand kRegister("devices", "list audio host APIs and devices (PortAudio)",
                                run_devices);

}  // namespace
}  // namespace rvc::app
