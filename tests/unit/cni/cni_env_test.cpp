#include "cni/cni_env.h"

#include <gtest/gtest.h>

#include <map>

namespace ipfence::cni {
namespace {

using Env = std::map<std::string, std::string, std::less<>>;

EnvLookup lookup(const Env& env) {
  return [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Env add_env() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "c1"},
          {"CNI_NETNS", "/var/run/netns/pod1"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"},
          {"CNI_ARGS",
           "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test-app-1;"
           "K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=7f0c"}};
}

void expect_env_error(const Env& env, const std::string& msg) {
  auto parsed = parse_cni_env(lookup(env));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 4);
  EXPECT_EQ(parsed.error().msg, msg);
}

TEST(CniEnv, ParsesAKubeletAdd) {
  auto parsed = parse_cni_env(lookup(add_env()));
  ASSERT_TRUE(parsed.ok()) << parsed.error().msg;
  EXPECT_EQ(parsed->verb, Verb::add);
  EXPECT_EQ(parsed->container_id, "c1");
  EXPECT_EQ(parsed->netns, "/var/run/netns/pod1");
  EXPECT_EQ(parsed->ifname, "eth0");
  EXPECT_EQ(parsed->path, "/opt/cni/bin");
  EXPECT_EQ(parsed->pod.namespace_name, "default");
  EXPECT_EQ(parsed->pod.name, "test-app-1");
  EXPECT_EQ(parsed->pod.uid, "7f0c");
  EXPECT_EQ(parsed->pod.infra_container_id, "c1");
}

TEST(CniEnv, EveryVerbName) {
  const std::pair<const char*, Verb> cases[] = {{"ADD", Verb::add},     {"DEL", Verb::del},
                                                {"CHECK", Verb::check}, {"VERSION", Verb::version},
                                                {"GC", Verb::gc},       {"STATUS", Verb::status}};
  for (const auto& [name, verb] : cases) {
    auto parsed = parse_command(lookup({{"CNI_COMMAND", name}}));
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, verb);
    EXPECT_EQ(verb_name(verb), name);
  }
}

TEST(CniEnv, MissingCommand) {
  expect_env_error({},
                   "CNI_COMMAND is not set; it must be ADD, DEL, CHECK, VERSION, GC or STATUS "
                   "(ipfence is a CNI plugin: the container runtime runs it)");
}

TEST(CniEnv, UnknownCommand) {
  expect_env_error({{"CNI_COMMAND", "add"}},
                   "CNI_COMMAND 'add' is not supported; it must be ADD, DEL, CHECK, VERSION, GC "
                   "or STATUS");
}

TEST(CniEnv, MissingContainerId) {
  for (const char* verb : {"ADD", "DEL", "CHECK"}) {
    Env env = add_env();
    env["CNI_COMMAND"] = verb;
    env.erase("CNI_CONTAINERID");
    expect_env_error(
        env, std::string("CNI_CONTAINERID is not set; ") + verb + " needs it: the container's ID");
  }
}

TEST(CniEnv, EmptyCountsAsMissing) {
  Env env = add_env();
  env["CNI_CONTAINERID"] = "";
  expect_env_error(env, "CNI_CONTAINERID is not set; ADD needs it: the container's ID");
}

TEST(CniEnv, InvalidContainerId) {
  for (const char* id : {"-abc", "_abc", ".abc", "a b", "a/b", "ab:c", "ünicode"}) {
    Env env = add_env();
    env["CNI_CONTAINERID"] = id;
    expect_env_error(env, std::string("CNI_CONTAINERID '") + id +
                              "' is invalid; it must start with a letter or digit and contain "
                              "only letters, digits, '_', '.' and '-'");
  }
}

TEST(CniEnv, ValidContainerIds) {
  for (const char* id : {"a", "0", "abc_DEF.12-3", "e3b0c44298fc1c149afbf4c8996fb924"}) {
    Env env = add_env();
    env["CNI_CONTAINERID"] = id;
    EXPECT_TRUE(parse_cni_env(lookup(env)).ok()) << id;
  }
}

