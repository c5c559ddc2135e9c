// Typed access to the user-facing objects in a store, with every rule that needs more than
// one object: pools never overlap, subnet and ipVersion are immutable, an allocated IP cannot
// be removed from its pool, a pool with allocations cannot be deleted, reserving an allocated
// IP warns and names the holder. Used by ipfencectl and the agent alike.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ipam/cluster_state.h"
#include "ipam/manifest.h"
#include "ipam/store/store.h"

namespace ipfence::ipam {

enum class ApplyAction { created, configured, unchanged, deleted };
std::string_view apply_action_name(ApplyAction action);

struct ApplyResult {
  // kubectl's reference: "spiderreservedip.spiderpool.spidernet.io/test-reservedip"
  std::string reference;
  ApplyAction action = ApplyAction::unchanged;
  std::vector<std::string> warnings;
  // "spiderreservedip.spiderpool.spidernet.io/test-reservedip created"
  std::string message() const;
};

// Reference of an object as kubectl prints it.
std::string object_reference(Kind kind, const std::string& name);

class ObjectService {
 public:
  explicit ObjectService(store::Store& store) : store_(store) {}

  // Validates every object (alone, against the store, and against the others in the batch),
  // then commits them all in ONE transaction: all apply or none. Retries when another writer
  // commits in between.
  Result<std::vector<ApplyResult>> apply(std::vector<Object> objects);

  // `namespace_` is used for namespaced kinds only ("" = "default").
  Result<Object> get(Kind kind, const std::string& namespace_, const std::string& name);
  // All objects of a kind, sorted by namespace and name. `namespace_` empty = all.
  Result<std::vector<Object>> list(Kind kind, const std::string& namespace_ = "");
  Result<ApplyResult> remove(Kind kind, const std::string& namespace_, const std::string& name);
  // JSON merge patch (RFC 7386) on the stored object, then the same checks as apply.
  Result<ApplyResult> patch(Kind kind, const std::string& namespace_, const std::string& name,
                            const nlohmann::json& merge_patch);

  // The whole view, fresh from the store.
  Result<ClusterState> load_state();

  // Pool status in Spiderpool's shape plus ipfence's counts:
  // {allocatedIPs: {ip: {pod, podUid, containerID, ifname, node}}, allocatedIPCount,
  //  totalIPCount, reservedIPCount, availableIPCount, reservedInUseIPCount}
  static nlohmann::json pool_status(const ClusterState& state, const std::string& pool);

 private:
  store::Store& store_;
};

}  // namespace ipfence::ipam
