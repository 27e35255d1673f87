#include "rvc/audio/file_device.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "rvc/core/error.h"
#include "rvc/formats/audio_file.h"

namespace rvc::audio {

FileDevice::FileDevice(const FileDeviceConfig& config) : config_(config) {
  formats::Audio a = formats::read_audio_mono(config_.input_path);
  if (a.samples.empty()) fail(config_.input_path, ": no audio samples");
  sample_rate_ = a.sample_rate;
  input_ = std::move(a.samples);
  n_input_ = static_cast<int64_t>(input_.size());
  period_ = config_.buffer_frames > 0 ? config_.buffer_frames : std::max(1, sample_rate_ / 100);
  if (period_ > (int64_t{1} << 22))
    fail("file device: buffer of ", period_, " frames is too large");
  set_drain_frames(config_.drain_frames);
}

FileDevice::~FileDevice() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string FileDevice::describe() const {
  std::ostringstream os;
  os << "file " << config_.input_path << " -> "
     << (config_.output_path.empty() ? std::string("(memory)") : config_.output_path) << ", "
     << sample_rate_ << " Hz, " << period_ << "-frame periods, "
     << (config_.realtime ? "paced in real time" : "as fast as possible");
  return os.str();
}

void FileDevice::set_drain_frames(int64_t n) {
  if (n < 0 || n > int64_t{sample_rate_} * 60) {
    fail("file device: drain of ", n, " frames is out of range (0..60 s)");
  }
  config_.drain_frames = n;
}

void FileDevice::start(AudioCallback* cb) {
  if (thread_.joinable()) fail("file device: already started");
  const int64_t total = static_cast<int64_t>(input_.size()) + config_.drain_frames;
  const int64_t n_periods = (total + period_ - 1) / period_;
  output_.assign(static_cast<size_t>(n_periods * period_), 0.0f);
  input_.resize(static_cast<size_t>(n_periods * period_), 0.0f);  // drain + padding = silence
  stop_ = false;
  thread_ = std::thread([this, cb] { run(cb); });
}

// The device's audio thread.
void FileDevice::run(AudioCallback* cb) {
  using Clock = std::chrono::steady_clock;
  const int64_t n_periods = static_cast<int64_t>(output_.size()) / period_;
  const auto t0 = Clock::now();
  for (int64_t k = 0; k < n_periods && !stop_.load(); ++k) {
    if (config_.realtime) {
      std::this_thread::sleep_until(
          t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(static_cast<double>(k * period_) / sample_rate_)));
    } else if (!cb->wait_ready(period_)) {
      break;
    }
    cb->audio(input_.data() + k * period_, output_.data() + k * period_, period_, {});
    periods_.fetch_add(1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  done_cv_.notify_all();
}

bool FileDevice::wait_finished(double timeout_s) {
  std::unique_lock<std::mutex> lock(mu_);
  return done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return done_; });
}

void FileDevice::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (written_ || output_.empty()) return;
  written_ = true;
  input_.resize(static_cast<size_t>(n_input_));
  output_.resize(static_cast<size_t>(n_input_ + config_.drain_frames));
  if (!config_.output_path.empty()) {
    formats::write_audio(config_.output_path, output_.data(), static_cast<int64_t>(output_.size()),
                         sample_rate_);
  }
}

}  // namespace rvc::audio
