#include "rvc/formats/audio_file.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "rvc/core/error.h"

namespace rvc::formats {
namespace {

namespace fs = std::filesystem;

class AudioFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rvc_audio_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::vector<float> sine(int n, double hz, int sr, double amp = 0.5) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(amp * std::sin(2 * M_PI * hz * i / sr));
  return v;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(AudioFileTest, WavPcm16RoundTrip) {
  for (int sr : {16000, 44100, 48000}) {
    const auto x = sine(sr / 10, 440.0, sr);
    const std::string p = path("a" + std::to_string(sr) + ".wav");
    write_audio(p, x.data(), static_cast<int64_t>(x.size()), sr);
    const AudioInfo info = probe_audio(p);
    EXPECT_EQ(info.sample_rate, sr);
    EXPECT_EQ(info.channels, 1);
    EXPECT_EQ(info.frames, static_cast<int64_t>(x.size()));
    EXPECT_NE(info.format.find("WAV"), std::string::npos) << info.format;
    EXPECT_NE(info.format.find("16"), std::string::npos) << info.format;
    const Audio a = read_audio_mono(p);
    EXPECT_EQ(a.sample_rate, sr);
    ASSERT_EQ(a.samples.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(a.samples[i], x[i], 1.0 / 32768 + 1e-7);
  }
}

TEST_F(AudioFileTest, WavFloatIsExactAndFlacIsPcm16) {
  const auto x = sine(4000, 1000.0, 48000, 0.9);
  write_audio(path("f.wav"), x.data(), 4000, 48000, SampleFormat::kFloat32);
  const Audio a = read_audio_mono(path("f.wav"));
  ASSERT_EQ(a.samples, x);
  write_audio(path("f.FLAC"), x.data(), 4000, 44100);
  const AudioInfo info = probe_audio(path("f.FLAC"));
  EXPECT_NE(info.format.find("FLAC"), std::string::npos) << info.format;
  const Audio b = read_audio_mono(path("f.FLAC"));
  EXPECT_EQ(b.sample_rate, 44100);
  ASSERT_EQ(b.samples.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(b.samples[i], x[i], 1.0 / 32768 + 1e-7);
}

TEST_F(AudioFileTest, ClipsInsteadOfWrapping) {
  const std::vector<float> x = {2.0f, -3.0f, 0.25f};
  write_audio(path("c.wav"), x.data(), 3, 16000);
  const Audio a = read_audio_mono(path("c.wav"));
  EXPECT_GT(a.samples[0], 0.99f);
  EXPECT_LT(a.samples[1], -0.99f);
}

TEST_F(AudioFileTest, StereoIsAveragedToMono) {
  SF_INFO sfi{};
  sfi.samplerate = 44100;
  sfi.channels = 2;
  sfi.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path("s.wav").c_str(), SFM_WRITE, &sfi);
  ASSERT_NE(f, nullptr);
  const float frames[6] = {0.5f, -0.5f, 0.2f, 0.4f, 1.0f, 0.0f};
  ASSERT_EQ(sf_writef_float(f, frames, 3), 3);
  sf_close(f);
  EXPECT_EQ(probe_audio(path("s.wav")).channels, 2);
  const Audio a = read_audio_mono(path("s.wav"));
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.0f);
  EXPECT_FLOAT_EQ(a.samples[1], 0.3f);
  EXPECT_FLOAT_EQ(a.samples[2], 0.5f);
}

TEST_F(AudioFileTest, ClearErrors) {
  EXPECT_NE(error_of([&] { read_audio_mono(path("missing.wav")); }).find("no such audio file"),
            std::string::npos);
  std::ofstream(path("text.wav")) << "this is not audio at all, just some text\n";
  EXPECT_NE(error_of([&] { probe_audio(path("text.wav")); }).find("not a readable audio file"),
            std::string::npos);
  const float x[2] = {0, 0};
  EXPECT_NE(error_of([&] { write_audio(path("x.mp4"), x, 2, 16000); }).find("'.mp4'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_audio(path("x.flac"), x, 2, 16000, SampleFormat::kFloat32); }),
            "");
  EXPECT_NE(error_of([&] { write_audio(path("x.wav"), x, 2, 0); }), "");
  EXPECT_NE(error_of([&] { read_audio_mono(dir_.string()); }), "");
}

// A canonical 44-byte PCM16 WAV header.
std::vector<uint8_t> wav_header(uint16_t channels, uint32_t data_bytes) {
  std::vector<uint8_t> h(44, 0);
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(h.data() + off, &v, 4); };
  auto put16 = [&](size_t off, uint16_t v) { std::memcpy(h.data() + off, &v, 2); };
  std::memcpy(h.data(), "RIFF", 4);
  put32(4, 36 + data_bytes);
  std::memcpy(h.data() + 8, "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);
  put16(22, channels);
  put32(24, 16000);
  put32(28, 16000u * 2 * channels);
  put16(32, static_cast<uint16_t>(2 * channels));
  put16(34, 16);
  std::memcpy(h.data() + 36, "data", 4);
  put32(40, data_bytes);
  return h;
}

TEST_F(AudioFileTest, HugeClaimedLengthReadsOnlyWhatIsThere) {
  auto h = wav_header(1, 0xFFFFFFF0u);                              // claims ~2^31 frames
  const std::vector<uint8_t> pcm = {0x00, 0x40, 0x00, 0xC0, 0, 0};  // 0.5, -0.5, 0
  std::ofstream out(path("huge.wav"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size()));
  out.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size()));
  out.close();
  const Audio a = read_audio_mono(path("huge.wav"));
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[0], 0.5f);
  EXPECT_FLOAT_EQ(a.samples[1], -0.5f);
}

TEST_F(AudioFileTest, ZeroChannelsIsRefused) {
  const auto h = wav_header(0, 4);
  std::ofstream out(path("zero.wav"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size()));
  out.write("\0\0\0\0", 4);
  out.close();
  EXPECT_NE(error_of([&] { read_audio_mono(path("zero.wav")); }), "");
}

}  // namespace
}  // namespace rvc::formats
