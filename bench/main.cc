// rvc_bench's main: the same process set-up as rvc-rt (huge pages through glibc, see
// rvc/core/hugepages.h; RVC_HUGEPAGES=0 measures without), then Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "rvc/core/hugepages.h"

int main(int argc, char** argv) {
  rvc::use_huge_pages(argv);
  std::fprintf(stderr, "%s\n", rvc::huge_pages_status().c_str());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
