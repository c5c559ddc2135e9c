// `-o json` and `-o yaml` as kubectl prints them: JSON indented by 4, YAML with keys sorted
// and strings quoted exactly when a YAML reader would otherwise take them for something else
// ("true", "4", "2026-11-26T09:44:17Z" stay strings).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipfence::ctl {

enum class OutputFormat { table, wide, json, yaml, name };

// "" = table; "wide", "json", "yaml", "name". Nothing for anything else.
std::optional<OutputFormat> parse_output_format(std::string_view text);

// kubectl's list wrapper: {"apiVersion":"v1","kind":"List","items":[..],
// "metadata":{"resourceVersion":""}}.
nlohmann::json list_of(std::vector<nlohmann::json> items);

// Indented by 4 spaces, with a final newline.
std::string json_text(const nlohmann::json& value);

// Block-style YAML 1.2 of a JSON value, with a final newline. Multi-line strings become
// literal blocks where that reads back the same; strings that would read back as another type
// (bool, null, number, timestamp) are double quoted; other strings that cannot be plain are single
// quoted.
std::string yaml_text(const nlohmann::json& value);

}  // namespace ipfence::ctl
