// Strict parsing of user manifests (kubectl's shape, multi-document YAML or JSON) into typed
// objects. Every error names the document index (0-based, as kubectl), the field path and the
// offending value, so a person can find and fix it:
//   document 1 (SpiderIPPool test-ippool): spec.ips[0]: expected a string, got 5
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::ipam {

using Object = std::variant<SpiderIPPool, SpiderReservedIP, SpiderMultusConfig>;

Kind object_kind(const Object& object);
const ObjectMeta& object_meta(const Object& object);
ObjectMeta& object_meta(Object& object);
nlohmann::json object_to_json(const Object& object);

// Parses every document in `text` (YAML 1.2 with "---" separators, or JSON; a "List" kind
// with "items" is expanded). Empty documents are skipped. Nothing is returned unless every
// document parses: the caller never half-applies.
Result<std::vector<Object>> parse_manifests(std::string_view text);

// One document already decoded to JSON. Checks apiVersion, kind, unknown fields (at any
// depth of the typed parts), types, and metadata.name as a DNS-1123 subdomain.
// `index` is used in messages only.
Result<Object> parse_object(const nlohmann::json& document, int index);

// Validates a Kubernetes object name (DNS-1123 subdomain: lowercase alphanumerics, '-' and
// '.', starting and ending alphanumeric, at most 253 characters). Returns the reason if bad.
std::optional<std::string> dns1123_subdomain_problem(std::string_view name);

}  // namespace ipfence::ipam
