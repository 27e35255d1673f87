// NoiseSuppressor (webrtc noise suppression): the shipped speech sample with pauses, plus white
// noise at 10 dB SNR, loses >= 10 dB of noise in the pauses while the voice keeps its level; off
// is the input delayed by latency_frames(), bit for bit; the reported latency is the wet path's;
// switching on/off and between levels makes no click; process() never allocates; bad levels are
// one-line errors naming the field.
#include "rvc/dsp/denoise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "support/alloc_counter.h"
#include "support/audio_checks.h"
#include "support/error_of.h"

namespace rvc::dsp {
namespace {

double energy(const std::vector<float>& x, int64_t a, int64_t b) {
  double e = 0.0;
  for (int64_t i = a; i < b; ++i) e += double(x[size_t(i)]) * x[size_t(i)];
  return e;
}

// Runs x through ns in blocks of `block` samples (x is padded with zeros to whole blocks and the
// latency); calls between(k) before block k. Output is the raw (delayed) output.
template <typename F>
std::vector<float> run(NoiseSuppressor& ns, const std::vector<float>& x, int64_t block, F between) {
  const int64_t total = static_cast<int64_t>(x.size()) + ns.latency_frames();
  std::vector<float> y(size_t((total + block - 1) / block * block), 0.0f);
  std::copy(x.begin(), x.end(), y.begin());
  for (int64_t k = 0; k * block < static_cast<int64_t>(y.size()); ++k) {
    between(k);
    ns.process(y.data() + k * block, block);
  }
  return y;
}
std::vector<float> run(NoiseSuppressor& ns, const std::vector<float>& x, int64_t block) {
  return run(ns, x, block, [](int64_t) {});
}

// The shipped speech sample at sr laid out as [pause][speech][pause][speech][pause], each pause
// 1.2 s, plus white noise 10 dB below the speech's active power. active[i]: clean speech in
// sample i's 10 ms frame is within 30 dB of the loudest frame.
struct NoisySpeech {
  int sr = 0;
  std::vector<float> clean, noisy;
  std::vector<bool> active;
  int64_t pause2_begin = 0, pause2_end = 0;  // the pause between the two utterances
  int64_t speech2_begin = 0, speech2_end = 0;
};

NoisySpeech noisy_speech(int sr, uint32_t seed) {
  const auto a = formats::read_audio_mono(std::string(RVC_SOURCE_DIR) + "/assets/sample.wav");
  const std::vector<float> s = resample(a.samples, a.sample_rate, sr);
  const int64_t pause = sr * 12 / 10, n = static_cast<int64_t>(s.size());
  NoisySpeech r;
  r.sr = sr;
  r.clean.assign(size_t(3 * pause + 2 * n), 0.0f);
  std::copy(s.begin(), s.end(), r.clean.begin() + pause);
  std::copy(s.begin(), s.end(), r.clean.begin() + 2 * pause + n);
  r.pause2_begin = pause + n;
  r.pause2_end = 2 * pause + n;
  r.speech2_begin = 2 * pause + n;
  r.speech2_end = 2 * pause + 2 * n;
  const int64_t f = sr / 100, total = static_cast<int64_t>(r.clean.size());
  std::vector<double> fe;
  for (int64_t i = 0; i + f <= total; i += f) fe.push_back(energy(r.clean, i, i + f));
  const double loudest = *std::max_element(fe.begin(), fe.end());
  r.active.assign(r.clean.size(), false);
  double pe = 0.0;
  int64_t pn = 0;
  for (size_t k = 0; k < fe.size(); ++k) {
    if (fe[k] < loudest * 1e-3) continue;
    for (int64_t i = int64_t(k) * f; i < int64_t(k + 1) * f; ++i) r.active[size_t(i)] = true;
    pe += fe[k], pn += f;
  }
  const double noise_sd = std::sqrt(pe / double(pn) / 10.0);  // 10 dB SNR
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, static_cast<float>(noise_sd));
  r.noisy = r.clean;
  for (auto& v : r.noisy) v += d(rng);
  return r;
}

TEST(NoiseSuppressor, LevelNamesAndOneLineErrors) {
  for (int i = 0; i <= 4; ++i) {
    const auto l = static_cast<NoiseLevel>(i);
    EXPECT_EQ(parse_noise_level(noise_level_name(l)), l);
  }
  EXPECT_EQ(parse_noise_level("very_high"), NoiseLevel::kVeryHigh);
  const std::string e = test::error_of([] { parse_noise_level("loud"); });
  EXPECT_NE(e.find("noise_suppression"), std::string::npos) << e;
  EXPECT_NE(e.find("'loud'"), std::string::npos) << e;
  EXPECT_NE(e.find("very_high"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  const std::string e2 = test::error_of([] { parse_noise_level("High", "params.denoise"); });
  EXPECT_EQ(e2.rfind("params.denoise:", 0), 0u) << e2;
  EXPECT_FALSE(valid_noise_level(static_cast<NoiseLevel>(5)));
  EXPECT_FALSE(valid_noise_level(static_cast<NoiseLevel>(-1)));
  EXPECT_THROW(NoiseSuppressor(48000, 4800, static_cast<NoiseLevel>(7)), Error);
  EXPECT_THROW(NoiseSuppressor(4000, 400), Error);
  EXPECT_THROW(NoiseSuppressor(48000, 500), Error);  // not whole 10 ms frames
  NoiseSuppressor ns(16000, 1600);
  std::vector<float> x(1600, 0.0f);
  EXPECT_THROW(ns.process(x.data(), 100), Error);
  EXPECT_THROW(ns.process(x.data(), 3200), Error);
}

// Noise floor in the pause between utterances and the voice's level, per rate and level.
TEST(NoiseSuppressor, RemovesNoiseInPausesAndKeepsTheVoice) {
  struct Case {
    int sr;
    NoiseLevel level;
  };
  for (const Case c : {Case{48000, NoiseLevel::kModerate}, Case{48000, NoiseLevel::kVeryHigh},
                       Case{16000, NoiseLevel::kHigh}, Case{44100, NoiseLevel::kHigh},
                       Case{22050, NoiseLevel::kHigh}}) {
    const NoisySpeech s = noisy_speech(c.sr, 5);
    const int64_t block = c.sr / 100 * 10;  // 100 ms
    NoiseSuppressor ns(c.sr, block, c.level);
    const std::vector<float> y = run(ns, s.noisy, block);
    const int64_t d = ns.latency_frames();
    // The pause, 100 ms in from each end (the voice's tail and webrtc's smoothing).
    const int64_t pa = s.pause2_begin + c.sr / 10, pb = s.pause2_end - c.sr / 10;
    const double floor_in = energy(s.noisy, pa, pb), floor_out = energy(y, pa + d, pb + d);
    const double drop_db = 10.0 * std::log10(floor_in / floor_out);
    double ec = 0.0, eo = 0.0;
    for (int64_t i = s.speech2_begin; i < s.speech2_end; ++i) {
      if (!s.active[size_t(i)]) continue;
      ec += double(s.clean[size_t(i)]) * s.clean[size_t(i)];
      eo += double(y[size_t(i + d)]) * y[size_t(i + d)];
    }
    const double voice_db = 10.0 * std::log10(eo / ec);
    std::printf(
        "%d Hz %-9s latency %lld (webrtc's own %.2f ms): pause noise -%.1f dB, voice %+.2f dB\n",
        c.sr, noise_level_name(c.level), static_cast<long long>(d),
        1000.0 * double(ns.webrtc_delay_frames()) / c.sr, drop_db, voice_db);
    EXPECT_GE(drop_db, 10.0) << c.sr << " Hz " << noise_level_name(c.level);
    EXPECT_LT(std::abs(voice_db), 3.0) << c.sr << " Hz " << noise_level_name(c.level);
    EXPECT_EQ(d, ns.frame_frames());  // one 10 ms frame
    EXPECT_GT(ns.webrtc_delay_frames(), 0);
    EXPECT_LE(ns.webrtc_delay_frames(), d);
  }
}

TEST(NoiseSuppressor, OffIsTheInputDelayedBitForBit) {
  for (const int sr : {48000, 22050, 8000}) {
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 0.5f);
    std::vector<float> x(size_t(sr * 2));
    for (auto& v : x) v = d(rng);
    x[100] = 7.5f;  // beyond webrtc's [-1, 1]: untouched when off
    x[200] = std::nanf("");
    const int64_t block = sr / 100 * 3;
    NoiseSuppressor ns(sr, block);
    const std::vector<float> y = run(ns, x, block);
    const int64_t lat = ns.latency_frames();
    for (int64_t i = 0; i < lat; ++i) ASSERT_EQ(y[size_t(i)], 0.0f);
    EXPECT_EQ(std::memcmp(y.data() + lat, x.data(), x.size() * sizeof(float)), 0) << sr << " Hz";
  }
}

// The reported latency is where the suppressed signal really is: the cross-correlation peak of
// the output against the clean speech.
TEST(NoiseSuppressor, ReportedLatencyIsTheWetPathDelay) {
  for (const int sr : {48000, 16000, 44100}) {
    const NoisySpeech s = noisy_speech(sr, 9);
    const int64_t block = sr / 100 * 5;
    NoiseSuppressor ns(sr, block, NoiseLevel::kHigh);
    const std::vector<float> y = run(ns, s.noisy, block);
    int64_t best = -1;
    double best_v = -1e30;
    for (int64_t lag = 0; lag < sr / 25; ++lag) {
      double v = 0.0;
      for (int64_t i = s.speech2_begin; i < s.speech2_end; ++i) {
        v += double(s.clean[size_t(i)]) * y[size_t(i + lag)];
      }
      if (v > best_v) best_v = v, best = lag;
    }
    // Within a sample at webrtc's own rates; off those its resampler's delay is fractional and
    // not quite the same for speech as for the white noise it is measured with: 0.05 ms.
    EXPECT_NEAR(double(best), double(ns.latency_frames()), std::max(1.0, sr / 20000.0))
        << sr << " Hz";
  }
}

// A voiced, band-limited signal (5 harmonics of a 150 Hz tone with vibrato, under low-passed
// noise at 10 dB SNR) so that a step stands out in the second difference. Suppression is
// switched on, between levels and off every few blocks; the joins where that happens must be no
// rougher than the other joins, and a hard switch at one join (the control) must be much rougher.
TEST(NoiseSuppressor, SwitchingLevelsMakesNoClick) {
  const int sr = 48000;
  const int64_t block = sr / 100 * 4, n = sr * 12;
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  double phase = 0.0, lp1 = 0.0, lp2 = 0.0;
  std::vector<float> noise(x.size());
  for (int64_t i = 0; i < n; ++i) {
    phase += 2 * M_PI * 150.0 * (1.0 + 0.05 * std::sin(2 * M_PI * 5.0 * i / sr)) / sr;
    // 0.8 s voiced, 0.4 s pause, 20 ms fades: webrtc would learn an endless tone as noise.
    const int64_t u = i % (sr * 6 / 5), on = sr * 4 / 5, edge = sr / 50;
    const double env = u < on ? std::min({1.0, double(u) / edge, double(on - u) / edge}) : 0.0;
    double v = 0.0;
    for (int h = 1; h <= 5; ++h) v += std::sin(h * phase) / h;
    x[size_t(i)] = static_cast<float>(env * 0.3 * v / 2.3);
    lp1 += 0.08 * (nd(rng) - lp1);  // two one-pole low-passes (~600 Hz)
    lp2 += 0.08 * (lp1 - lp2);
    noise[size_t(i)] = static_cast<float>(lp2);
  }
  const double snr = energy(x, 0, n) / energy(noise, 0, n);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] += noise[size_t(i)] * float(std::sqrt(snr / 10.0));

  const NoiseLevel seq[] = {NoiseLevel::kHigh, NoiseLevel::kLow,      NoiseLevel::kVeryHigh,
                            NoiseLevel::kOff,  NoiseLevel::kModerate, NoiseLevel::kOff};
  std::vector<int64_t> switch_blocks;
  std::vector<bool> on;  // per block: suppression on
  NoiseSuppressor ns(sr, block);
  int64_t next = 25;  // switch every 9-16 blocks, so switches land at every phase of the tone
  std::mt19937 when(8);
  const std::vector<float> y = run(ns, x, block, [&](int64_t k) {
    if (k == next) {
      ns.set_level(seq[switch_blocks.size() % 6]);
      switch_blocks.push_back(k);
      next += 9 + static_cast<int64_t>(when() % 8);
    }
    on.push_back(ns.level() != NoiseLevel::kOff);
  });
  // Per join (block boundary): the worst roughness within +-1 sample; -1 when too quiet.
  auto join_max = [&](const std::vector<float>& v, int64_t j) {
    double m = -1;
    for (int64_t t = j - 1; t <= j + 1; ++t) m = std::max(m, test::roughness(v, t, sr));
    return m;
  };
  auto is_switch = [&](int64_t j) {  // the fades start and end at the joins of a switch block
    for (int64_t k : switch_blocks) {
      if (j == k * block || j == (k + 1) * block) return true;
    }
    return false;
  };
  // Switch joins against all ordinary joins, on and off.
  std::vector<double> others, switches;
  std::vector<int64_t> other_joins;
  for (int64_t j = 2 * block; j + block < n; j += block) {
    const double r = join_max(y, j);
    if (r < 0) continue;
    if (is_switch(j)) {
      switches.push_back(r);
    } else {
      others.push_back(r);
      if (on[size_t(j / block) - 1] && on[size_t(j / block)]) other_joins.push_back(j);
    }
  }
  ASSERT_GT(others.size(), 50u);
  ASSERT_GT(switches.size(), 20u);
  std::sort(others.begin(), others.end());
  std::sort(switches.begin(), switches.end());
  const double p90 = others[others.size() * 9 / 10], median = others[others.size() / 2];
  const double worst = switches.back(), switch_median = switches[switches.size() / 2];
  // Control: the same output spliced hard from the off path (the delayed input) at an ordinary
  // join while suppression is on.
  std::vector<float> spliced = y;
  const int64_t cut = other_joins[other_joins.size() / 2], lat = ns.latency_frames();
  for (int64_t i = cut; i < cut + block; ++i) spliced[size_t(i)] = x[size_t(i - lat)];
  const double control = std::max(join_max(spliced, cut), join_max(spliced, cut + block));
  std::printf(
      "roughness at joins: switch joins (%zu) median %.3f worst %.3f; other joins "
      "(%zu) median %.3f p90 %.3f max %.3f; hard splice %.3f\n",
      switches.size(), switch_median, worst, others.size(), median, p90, others.back(), control);
  // Switch joins are like the others (a click at every switch would move their median; one at
  // some, their worst), and one hard switch is rougher than any of them could be and pass.
  EXPECT_LE(switch_median, 1.25 * median) << "switching clicks";
  EXPECT_LE(worst, 1.5 * others.back()) << "switching clicks";
  EXPECT_GT(control, 3.0 * others.back()) << "the measure cannot see a hard switch";
}

TEST(NoiseSuppressor, ProcessNeverAllocates) {
  test::AllocCounter count;
  const int sr = 44100;
  const int64_t block = sr / 100 * 2;
  const NoisySpeech s = noisy_speech(sr, 2);
  NoiseSuppressor ns(sr, block, NoiseLevel::kHigh);
  const NoiseLevel seq[] = {NoiseLevel::kLow,      NoiseLevel::kOff, NoiseLevel::kVeryHigh,
                            NoiseLevel::kModerate, NoiseLevel::kOff, NoiseLevel::kHigh};
  std::vector<float> buf(static_cast<size_t>(block));
  int64_t allocs = 0;
  for (int64_t k = 0; (k + 1) * block <= static_cast<int64_t>(s.noisy.size()); ++k) {
    std::copy(s.noisy.begin() + k * block, s.noisy.begin() + (k + 1) * block, buf.begin());
    count.start();
    if (k % 30 == 29) ns.set_level(seq[(k / 30) % 6]);
    ns.process(buf.data(), block);
    count.stop();
    allocs += count.outside_dnnl();
  }
  EXPECT_EQ(allocs, 0) << count.callers();
  count.start();  // the counter works
  auto* v = new std::vector<float>(8);
  count.stop();
  delete v;
  EXPECT_GE(count.outside_dnnl(), 1);
}

// reset() returns to the constructed state: the same input gives the same output again.
TEST(NoiseSuppressor, ResetRestartsFromSilence) {
  const NoisySpeech s = noisy_speech(16000, 1);
  const int64_t block = 1600;
  NoiseSuppressor ns(16000, block, NoiseLevel::kModerate);
  const std::vector<float> a = run(ns, s.noisy, block);
  ns.reset();
  const std::vector<float> b = run(ns, s.noisy, block);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace rvc::dsp
