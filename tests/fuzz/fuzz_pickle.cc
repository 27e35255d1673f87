// Fuzzes the pickle VM (no hooks) and the value walkers.
#include <cstddef>
#include <cstdint>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rvc::formats::PyArena arena;
    rvc::formats::PyRef r = rvc::formats::unpickle(data, size, arena);
    (void)r->repr(300);
    if (r->is_dict()) {
      (void)r->find("weight");
      (void)rvc::formats::count_tensors(r);
    }
  } catch (const rvc::Error&) {
  }
  return 0;
}
