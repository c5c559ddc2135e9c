// The guard's settings (agent/config.h) from flags and the config file, their checks with the
// exact messages an operator sees, and what the datapath makes of them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "agent/config.h"
#include "agent/datapath_service.h"
#include "agent_test_support.h"

namespace ipfence::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

AgentConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "ipfence-agent");
  args.push_back("--node-name=node1");
  return parse_command_line(args).config;
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DatapathConfigTest, Defaults) {
  const AgentConfig c = parse({});
  EXPECT_TRUE(c.guard_enabled());
  EXPECT_EQ(c.guard, "on");
  EXPECT_EQ(c.bpf_pin_dir, "/sys/fs/bpf/ipfence");
  EXPECT_TRUE(c.masters.empty());
  EXPECT_EQ(c.guard_mode, "enforce");
  EXPECT_TRUE(c.master_modes.empty());
  EXPECT_EQ(c.reserved_policy, "grandfather");
  EXPECT_TRUE(c.pod_guard);
  EXPECT_EQ(c.max_leases, 65536u);
  EXPECT_EQ(c.max_reserved_prefixes, 65536u);

  const GuardSettings s = guard_settings(c);
  EXPECT_EQ(s.pin_dir, "/sys/fs/bpf/ipfence");
  EXPECT_EQ(s.default_mode, datapath::Mode::enforce);
  EXPECT_EQ(s.policy, datapath::ReservedPolicy::grandfather);
  EXPECT_TRUE(s.pod_guard);
  EXPECT_EQ(s.capacities.leases, 65536u);
  EXPECT_EQ(s.capacities.reserved_prefixes, 65536u);
}

TEST(DatapathConfigTest, FlagsSetEveryGuardSetting) {
  const AgentConfig c =
      parse({"--guard=off", "--bpf-pin-dir", "/run/bpffs/ipf", "--masters", "ens192,ens224",
             "--masters=ens256", "--guard-mode", "monitor", "--master-mode", "ens192=enforce",
             "--master-mode=ens224=monitor", "--reserved-policy", "drop", "--pod-guard=false",
             "--max-leases", "1024", "--max-reserved-prefixes=2048"});
  EXPECT_FALSE(c.guard_enabled());
  EXPECT_EQ(c.bpf_pin_dir, "/run/bpffs/ipf");
  EXPECT_THAT(c.masters, ElementsAre("ens192", "ens224", "ens256"));
  EXPECT_EQ(c.guard_mode, "monitor");
  EXPECT_EQ(c.master_modes,
            (std::map<std::string, std::string>{{"ens192", "enforce"}, {"ens224", "monitor"}}));
  EXPECT_EQ(c.reserved_policy, "drop");
  EXPECT_FALSE(c.pod_guard);
  EXPECT_EQ(c.max_leases, 1024u);
  EXPECT_EQ(c.max_reserved_prefixes, 2048u);

  const GuardSettings s = guard_settings(c);
  EXPECT_EQ(s.default_mode, datapath::Mode::monitor);
  EXPECT_EQ(s.master_modes,
            (std::map<std::string, datapath::Mode>{{"ens192", datapath::Mode::enforce},
                                                   {"ens224", datapath::Mode::monitor}}));
  EXPECT_EQ(s.policy, datapath::ReservedPolicy::drop);
  EXPECT_FALSE(s.pod_guard);
  EXPECT_EQ(s.capacities.leases, 1024u);
  EXPECT_EQ(s.capacities.pod_macs, 1024u);
  EXPECT_EQ(s.capacities.reserved_prefixes, 2048u);
}

TEST(DatapathConfigTest, YamlKeysAreTheFlagNames) {
  TempDir dir;
  std::ofstream(dir / "agent.yaml") << R"(
guard: off
bpf-pin-dir: /run/bpffs/ipf
masters: [ens192, ens224]
guard-mode: monitor
master-mode:
  ens192: enforce
reserved-policy: drop
pod-guard: false
max-leases: 4096
max-reserved-prefixes: 512
)";
  const AgentConfig c = parse({"--config", dir / "agent.yaml", "--masters", "ens300"});
  EXPECT_EQ(c.guard, "off");
  EXPECT_EQ(c.bpf_pin_dir, "/run/bpffs/ipf");
  EXPECT_THAT(c.masters, ElementsAre("ens300"));  // the flag replaces the file's list
  EXPECT_EQ(c.guard_mode, "monitor");
  EXPECT_EQ(c.master_modes, (std::map<std::string, std::string>{{"ens192", "enforce"}}));
  EXPECT_EQ(c.reserved_policy, "drop");
  EXPECT_FALSE(c.pod_guard);
  EXPECT_EQ(c.max_leases, 4096u);
  EXPECT_EQ(c.max_reserved_prefixes, 512u);

  std::ofstream(dir / "lists.yaml") << "masters: ens192,ens224\nmaster-mode: [ens192=monitor]\n";
  const AgentConfig l = parse({"--config", dir / "lists.yaml"});
  EXPECT_THAT(l.masters, ElementsAre("ens192", "ens224"));
  EXPECT_EQ(l.master_modes, (std::map<std::string, std::string>{{"ens192", "monitor"}}));
}