TEST(CniEnv, MissingIfname) {
  Env env = add_env();
  env["CNI_COMMAND"] = "DEL";
  env.erase("CNI_IFNAME");
  expect_env_error(env, "CNI_IFNAME is not set; DEL needs it: the interface name in the container");
}

TEST(CniEnv, InvalidIfname) {
  for (const char* name : {"0123456789abcdef", "a/b", "a:b", "a b", ".", ".."}) {
    Env env = add_env();
    env["CNI_IFNAME"] = name;
    expect_env_error(env, std::string("CNI_IFNAME '") + name +
                              "' is not a valid interface name; it must be 1 to 15 characters "
                              "without '/', ':' or whitespace, and not '.' or '..'");
  }
}

TEST(CniEnv, NetnsRequiredForAddOnly) {
  Env env = add_env();
  env.erase("CNI_NETNS");
  expect_env_error(env, "CNI_NETNS is not set; ADD needs it: the path of the container's netns");
  for (const char* verb : {"DEL", "CHECK"}) {
    env["CNI_COMMAND"] = verb;
    EXPECT_TRUE(parse_cni_env(lookup(env)).ok()) << verb;
  }
}

TEST(CniEnv, GcAndStatusNeedNoAttachment) {
  for (const char* verb : {"GC", "STATUS"}) {
    auto parsed = parse_cni_env(lookup({{"CNI_COMMAND", verb}, {"CNI_PATH", "/opt/cni/bin"}}));
    ASSERT_TRUE(parsed.ok()) << verb << ": " << parsed.error().msg;
    EXPECT_TRUE(parsed->container_id.empty());
  }
}

TEST(CniEnv, CniPathIsOptional) {
  Env env = add_env();
  env.erase("CNI_PATH");
  EXPECT_TRUE(parse_cni_env(lookup(env)).ok());
}

TEST(CniEnv, ArgsUnknownKeyWithoutIgnoreUnknown) {
  Env env = add_env();
  env["CNI_ARGS"] = "K8S_POD_NAME=a;FOO=bar";
  expect_env_error(env,
                   "CNI_ARGS has unknown key 'FOO'; ipfence knows K8S_POD_NAMESPACE, "
                   "K8S_POD_NAME, K8S_POD_UID and K8S_POD_INFRA_CONTAINER_ID (add "
                   "IgnoreUnknown=1 to skip others)");
}

TEST(CniArgs, IgnoreUnknownAnywhereInTheList) {
  for (const char* text : {"FOO=bar;IgnoreUnknown=1;K8S_POD_NAME=a",
                           "IgnoreUnknown=true;FOO=bar;K8S_POD_NAME=a", "K8S_POD_NAME=a;"}) {
    auto parsed = parse_cni_args(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().msg;
    EXPECT_EQ(parsed->name, "a");
  }
}

TEST(CniArgs, IgnoreUnknownZeroDoesNotIgnore) {
  auto parsed = parse_cni_args("IgnoreUnknown=0;FOO=bar");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 4);
}

TEST(CniArgs, InvalidPair) {
  auto parsed = parse_cni_args("K8S_POD_NAME");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 4);
  EXPECT_EQ(parsed.error().msg,
            "CNI_ARGS has an invalid pair 'K8S_POD_NAME'; it must be KEY=VALUE pairs separated "
            "by ';'");
}

TEST(CniArgs, BadIgnoreUnknownValue) {
  auto parsed = parse_cni_args("IgnoreUnknown=yes");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().msg, "CNI_ARGS IgnoreUnknown is 'yes'; it must be 1 or 0");
}

TEST(CniArgs, EmptyAndValueWithEquals) {
  EXPECT_TRUE(parse_cni_args("").ok());
  auto parsed = parse_cni_args("K8S_POD_NAME=a=b");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, "a=b");
}

}  // namespace
}  // namespace ipfence::cni
