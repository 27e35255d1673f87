// Audio payloads (pcm_s16le / pcm_f32le, mono or interleaved stereo) and the re-blocking FIFO.
// Bytes are assembled explicitly as little-endian so the code is right on any host and never
// reads unaligned memory.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "rvc/server/protocol.h"

namespace rvc::server {
namespace {

float read_sample(const uint8_t* p, AudioFormat f) {
  if (f == AudioFormat::kS16) {
    const auto v = static_cast<int16_t>(static_cast<uint16_t>(p[0] | (p[1] << 8)));
    return static_cast<float>(v) / 32768.0f;
  }
  const uint32_t u = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                     (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  float v;
  std::memcpy(&v, &u, 4);
  // Non-finite input would poison the voice's state; treat it as silence.
  return std::isfinite(v) ? v : 0.0f;
}

}  // namespace

void decode_audio(const uint8_t* data, size_t n, AudioFormat f, int channels,
                  std::vector<float>* out) {
  const size_t frame = static_cast<size_t>(bytes_per_sample(f)) * static_cast<size_t>(channels);
  if (n % frame != 0) {
    throw ProtocolError(Code::kBadAudioLength,
                        "audio: " + std::to_string(n) + " bytes is not a whole number of " +
                            audio_format_name(f) + " frames (" + std::to_string(frame) +
                            " bytes each for " + std::to_string(channels) + " channel(s))");
  }
  const size_t frames = n / frame;
  const size_t base = out->size();
  out->resize(base + frames);
  const int bps = bytes_per_sample(f);
  for (size_t i = 0; i < frames; ++i) {
    const uint8_t* p = data + i * frame;
    float v = read_sample(p, f);
    if (channels == 2) v = 0.5f * (v + read_sample(p + bps, f));
    (*out)[base + i] = v;
  }
}

void encode_audio(const float* samples, size_t n, AudioFormat f, std::string* out) {
  out->resize(n * static_cast<size_t>(bytes_per_sample(f)));
  auto* p = reinterpret_cast<unsigned char*>(out->data());
  for (size_t i = 0; i < n; ++i) {
    float v = samples[i];
    v = std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
    if (f == AudioFormat::kS16) {
      const auto s =
          static_cast<int16_t>(std::lround(std::clamp(v * 32768.0f, -32768.0f, 32767.0f)));
      const auto u = static_cast<uint16_t>(s);
      p[2 * i] = static_cast<unsigned char>(u & 0xff);
      p[2 * i + 1] = static_cast<unsigned char>(u >> 8);
    } else {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      for (int b = 0; b < 4; ++b) p[4 * i + b] = static_cast<unsigned char>(u >> (8 * b));
    }
  }
}

void BlockQueue::push(const float* x, size_t n) {
  // Compact when the consumed prefix dominates, so memory stays O(queued samples).
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  buf_.insert(buf_.end(), x, x + n);
}

void BlockQueue::push_silence(size_t n) {
  const std::vector<float> zeros(n, 0.0f);
  push(zeros.data(), n);
}

bool BlockQueue::pop(float* out, size_t n) {
  if (size() < n) return false;
  std::copy_n(buf_.begin() + static_cast<std::ptrdiff_t>(head_), n, out);
  head_ += n;
  if (head_ == buf_.size()) clear();
  return true;
}

void BlockQueue::clear() {
  buf_.clear();
  head_ = 0;
}

}  // namespace rvc::server
