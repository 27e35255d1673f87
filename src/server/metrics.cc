#include "metrics.h"

#include <sstream>

namespace rvc::server {

const char* transport_name(Transport t) { return t == Transport::kWs ? "ws" : "tcp"; }

void Metrics::session_opened(Transport t) {
  active_[static_cast<int>(t)]++;
  total_[static_cast<int>(t)]++;
}
void Metrics::session_closed(Transport t) { active_[static_cast<int>(t)]--; }
void Metrics::audio_in(int64_t frames, int sr) {
  in_s_.fetch_add(static_cast<double>(frames) / sr);
}
void Metrics::audio_out(int64_t frames, int sr) {
  out_s_.fetch_add(static_cast<double>(frames) / sr);
}
void Metrics::block(double seconds, bool overrun) {
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  bucket_[i]++;
  blocks_++;
  compute_sum_s_.fetch_add(seconds);
  if (overrun) overruns_++;
}
void Metrics::error(Code c) { errors_[static_cast<int>(c)]++; }
int64_t Metrics::sessions_active() const { return active_[0] + active_[1]; }

std::string Metrics::render(int models_loaded, bool ready) const {
  std::ostringstream os;
  os.precision(9);
  os << "# HELP rvc_sessions_active Open sessions.\n# TYPE rvc_sessions_active gauge\n";
  for (int t = 0; t < 2; ++t) {
    os << "rvc_sessions_active{transport=\"" << transport_name(static_cast<Transport>(t)) << "\"} "
       << active_[t].load() << "\n";
  }
  os << "# HELP rvc_sessions_total Sessions opened.\n# TYPE rvc_sessions_total counter\n";
  for (int t = 0; t < 2; ++t) {
    os << "rvc_sessions_total{transport=\"" << transport_name(static_cast<Transport>(t)) << "\"} "
       << total_[t].load() << "\n";
  }
  os << "# HELP rvc_audio_in_seconds_total Audio received.\n"
        "# TYPE rvc_audio_in_seconds_total counter\nrvc_audio_in_seconds_total "
     << in_s_.load() << "\n";
  os << "# HELP rvc_audio_out_seconds_total Audio sent.\n"
        "# TYPE rvc_audio_out_seconds_total counter\nrvc_audio_out_seconds_total "
     << out_s_.load() << "\n";
  os << "# HELP rvc_block_compute_seconds Compute time per stream block.\n"
        "# TYPE rvc_block_compute_seconds histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i <= kBuckets.size(); ++i) {
    cum += bucket_[i].load();
    os << "rvc_block_compute_seconds_bucket{le=\"";
    if (i < kBuckets.size()) {
      os << kBuckets[i];
    } else {
      os << "+Inf";
    }
    os << "\"} " << cum << "\n";
  }
  os << "rvc_block_compute_seconds_sum " << compute_sum_s_.load() << "\n"
     << "rvc_block_compute_seconds_count " << cum << "\n";
  os << "# HELP rvc_block_overruns_total Blocks that took longer to compute than they last.\n"
        "# TYPE rvc_block_overruns_total counter\nrvc_block_overruns_total "
     << overruns_.load() << "\n";
  os << "# HELP rvc_errors_total Protocol errors sent, by code.\n"
        "# TYPE rvc_errors_total counter\n";
  for (int c = 0; c < kCodeCount; ++c) {
    os << "rvc_errors_total{code=\"" << code_name(static_cast<Code>(c)) << "\"} "
       << errors_[c].load() << "\n";
  }
  os << "# HELP rvc_models_loaded Voice models in memory.\n# TYPE rvc_models_loaded gauge\n"
     << "rvc_models_loaded " << models_loaded << "\n";
  os << "# HELP rvc_ready 1 when /readyz answers 200.\n# TYPE rvc_ready gauge\nrvc_ready "
     << (ready ? 1 : 0) << "\n";
  return os.str();
}

}  // namespace rvc::server
