// libFuzzer target for manifest parsing. Whatever the bytes, parse_manifests must return a value
// or an error naming the document, never crash; every object it accepts must survive
// object_to_json -> text -> parse_object unchanged, and the validators must not crash on it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ipam/manifest.h"
#include "ipam/validation.h"

namespace {

using namespace ipfence::ipam;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "manifest_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void validate(Object object) {
  std::visit(
      [](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, SpiderIPPool>) {
          (void)validate_pool(o);
        } else if constexpr (std::is_same_v<T, SpiderReservedIP>) {
          (void)validate_reserved(o);
        } else {
          (void)validate_multus(o);
        }
      },
      object);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto objects = parse_manifests(text);
  if (!objects.ok()) {
    if (objects.error().message.rfind("document ", 0) != 0) {
      fail("error does not name its document", objects.error().message);
    }
    return 0;
  }
  for (const Object& object : *objects) {
    const std::string dumped = object_to_json(object).dump();
    auto again = parse_object(nlohmann::json::parse(dumped), 0);
    if (!again.ok()) fail("re-parse failed", dumped + "\n" + again.error().message);
    if (!(*again == object)) {
      fail("re-parse differs", dumped + "\n" + object_to_json(*again).dump());
    }
    validate(object);
  }
  return 0;
}
