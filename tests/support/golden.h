// tests/support/golden.h: comparing outputs with a fixture case's expected arrays.
//
// One definition of "close" for every golden test: numpy.allclose semantics,
// |got - want| <= atol + rtol * |want| element-wise, NaN never close. Tolerances come from the
// case manifest's `tolerances` section; an output without an entry uses the caller's fallback
// (the fixtures README suggests 1e-4 abs/rel for features).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rvc/core/tensor.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"

namespace rvc::test {

struct Tolerance {
  double atol = 1e-4;
  double rtol = 1e-4;
};

// manifest["tolerances"][name] (missing atol/rtol count as 0), else `fallback`.
Tolerance tolerance_of(const nlohmann::json& manifest, const std::string& name,
                       Tolerance fallback = {});

// The array a manifest section names: c.manifest[section][key]["file"].
formats::NpyArray load_array(const Case& c, const std::string& section, const std::string& key);
// Same, converted to float32.
Tensor load_tensor(const Case& c, const std::string& section, const std::string& key);
// Any numeric npy array as doubles (int64 values exactly up to 2^53).
std::vector<double> as_doubles(const formats::NpyArray& a);

// allclose over n elements; on failure the message names `what`, how many elements are off, the
// max |diff| and the worst element. Also prints the max |diff| so runs show the margin.
::testing::AssertionResult all_close(const std::string& what, const double* got, const double* want,
                                     int64_t n, Tolerance tol);
::testing::AssertionResult all_close(const std::string& what, const float* got, const float* want,
                                     int64_t n, Tolerance tol);
// Shapes must match too.
::testing::AssertionResult all_close(const std::string& what, const Tensor& got, const Tensor& want,
                                     Tolerance tol);

// RMVPE-style F0 in Hz against the expected curve. Frames whose max salience lies within 1e-4 of
// the voicing threshold are skipped: they may flip voiced/unvoiced (fixtures README).
// salience: [frames][bins] as the expected output gives it.
::testing::AssertionResult f0_close(const std::string& what, const std::vector<double>& got,
                                    const Tensor& want, const Tensor& salience, float threshold,
                                    Tolerance tol);

}  // namespace rvc::test
