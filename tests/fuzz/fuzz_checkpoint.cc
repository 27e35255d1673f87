// Fuzzes the whole checkpoint path: zip -> pickle -> tensors -> float32 -> typed views.
#include <cstddef>
#include <cstdint>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rvc::formats;
  try {
    Checkpoint ck = load_checkpoint_from(memory_source(data, size, "fuzz.pth"));
    (void)ck.root()->repr(300);
    if (ck.root()->is_dict()) (void)state_dict_to_tensors(ck.root());
    const DetectedKind k = detect_kind(ck);
    if (k.kind == ModelKind::kRvcVoice) (void)read_voice_model(ck);
    if (k.kind == ModelKind::kHubert) (void)read_hubert(ck);
    if (k.kind == ModelKind::kRmvpe) (void)read_rmvpe(ck);
  } catch (const rvc::Error&) {
  }
  return 0;
}
