// The allocation-free forms the real-time stream uses give the same numbers as the allocating
// ones: BlockResampler == StreamResampler fed one block and drained (bit for bit, every phase),
// with a unit pass band and set_rates() round trips; YinTracker == estimate_f0; the scratch
// blend_with_index == the allocating blend (IVF with nprobe > 1 and flat indexes, in place).
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "rvc/dsp/f0.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/faiss_index.h"

namespace rvc {
namespace {

std::vector<float> noise(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.3f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// StreamResampler from silence, one block, then zeros to drain: the one-shot block conversion.
std::vector<float> stream_once(const std::vector<float>& x, int from, int to, int64_t n_out) {
  const auto n = static_cast<int64_t>(x.size());
  dsp::StreamResampler r(from, to, static_cast<int>(n));
  std::vector<float> in = x;
  in.resize(static_cast<size_t>(n + r.delay_frames() + 8), 0.0f);
  std::vector<float> out(static_cast<size_t>(r.max_output(int64_t(in.size())) + 8));
  const int64_t got = r.process(in.data(), int64_t(in.size()), out.data(), int64_t(out.size()));
  out.resize(static_cast<size_t>(std::min(got, n_out)));
  return out;
}

TEST(BlockResampler, EqualsAStreamResamplerRunOverOneBlock) {
  const std::vector<float> x = noise(3001, 1);
  dsp::BlockResampler r(40000, 48000, 3001);
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{
           {40000, 48000}, {48000, 16000}, {32000, 44100}, {420, 400}, {360, 400}, {400, 400}}) {
    SCOPED_TRACE(std::to_string(from) + " -> " + std::to_string(to));
    r.set_rates(from, to);
    const int64_t n_out = r.output_frames(3001);
    EXPECT_EQ(n_out, std::llround(3001.0 * to / from));
    std::vector<float> y(static_cast<size_t>(n_out));
    ASSERT_EQ(r.process(x.data(), 3001, y.data(), n_out), n_out);
    if (from == to) {
      EXPECT_EQ(y, x);
      continue;
    }
    const std::vector<float> ref = stream_once(x, from, to, n_out);
    ASSERT_EQ(ref.size(), y.size());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], ref[i]) << "output " << i;
  }
}

TEST(BlockResampler, PassesASineAtUnitGainAndSwitchesRatesBack) {
  const int from = 40000, to = 48000;
  std::vector<float> x(8000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 * std::sin(2 * M_PI * 1000.0 * i / from));
  dsp::BlockResampler r(from, to, 8000);
  r.reserve(380, 400);
  std::vector<float> a(static_cast<size_t>(r.output_frames(8000))), b(a.size());
  r.process(x.data(), 8000, a.data(), int64_t(a.size()));
  r.set_rates(380, 400);  // another table, then back
  r.set_rates(from, to);
  r.process(x.data(), 8000, b.data(), int64_t(b.size()));
  EXPECT_EQ(a, b);
  double err = 0.0;  // away from the block edges, the sine at the output rate
  for (size_t j = 500; j + 500 < a.size(); ++j) {
    err = std::max(err, std::fabs(a[j] - 0.5 * std::sin(2 * M_PI * 1000.0 * double(j) / to)));
  }
  EXPECT_LT(err, 1e-3);
}

TEST(YinTracker, EqualsEstimateF0) {
  std::vector<float> x(16000);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 0.01f);
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = i < 8000 ? 180.0 : 240.0;
    x[i] = float((i % 5000 < 4000 ? 0.4 : 0.0) * std::sin(2 * M_PI * f * i / 16000.0)) + d(rng);
  }
  dsp::F0Config cfg;
  dsp::YinTracker t(cfg, 16000);
  for (const int64_t n : {int64_t{16000}, int64_t{5921}, int64_t{0}}) {
    const std::vector<float> ref = dsp::estimate_f0(x.data(), n, cfg);
    std::vector<float> f0(static_cast<size_t>(t.frames(n)), -1.0f);
    t.track(x.data(), n, f0.data());
    EXPECT_EQ(f0, ref) << n << " samples";
  }
  std::vector<float> f0(200);
  EXPECT_THROW(t.track(x.data(), 16001, f0.data()), std::exception);
}

std::vector<uint8_t> serialise(const faiss::Index& index) {
  faiss::VectorIOWriter w;
  faiss::write_index(&index, &w);
  return w.data;
}

TEST(IndexBlendScratch, EqualsTheAllocatingBlend) {
  const int dim = 24, n_rows = 300;
  const std::vector<float> rows = noise(int64_t(dim) * n_rows, 4);
  faiss::IndexFlatL2 quantizer(dim);
  faiss::IndexIVFFlat ivf(&quantizer, dim, 8);
  ivf.train(n_rows, rows.data());
  ivf.add(n_rows, rows.data());
  ivf.nprobe = 3;
  faiss::IndexFlatL2 flat(dim);
  flat.add(n_rows, rows.data());
  for (const auto& bytes : {serialise(ivf), serialise(flat)}) {
    const auto index = formats::FeatureIndex::load_from_memory(bytes.data(), bytes.size());
    SCOPED_TRACE(index.describe());
    const Tensor big = index.reconstruct_all();
    const int64_t n = 150;  // more than one 64-query block
    const std::vector<float> q = noise(n * dim, 5);
    const Tensor feats({n, dim}, q.data());
    for (const int k : {1, 8}) {
      const auto ref = formats::blend_with_index(index, big, feats, 0.6f, k);
      auto ws = index.make_blend_workspace(n, k);
      std::vector<float> out(q.size()), in_place = q;
      formats::blend_with_index(index, big, q.data(), n, 0.6f, ws, out.data());
      formats::blend_with_index(index, big, in_place.data(), n, 0.6f, ws, in_place.data());
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_EQ(out[i], ref.blended[int64_t(i)]) << "k " << k << " value " << i;
        ASSERT_EQ(in_place[i], out[i]);
      }
      EXPECT_THROW(formats::blend_with_index(index, big, q.data(), n + 1, 0.6f, ws, out.data()),
                   std::exception);
    }
  }
}

}  // namespace
}  // namespace rvc
