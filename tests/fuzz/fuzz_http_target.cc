// Fuzzes the HTTP request-target helpers: decoding, bearer parsing, the model REST route and the
// static-file mapping, which must never produce a path with a ".." or hidden component.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rvc/server/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rvc::server;
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  (void)bearer_token(s);
  (void)match_model_route(s);
  const auto t = parse_target(s);
  if (!t) return 0;
  (void)match_model_route(t->path);
  const auto p = static_file_path("/root", t->path);
  if (p) {
    auto it = p->begin();
    if (it == p->end() || *it != "/") std::abort();
    ++it;
    if (it == p->end() || *it != "root") std::abort();
    for (++it; it != p->end(); ++it) {
      const std::string c = it->string();
      if (c.empty() || c[0] == '.' || c.find('\\') != std::string::npos) std::abort();
    }
  }
  return 0;
}
