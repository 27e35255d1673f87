#include "support/golden.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

namespace rvc::test {

Tolerance tolerance_of(const nlohmann::json& manifest, const std::string& name,
                       Tolerance fallback) {
  if (!manifest.contains("tolerances") || !manifest["tolerances"].contains(name)) return fallback;
  const auto& j = manifest["tolerances"][name];
  return {j.value("atol", 0.0), j.value("rtol", 0.0)};
}

formats::NpyArray load_array(const Case& c, const std::string& section, const std::string& key) {
  return formats::read_npy(c.file(c.manifest.at(section).at(key).at("file")).string());
}

Tensor load_tensor(const Case& c, const std::string& section, const std::string& key) {
  return load_array(c, section, key).to_tensor();
}

std::vector<double> as_doubles(const formats::NpyArray& a) {
  std::vector<double> r;
  if (a.dtype.find('f') != std::string::npos) {
    const Tensor t = a.to_tensor();
    r.assign(t.data(), t.data() + t.numel());
  } else {
    const std::vector<int64_t> v = a.to_int64();
    r.assign(v.begin(), v.end());
  }
  return r;
}

namespace {

template <typename T>
::testing::AssertionResult close_impl(const std::string& what, const T* got, const T* want,
                                      int64_t n, Tolerance tol) {
  int64_t bad = 0, worst_i = -1;
  double max_diff = 0.0, worst_excess = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    const double d = std::abs(g - w);
    if (d > max_diff || std::isnan(d)) max_diff = d;
    const double lim = tol.atol + tol.rtol * std::abs(w);
    if (!(d <= lim)) {
      ++bad;
      if (worst_i < 0 || !(d - lim <= worst_excess)) {
        worst_excess = d - lim;
        worst_i = i;
      }
    }
  }
  std::cout << "  " << what << ": " << n << " values, max |diff| " << max_diff << " (atol "
            << tol.atol << ", rtol " << tol.rtol << ")\n";
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << n << " values outside atol=" << tol.atol
         << " rtol=" << tol.rtol << "; max |diff| " << max_diff << "; worst at " << worst_i
         << ": got " << static_cast<double>(got[worst_i]) << " want "
         << static_cast<double>(want[worst_i]);
}

}  // namespace

::testing::AssertionResult all_close(const std::string& what, const double* got, const double* want,
                                     int64_t n, Tolerance tol) {
  return close_impl(what, got, want, n, tol);
}

::testing::AssertionResult all_close(const std::string& what, const float* got, const float* want,
                                     int64_t n, Tolerance tol) {
  return close_impl(what, got, want, n, tol);
}

::testing::AssertionResult all_close(const std::string& what, const Tensor& got, const Tensor& want,
                                     Tolerance tol) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(got.shape())
                                         << ", expected " << shape_str(want.shape());
  }
  return close_impl(what, got.data(), want.data(), want.numel(), tol);
}

::testing::AssertionResult f0_close(const std::string& what, const std::vector<double>& got,
                                    const Tensor& want, const Tensor& salience, float threshold,
                                    Tolerance tol) {
  const int64_t frames = want.numel();
  if (static_cast<int64_t>(got.size()) != frames || salience.ndim() != 2 ||
      salience.dim(0) != frames) {
    return ::testing::AssertionFailure()
           << what << ": " << got.size() << " frames, expected " << frames << " (salience "
           << shape_str(salience.shape()) << ")";
  }
  const int64_t bins = salience.dim(1);
  std::vector<double> g, w;
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = salience.data() + t * bins;
    float peak = row[0];
    for (int64_t b = 1; b < bins; ++b) peak = std::max(peak, row[b]);
    if (std::abs(peak - threshold) < 1e-4f) continue;
    g.push_back(got[static_cast<size_t>(t)]);
    w.push_back(want[t]);
  }
  return close_impl(what, g.data(), w.data(), static_cast<int64_t>(w.size()), tol);
}

}  // namespace rvc::test
