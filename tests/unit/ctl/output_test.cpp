#include "ctl/output.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace ipfence::ctl {
namespace {

TEST(OutputFormat, Parses) {
  EXPECT_EQ(parse_output_format(""), OutputFormat::table);
  EXPECT_EQ(parse_output_format("wide"), OutputFormat::wide);
  EXPECT_EQ(parse_output_format("json"), OutputFormat::json);
  EXPECT_EQ(parse_output_format("yaml"), OutputFormat::yaml);
  EXPECT_EQ(parse_output_format("name"), OutputFormat::name);
  EXPECT_FALSE(parse_output_format("xml").has_value());
}

TEST(JsonText, IndentsByFour) {
  EXPECT_EQ(json_text({{"kind", "SpiderReservedIP"}, {"spec", {{"ipVersion", 4}}}}),
            "{\n    \"kind\": \"SpiderReservedIP\",\n    \"spec\": {\n        \"ipVersion\": 4\n"
            "    }\n}\n");
}

TEST(ListOf, IsKubectlsList) {
  EXPECT_EQ(list_of({}).dump(),
            R"({"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}})");
}

TEST(YamlText, SeedReservedIp) {
  const nlohmann::json object = {
      {"apiVersion", "spiderpool.spidernet.io/v2beta1"},
      {"kind", "SpiderReservedIP"},
      {"metadata",
       {{"name", "test-reservedip"}, {"creationTimestamp", "2026-11-26T09:44:17.000Z"}}},
      {"spec", {{"ipVersion", 4}, {"ips", {"10.6.168.131-10.6.168.132"}}}}};
  EXPECT_EQ(yaml_text(object),
            "apiVersion: spiderpool.spidernet.io/v2beta1\n"
            "kind: SpiderReservedIP\n"
            "metadata:\n"
            "  creationTimestamp: \"2026-11-26T09:44:17.000Z\"\n"
            "  name: test-reservedip\n"
            "spec:\n"
            "  ipVersion: 4\n"
            "  ips:\n"
            "    - 10.6.168.131-10.6.168.132\n");
}

TEST(YamlText, QuotesStringsThatWouldChangeType) {
  const nlohmann::json object = {{"bool", "true"},      {"yes", "yes"},    {"int", "4"},
                                 {"float", "1.5"},      {"null", "null"},  {"empty", ""},
                                 {"tilde", "~"},        {"hex", "0x1F"},   {"ip", "10.6.0.1"},
                                 {"cidr", "fd00::/64"}, {"word", "bridge"}};
  EXPECT_EQ(yaml_text(object),
            "bool: \"true\"\n"
            "cidr: fd00::/64\n"
            "empty: \"\"\n"
            "float: \"1.5\"\n"
            "hex: \"0x1F\"\n"
            "int: \"4\"\n"
            "ip: 10.6.0.1\n"
            "\"null\": \"null\"\n"
            "tilde: \"~\"\n"
            "word: bridge\n"
            "\"yes\": \"yes\"\n");  // keys too: go-yaml writes "on": and "yes":
}

TEST(YamlText, KeepsTypesOfNonStrings) {
  const nlohmann::json object = {{"b", true},
                                 {"n", nullptr},
                                 {"i", -3},
                                 {"f", 2.5},
                                 {"m", nlohmann::json::object()},
                                 {"s", nlohmann::json::array()}};
  EXPECT_EQ(yaml_text(object), "b: true\nf: 2.5\ni: -3\nm: {}\n\"n\": null\ns: []\n");
}

TEST(YamlText, SingleQuotesJsonText) {
  const nlohmann::json object = {{"config", R"({"cniVersion":"1.0.0"})"}};
  EXPECT_EQ(yaml_text(object), "config: '{\"cniVersion\":\"1.0.0\"}'\n");
}

TEST(YamlText, RoundTripsThroughAYamlReader) {
  const nlohmann::json object = {{"multi", "line one\nline two"},
                                 {"block", "line one\nline two\n"},
                                 {"colon", "a: b"},
                                 {"hash", "x #y"},
                                 {"quote", "it's"},
                                 {"lead", " space"},
                                 {"date", "2026-11-26"},
                                 {"list", {"on", "off", "y"}},
                                 {"ctrl", std::string("a\tb")}};
  const YAML::Node node = YAML::Load(yaml_text(object));
  for (const auto& [key, value] : object.items()) {
    if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        EXPECT_EQ(node[key][i].as<std::string>(), value[i].get<std::string>()) << key;
        EXPECT_EQ(node[key][i].Tag(), "!") << key << " must stay a quoted string";
      }
    } else {
      EXPECT_EQ(node[key].as<std::string>(), value.get<std::string>()) << key;
    }
  }
}

}  // namespace
}  // namespace ipfence::ctl
