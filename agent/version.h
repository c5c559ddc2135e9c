// The agent's version as /v1/status, the start-up log line and --version show it.
#pragma once

#include <string>

namespace ipfence::agent {

// "0.1.0 (abc123)": IPFENCE_VERSION and IPFENCE_GIT are set by the top-level CMakeLists.
inline std::string version_string() {
  return std::string(IPFENCE_VERSION) + " (" + IPFENCE_GIT + ")";
}

}  // namespace ipfence::agent
