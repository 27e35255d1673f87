// FileDevice: periods of the asked size carry the whole input (zero-padded) plus the drain to
// the callback, output() and the written file hold exactly input + drain samples, wait_ready is
// consulted in fast mode only, and a missing input names the file.
#include "rvc/audio/file_device.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/audio_file.h"

namespace rvc::audio {
namespace {

namespace fs = std::filesystem;

// Echoes input to output and records period sizes and wait_ready calls.
class Echo final : public AudioCallback {
 public:
  void audio(const float* in, float* out, int64_t frames, CallbackStatus) override {
    std::copy(in, in + frames, out);
    sizes.push_back(frames);
  }
  bool wait_ready(int64_t) override {
    ++waits;
    return true;
  }
  std::vector<int64_t> sizes;
  int waits = 0;
};

class FileDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rvc_file_device_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    x_.resize(1234);
    for (size_t i = 0; i < x_.size(); ++i) x_[i] = static_cast<float>(0.5 * std::sin(0.01 * i));
    formats::write_audio((dir_ / "in.wav").string(), x_.data(), 1234, 8000,
                         formats::SampleFormat::kFloat32);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::vector<float> x_;
};

TEST_F(FileDeviceTest, FastModeCarriesInputAndDrain) {
  FileDeviceConfig c;
  c.input_path = (dir_ / "in.wav").string();
  c.output_path = (dir_ / "out.wav").string();
  c.buffer_frames = 100;
  FileDevice d(c);
  EXPECT_EQ(d.sample_rate(), 8000);
  EXPECT_EQ(d.buffer_frames(), 100);
  d.set_drain_frames(50);
  Echo echo;
  d.start(&echo);
  ASSERT_TRUE(d.wait_finished(60.0));
  d.stop();
  EXPECT_EQ(echo.sizes.size(), 13u);  // ceil((1234 + 50) / 100)
  for (int64_t s : echo.sizes) EXPECT_EQ(s, 100);
  EXPECT_EQ(echo.waits, 13);
  ASSERT_EQ(d.output().size(), 1284u);
  for (size_t i = 0; i < 1234; ++i) ASSERT_EQ(d.output()[i], x_[i]) << i;
  for (size_t i = 1234; i < 1284; ++i) ASSERT_EQ(d.output()[i], 0.0f) << i;
  EXPECT_EQ(d.input().size(), 1234u);
  const auto back = formats::read_audio_mono(c.output_path);
  EXPECT_EQ(back.samples.size(), 1284u);
  EXPECT_EQ(back.sample_rate, 8000);
  d.stop();  // twice is fine
}

TEST_F(FileDeviceTest, RealtimeModeNeverWaitsOnTheConsumer) {
  FileDeviceConfig c;
  c.input_path = (dir_ / "in.wav").string();
  c.buffer_frames = 400;
  c.realtime = true;
  FileDevice d(c);
  Echo echo;
  d.start(&echo);
  ASSERT_TRUE(d.wait_finished(60.0));
  d.stop();
  EXPECT_EQ(echo.waits, 0);
  EXPECT_EQ(d.output().size(), 1234u);
  EXPECT_NE(d.describe().find("real time"), std::string::npos);
}

TEST_F(FileDeviceTest, BadInputAndSettingsAreErrors) {
  FileDeviceConfig c;
  c.input_path = (dir_ / "missing.wav").string();
  try {
    FileDevice d(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.wav"), std::string::npos) << e.what();
  }
  c.input_path = (dir_ / "in.wav").string();
  FileDevice d(c);
  EXPECT_EQ(d.buffer_frames(), 80);  // 10 ms default
  EXPECT_THROW(d.set_drain_frames(-1), Error);
  EXPECT_THROW(d.set_drain_frames(int64_t{8000} * 61), Error);
}

}  // namespace
}  // namespace rvc::audio
