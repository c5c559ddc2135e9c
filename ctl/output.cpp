#include "ctl/output.h"

#include <yaml-cpp/yaml.h>

#include <regex>

namespace ipfence::ctl {

namespace {

// Plain scalars that a YAML 1.1 or 1.2 reader resolves to something other than a string.
// kubectl's YAML library (go-yaml) quotes these, and so must we, or `-o yaml | kubectl apply`
// would turn a string "true" into a bool. IP addresses and ranges are not numbers: a float
// has at most one '.'.
bool resolves_to_non_string(const std::string& text) {
  static const std::regex kNonString(
      "|~|null|Null|NULL"
      "|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
      "|[-+]?[0-9][0-9_]*"                                   // decimal (1.1 allows _)
      "|[-+]?0b[01_]+|[-+]?0o?[0-7_]+|[-+]?0x[0-9a-fA-F_]+"  // binary, octal, hex
      "|[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?"    // float with a point
      "|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"                    // float with an exponent
      "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?"       // sexagesimal (1.1)
      "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
      "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");  // timestamp
  return std::regex_match(text, kNonString);
}

bool is_printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\n') return false;
    if (c == 0x7F) return false;
  }
  return true;
}

// Whether yaml-cpp would write `text` as a plain scalar; it double-quotes when it cannot.
bool can_be_plain(const std::string& text) {
  YAML::Emitter probe;
  probe << text;
  return probe.size() > 0 && probe.c_str()[0] != '"' && probe.c_str()[0] != '\'';
}

void emit_string(YAML::Emitter& out, const std::string& text) {
  if (!is_printable(text)) {
    out << YAML::DoubleQuoted << text;
  } else if (text.find('\n') != std::string::npos) {
    // yaml-cpp writes literal blocks without a chomping indicator or an indentation
    // indicator, so only a text that ends in exactly one line break and starts with neither
    // a space nor a line break reads back the same; others are double quoted.
    const bool literal_safe = text.front() != ' ' && text.front() != '\n' && text.back() == '\n' &&
                              (text.size() < 2 || text[text.size() - 2] != '\n');
    if (literal_safe) {
      out << YAML::Literal << text;
    } else {
      out << YAML::DoubleQuoted << text;
    }
  } else if (resolves_to_non_string(text)) {
    out << YAML::DoubleQuoted << text;
  } else if (can_be_plain(text)) {
    out << text;
  } else {
    out << YAML::SingleQuoted << text;
  }
}

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        emit_string(out, key);
        out << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      return;
    case nlohmann::json::value_t::array:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      return;
    case nlohmann::json::value_t::string:
      emit_string(out, value.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      return;
    default:
      // Numbers and booleans: JSON's text is valid plain YAML with the same meaning.
      out << value.dump();
      return;
  }
}

}  // namespace

std::optional<OutputFormat> parse_output_format(std::string_view text) {
  if (text.empty()) return OutputFormat::table;
  if (text == "wide") return OutputFormat::wide;
  if (text == "json") return OutputFormat::json;
  if (text == "yaml") return OutputFormat::yaml;
  if (text == "name") return OutputFormat::name;
  return std::nullopt;
}

nlohmann::json list_of(std::vector<nlohmann::json> items) {
  return nlohmann::json{{"apiVersion", "v1"},
                        {"kind", "List"},
                        {"items", nlohmann::json(std::move(items))},
                        {"metadata", {{"resourceVersion", ""}}}};
}

std::string json_text(const nlohmann::json& value) {
  // Replace rather than throw on invalid UTF-8: output must never abort a command.
  return value.dump(4, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string yaml_text(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace ipfence::ctl
