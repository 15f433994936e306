// One libFuzzer binary per target: FUZZ_ENTRY names the target's function.
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return starttls::fuzz::FUZZ_ENTRY(data, size);
}
