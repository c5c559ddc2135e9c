// UTF-8 validation shared by the manifest parser (YAML scalars must be text) and the file
// store (values that are not valid UTF-8 are stored as base64).
#pragma once

#include <string_view>

namespace ipfence {

// As strict as nlohmann::json's dump(), which throws on anything else: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

}  // namespace ipfence
