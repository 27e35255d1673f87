// PortAudio layer without assuming any sound hardware: listing never throws and is
// self-consistent; unknown device names, bad indexes and absurd rates fail with one clear
// rvc::Error (never a crash or a hang). With real devices present, opening "default" at an
// unsupported rate names the rate.
#include "rvc/audio/portaudio_device.h"

#include <gtest/gtest.h>

#include <string>

#include "rvc/core/error.h"

namespace rvc::audio {
namespace {

std::string error_of(const PortAudioConfig& c) {
  try {
    PortAudioDevice d(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PortAudio, ListingIsConsistent) {
  const AudioSystemInfo info = list_audio_devices();
  EXPECT_NE(info.version.find("PortAudio"), std::string::npos);
  int defaults_in = 0, defaults_out = 0;
  for (size_t i = 0; i < info.devices.size(); ++i) {
    const auto& d = info.devices[i];
    EXPECT_GE(d.index, 0);
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.max_input_channels, 0);
    EXPECT_GE(d.max_output_channels, 0);
    defaults_in += d.is_default_input;
    defaults_out += d.is_default_output;
  }
  EXPECT_LE(defaults_in, 1);
  EXPECT_LE(defaults_out, 1);
}

TEST(PortAudio, BadSelectionsFailWithOneClearLine) {
  PortAudioConfig c;
  c.input = "no such device name 1234";
  std::string e = error_of(c);
  EXPECT_FALSE(e.empty());
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_TRUE(e.find("not found") != std::string::npos ||
              e.find("no audio devices") != std::string::npos)
      << e;

  c.input = "9999";
  e = error_of(c);
  EXPECT_FALSE(e.empty());
  EXPECT_TRUE(e.find("no such index") != std::string::npos ||
              e.find("no audio devices") != std::string::npos)
      << e;

  const AudioSystemInfo info = list_audio_devices();
  bool duplex = false;
  for (const auto& d : info.devices) duplex |= d.is_default_input || d.is_default_output;
  if (!duplex) {
    GTEST_SKIP() << "no default audio device here; rate negotiation not exercised";
  }
  c.input = "default";
  c.sample_rate = 191999;  // no real device runs at this rate
  e = error_of(c);
  EXPECT_FALSE(e.empty());
}

}  // namespace
}  // namespace rvc::audio
