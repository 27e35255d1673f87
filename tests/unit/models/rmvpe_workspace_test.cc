// Rmvpe::infer_f0 with a reusable RmvpeWorkspace: same f0 as the allocating API, no heap
// allocation by rvc code on a repeated call (same or a prepared shorter length), a pool that
// stops growing, clear errors for inputs the workspace was not made for; and the opt-in bf16
// precision staying close to float32.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/models/rmvpe.h"
#include "rvc/nn/backend.h"
#include "support/alloc_counter.h"
#include "support/random_weights.h"

namespace rvc::models {
namespace {

struct Gen : test::RandomWeights {
  Gen() : RandomWeights(42) {}
  void block(const std::string& p, int64_t cin, int64_t cout) {
    add(p + ".conv.0.weight", {cout, cin, 3, 3}, 0.3f);
    batch_norm(p + ".conv.1", cout);
    add(p + ".conv.3.weight", {cout, cout, 3, 3}, 0.3f);
    batch_norm(p + ".conv.4", cout);
    if (cin != cout) {
      add(p + ".shortcut.weight", {cout, cin, 1, 1}, 0.3f);
      add(p + ".shortcut.bias", {cout}, 0.1f);
    }
  }
};

formats::RmvpeInfo make_info(int64_t n_blocks, int64_t layers, int64_t inter, int64_t en_out,
                             int64_t n_gru, int64_t hidden, int64_t classes) {
  Gen g;
  g.batch_norm("unet.encoder.bn", 1);
  int64_t cin = 1, cout = en_out;
  for (int64_t i = 0; i < layers; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.encoder.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              j == 0 ? cin : cout, cout);
    }
    cin = cout;
    cout *= 2;
  }
  for (int64_t i = 0; i < inter; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.intermediate.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              (i == 0 && j == 0) ? cout / 2 : cout, cout);
    }
  }
  int64_t ch = cout;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "unet.decoder.layers." + std::to_string(i);
    g.add(p + ".conv1.0.weight", {ch, ch / 2, 3, 3}, 0.3f);
    g.batch_norm(p + ".conv1.1", ch / 2);
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block(p + ".conv2." + std::to_string(j), j == 0 ? ch : ch / 2, ch / 2);
    }
    ch /= 2;
  }
  g.add("cnn.weight", {3, en_out, 3, 3}, 0.3f);
  g.add("cnn.bias", {3}, 0.1f);
  for (int64_t l = 0; l < n_gru; ++l) {
    for (const char* s : {"", "_reverse"}) {
      const std::string k = std::to_string(l) + s;
      g.add("fc.0.gru.weight_ih_l" + k, {3 * hidden, l == 0 ? 3 * 128 : 2 * hidden}, 0.1f);
      g.add("fc.0.gru.weight_hh_l" + k, {3 * hidden, hidden}, 0.1f);
      g.add("fc.0.gru.bias_ih_l" + k, {3 * hidden}, 0.1f);
      g.add("fc.0.gru.bias_hh_l" + k, {3 * hidden}, 0.1f);
    }
  }
  g.add("fc.1.weight", {classes, 2 * hidden}, 0.3f);
  g.add("fc.1.bias", {classes}, 0.1f);
  formats::RmvpeInfo info;
  info.n_blocks = n_blocks;
  info.en_de_layers = layers;
  info.inter_layers = inter;
  info.en_out_channels = en_out;
  info.in_channels = 1;
  info.n_gru = n_gru;
  info.n_mels = 128;
  info.n_classes = classes;
  info.weights = std::move(g.map);
  return info;
}

std::vector<float> voice(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[static_cast<size_t>(i)] =
        0.3f * static_cast<float>(std::sin(2.0 * M_PI * 180.0 * i / 16000.0)) + d(rng);
  }
  return x;
}

formats::RmvpeInfo small() { return make_info(1, 2, 1, 2, 1, 8, 360); }

TEST(RmvpeWorkspace, MatchesTheAllocatingApi) {
  const Rmvpe m(small());
  const int64_t n = 8000;
  const auto audio = voice(n, 1);
  RmvpeWorkspace ws = m.make_workspace(n);
  const std::vector<double> want = m.infer_f0(audio.data(), n, 0.01f);
  std::vector<double> got(static_cast<size_t>(m.frames(n)), -1.0);
  ASSERT_EQ(got.size(), want.size());
  m.infer_f0(audio.data(), n, ws, got.data(), 0.01f);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "frame " << i;
}

TEST(RmvpeWorkspace, RepeatedCallsDoNotAllocate) {
  const Rmvpe m(small());
  const int64_t n = 9600, shorter = 4000;
  const auto audio = voice(n, 2);
  std::vector<double> f0(static_cast<size_t>(m.frames(n)));
  test::AllocCounter count;
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    nn::set_num_threads(threads);
    RmvpeWorkspace ws = m.make_workspace(n);
    m.prepare(ws, n);
    m.prepare(ws, shorter);
    const size_t pooled = ws.pooled_bytes();
    EXPECT_GT(pooled, 0u);
    for (int64_t len : {n, shorter, n}) {
      count.start();
      m.infer_f0(audio.data(), len, ws, f0.data());
      count.stop();
      EXPECT_EQ(count.outside_dnnl(), 0) << "length " << len << ": " << count.callers();
      EXPECT_EQ(ws.pooled_bytes(), pooled) << "length " << len;
    }
  }
  nn::set_num_threads(2);
}

TEST(RmvpeWorkspace, RefusesInputsItWasNotMadeFor) {
  const Rmvpe m(small());
  const auto audio = voice(4000, 3);
  std::vector<double> f0(static_cast<size_t>(m.frames(4000)));
  RmvpeWorkspace ws = m.make_workspace(2000);
  EXPECT_THROW(m.infer_f0(audio.data(), 4000, ws, f0.data()), Error);
  EXPECT_THROW(m.infer_f0(audio.data(), 300, ws, f0.data()), Error);
  EXPECT_THROW(m.prepare(ws, 4000), Error);
  RmvpeWorkspace empty;
  EXPECT_THROW(m.infer_f0(audio.data(), 2000, empty, f0.data()), Error);
  EXPECT_THROW(m.make_workspace(100), Error);
}

// bf16 rounds weights and inputs of every conv / projection to 8 bits of mantissa: the salience
// must stay within a few per cent (relative L2) of float32, and voiced frames keep their pitch.
TEST(RmvpeBf16, StaysCloseToFloat32) {
  if (!nn::bf16_supported()) GTEST_SKIP() << "this CPU has no native bf16 (AVX512-BF16)";
  const auto info = small();
  formats::RmvpeInfo copy = info;
  const Rmvpe f32(std::move(copy));
  nn::set_default_precision(nn::Precision::kBf16);
  copy = info;
  const Rmvpe bf16(std::move(copy));
  nn::set_default_precision(nn::Precision::kF32);
  const int64_t n = 16000;
  const auto audio = voice(n, 4);
  const Tensor mel = f32.mel(audio.data(), n);
  const Tensor a = f32.salience(mel), b = bf16.salience(mel);
  ASSERT_EQ(a.shape(), b.shape());
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(a[i]) * a[i];
  }
  EXPECT_LT(std::sqrt(num / den), 3e-2);
  EXPECT_GT(std::sqrt(num / den), 0.0) << "bf16 path not taken";
}

}  // namespace
}  // namespace rvc::models
