// spdlog set-up for the agent: plain text for people, or one JSON object per line for log
// collectors (--log-json). Messages are escaped, so a newline in an error cannot split an
// object.
#pragma once

#include <string>
#include <string_view>

namespace ipfence::agent {

// `level` is one of trace..off (checked by finalize_config). Sets the default logger.
void setup_logging(const std::string& level, bool json);

// `text` as the inside of a JSON string (no quotes), for patterns that build JSON.
std::string json_escape(std::string_view text);

}  // namespace ipfence::agent