TEST(DatapathConfigTest, BadValuesAreNamedExactly) {
  EXPECT_EQ(error_of({"--guard", "maybe"}), "guard: \"maybe\" is not on or off");
  EXPECT_EQ(error_of({"--bpf-pin-dir", "bpf/ipfence"}),
            "bpf-pin-dir: \"bpf/ipfence\" must be an absolute path");
  EXPECT_EQ(error_of({"--masters", "ens192,a/b"}), "masters: \"a/b\" is not an interface name");
  EXPECT_EQ(error_of({"--masters", "this-name-is-too-long"}),
            "masters: \"this-name-is-too-long\" is not an interface name");
  EXPECT_EQ(error_of({"--guard-mode", "drop"}), "guard-mode: \"drop\" is not enforce or monitor");
  EXPECT_EQ(error_of({"--master-mode", "ens192"}),
            "master-mode: \"ens192\" is not IFNAME=enforce|monitor");
  EXPECT_EQ(error_of({"--master-mode", "=monitor"}),
            "master-mode: \"=monitor\" is not IFNAME=enforce|monitor");
  EXPECT_EQ(error_of({"--master-mode", "ens192=off"}),
            "master-mode: \"ens192=off\": \"off\" is not enforce or monitor");
  EXPECT_EQ(error_of({"--master-mode", "ens192=monitor", "--master-mode", "ens192=enforce"}),
            "master-mode: ens192 is given more than once");
  EXPECT_EQ(error_of({"--reserved-policy", "keep"}),
            "reserved-policy: \"keep\" is not grandfather or drop");
  EXPECT_EQ(error_of({"--max-leases", "0"}), "max-leases: 0 is not in 1..16777216");
  EXPECT_EQ(error_of({"--max-reserved-prefixes", "16777217"}),
            "max-reserved-prefixes: 16777217 is not in 1..16777216");
  EXPECT_THAT(error_of({"--max-leases", "many"}), HasSubstr("--max-leases"));
  // A list flag takes one value (comma-separated): it never swallows what follows.
  EXPECT_THAT(error_of({"--masters", "ens192", "ens224"}), HasSubstr("ens224"));
}

TEST(DatapathConfigTest, BadFileValuesNameTheKey) {
  TempDir dir;
  const auto file_error = [&](const std::string& text) {
    std::ofstream(dir / "a.yaml") << text;
    return error_of({"--config", dir / "a.yaml"});
  };
  const std::string origin = "config file " + (dir / "a.yaml") + ": key ";
  EXPECT_EQ(file_error("max-leases: lots\n"),
            origin + "\"max-leases\": expected a whole number, got \"lots\"");
  EXPECT_EQ(file_error("max-leases: -1\n"),
            origin + "\"max-leases\": expected a whole number, got \"-1\"");
  EXPECT_EQ(file_error("masters: {a: b}\n"),
            origin + "\"masters\": expected a list of strings, got a mapping");
  EXPECT_EQ(file_error("masters: [[a]]\n"),
            origin + "\"masters\": expected a list of strings, got a list in it");
  EXPECT_EQ(file_error("pod-guard: sometimes\n"),
            origin + "\"pod-guard\": expected true or false, got \"sometimes\"");
  EXPECT_EQ(file_error("guard: false\n"), "guard: \"false\" is not on or off");
}

TEST(DatapathConfigTest, PinDirMustBeOnBpffs) {
  TempDir dir;  // /tmp: never bpffs
  Status checked = check_bpf_pin_dir(dir / "pins/ipfence");
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message,
            "bpf-pin-dir " + (dir / "pins/ipfence") + " is not on a bpf filesystem (" + dir.path() +
                " is not bpffs): mount one with `mount -t bpf bpf /sys/fs/bpf` (in a pod: a "
                "hostPath volume of /sys/fs/bpf), pass --bpf-pin-dir=<a dir on bpffs>, or run "
                "IPAM only with --guard=off");
}

}  // namespace
}  // namespace ipfence::agent
