#include "agent/datapath_api.h"

#include <spdlog/spdlog.h>

#include "agent/api_codec.h"

namespace ipfence::agent {

void add_guard_routes(HttpRouter& router, const DatapathService* service) {
  router.add("GET", "/v1/guards", [service](const HttpRequest&) {
    if (service == nullptr)
      return json_response(200, {{"enabled", false},
                                 {"guards", nlohmann::json::array()},
                                 {"leases", 0},
                                 {"reservedPrefixes", 0},
                                 {"poolPrefixes", 0}});
    auto guards = service->guards_json();
    if (!guards) {
      spdlog::warn("guards: {}", guards.error().message);
      return error_response(guards.error().wrap("read the guard"));
    }
    return json_response(200, *guards);
  });
}

}  // namespace ipfence::agent
