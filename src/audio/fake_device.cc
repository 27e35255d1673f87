#include "rvc/audio/fake_device.h"

#include <sstream>

#include "rvc/core/error.h"

namespace rvc::audio {

FakeDevice::FakeDevice(int sample_rate, int64_t buffer_frames)
    : sample_rate_(sample_rate), period_(buffer_frames) {
  if (sample_rate_ <= 0 || period_ <= 0) {
    fail("fake device: expected a positive rate and period, got ", sample_rate_, " Hz, ", period_,
         " frames");
  }
}

std::string FakeDevice::describe() const {
  std::ostringstream os;
  os << "fake device, " << sample_rate_ << " Hz, " << period_ << "-frame periods";
  return os.str();
}

void FakeDevice::run_period(const float* in, float* out, CallbackStatus status) {
  if (!cb_) fail("fake device: run_period() before start()");
  if (status.input_overflow || status.output_underflow) ++xruns_;
  cb_->audio(in, out, period_, status);
}

bool FakeDevice::wait_ready() {
  if (!cb_) fail("fake device: wait_ready() before start()");
  return cb_->wait_ready(period_);
}

}  // namespace rvc::audio
