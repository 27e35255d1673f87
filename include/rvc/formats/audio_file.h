// rvc/formats/audio_file.h: reading and writing audio files through libsndfile.
//
// Reading accepts whatever libsndfile reads (wav, flac, ogg/vorbis, opus, mp3 where the library
// supports it), any rate and channel count, and returns mono float32 in [-1, 1] (channels are
// averaged). Writing picks the container from the file extension (.wav -> 16-bit PCM or float,
// .flac -> 16-bit FLAC). Errors throw rvc::Error naming the path and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rvc::formats {

struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  std::string format;  // e.g. "WAV (Microsoft) / Signed 16 bit PCM"
};

struct Audio {
  std::vector<float> samples;  // mono
  int sample_rate = 0;
};

enum class SampleFormat { kPcm16, kFloat32 };

// Header only; does not decode samples.
AudioInfo probe_audio(const std::string& path);
// Whole file, mixed down to mono.
Audio read_audio_mono(const std::string& path);
// Container from the extension (.wav, .flac); kFloat32 is refused for .flac.
void write_audio(const std::string& path, const float* samples, int64_t n_samples, int sample_rate,
                 SampleFormat format = SampleFormat::kPcm16);

}  // namespace rvc::formats
