#include "rvc/formats/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "rvc/core/error.h"

namespace rvc::formats {
namespace {

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndPtr = std::unique_ptr<SNDFILE, SndCloser>;

// Frames decoded per sf_readf_float call: memory grows with what the file really holds,
// never with the frame count its header claims.
constexpr sf_count_t kChunkFrames = 16384;
constexpr int kMaxChannels = 1024;

SndPtr open_for_read(const std::string& path, SF_INFO* info) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": no such audio file");
  if (std::filesystem::is_directory(path, ec)) fail(path, ": is a directory, not an audio file");
  *info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, info);
  if (!f) fail(path, ": not a readable audio file (libsndfile: ", sf_strerror(nullptr), ")");
  SndPtr p(f);
  if (info->channels <= 0 || info->channels > kMaxChannels) {
    fail(path, ": invalid channel count ", info->channels);
  }
  if (info->samplerate <= 0) fail(path, ": invalid sample rate ", info->samplerate);
  return p;
}

std::string format_name(int format) {
  SF_FORMAT_INFO major{}, sub{};
  major.format = format & SF_FORMAT_TYPEMASK;
  sub.format = format & SF_FORMAT_SUBMASK;
  std::string s = sf_command(nullptr, SFC_GET_FORMAT_INFO, &major, sizeof(major)) == 0 && major.name
                      ? major.name
                      : "unknown";
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &sub, sizeof(sub)) == 0 && sub.name) {
    s += std::string(" / ") + sub.name;
  }
  return s;
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

AudioInfo probe_audio(const std::string& path) {
  SF_INFO sfi;
  SndPtr f = open_for_read(path, &sfi);
  AudioInfo info;
  info.sample_rate = sfi.samplerate;
  info.channels = sfi.channels;
  info.frames = sfi.frames;
  info.format = format_name(sfi.format);
  return info;
}

Audio read_audio_mono(const std::string& path) {
  SF_INFO sfi;
  SndPtr f = open_for_read(path, &sfi);
  const int ch = sfi.channels;
  Audio out;
  out.sample_rate = sfi.samplerate;
  std::vector<float> buf(static_cast<size_t>(kChunkFrames) * ch);
  while (true) {
    const sf_count_t got = sf_readf_float(f.get(), buf.data(), kChunkFrames);
    if (got <= 0) break;
    const size_t base = out.samples.size();
    out.samples.resize(base + static_cast<size_t>(got));
    const float scale = 1.0f / static_cast<float>(ch);
    for (sf_count_t i = 0; i < got; ++i) {
      const float* fr = buf.data() + i * ch;
      float acc = 0.0f;
      for (int c = 0; c < ch; ++c) acc += fr[c];
      out.samples[base + static_cast<size_t>(i)] = ch == 1 ? acc : acc * scale;
    }
  }
  if (sf_error(f.get()) != SF_ERR_NO_ERROR) {
    fail(path, ": decode error after ", out.samples.size(),
         " frames (libsndfile: ", sf_strerror(f.get()), ")");
  }
  return out;
}

void write_audio(const std::string& path, const float* samples, int64_t n_samples, int sample_rate,
                 SampleFormat format) {
  if (sample_rate <= 0) fail(path, ": cannot write audio with sample rate ", sample_rate);
  if (n_samples < 0 || (n_samples > 0 && !samples)) fail(path, ": invalid sample buffer");
  const std::string ext = lower_extension(path);
  SF_INFO sfi{};
  sfi.samplerate = sample_rate;
  sfi.channels = 1;
  if (ext == ".wav") {
    sfi.format =
        SF_FORMAT_WAV | (format == SampleFormat::kFloat32 ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
  } else if (ext == ".flac") {
    if (format == SampleFormat::kFloat32) fail(path, ": FLAC cannot store float32 samples");
    sfi.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  } else {
    fail(path, ": unsupported output extension '", ext, "' (expected .wav or .flac)");
  }
  SNDFILE* raw = sf_open(path.c_str(), SFM_WRITE, &sfi);
  if (!raw) fail(path, ": cannot open for writing (libsndfile: ", sf_strerror(nullptr), ")");
  SndPtr f(raw);
  // Out-of-range floats clip instead of wrapping around in integer formats.
  sf_command(f.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
  int64_t done = 0;
  while (done < n_samples) {
    const sf_count_t n = static_cast<sf_count_t>(std::min<int64_t>(n_samples - done, 1 << 16));
    if (sf_writef_float(f.get(), samples + done, n) != n) {
      fail(path, ": write error (libsndfile: ", sf_strerror(f.get()), ")");
    }
    done += n;
  }
  if (sf_close(f.release()) != 0) fail(path, ": error closing file");
}

}  // namespace rvc::formats
