#include "agent/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "agent_test_support.h"

namespace ipfence::agent {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

CommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "ipfence-agent");
  return parse_command_line(args);
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(ConfigTest, DefaultsAndHostnameAsNodeName) {
  CommandLine line = parse({});
  ASSERT_FALSE(line.exit);
  const AgentConfig& c = line.config;
  EXPECT_EQ(c.store, "file:///var/lib/ipfence");
  EXPECT_EQ(c.socket, "/run/ipfence/agent.sock");
  EXPECT_EQ(c.cni_conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(c.metrics_addr, "127.0.0.1:9711");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.log_json);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(c.node_name, host);
}

TEST(ConfigTest, FlagsSetEverySetting) {
  CommandLine line = parse({"--store", "memory://", "--socket", "/tmp/a.sock", "--node-name",
                            "node1", "--cni-conf-dir", "/tmp/net.d", "--metrics-addr", "off",
                            "--log-level", "debug", "--log-json"});
  const AgentConfig& c = line.config;
  EXPECT_EQ(c.store, "memory://");
  EXPECT_EQ(c.socket, "/tmp/a.sock");
  EXPECT_EQ(c.node_name, "node1");
  EXPECT_EQ(c.cni_conf_dir, "/tmp/net.d");
  EXPECT_EQ(c.metrics_addr, "off");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(c.log_json);
}

TEST(ConfigTest, FileSetsAndFlagsOverride) {
  TempDir dir;
  write(dir / "agent.yaml", R"(
store: file:///srv/ipfence
socket: /tmp/from-file.sock
node-name: file-node
log-level: warn
log-json: true
metrics-addr: 0.0.0.0:9900
)");
  CommandLine line =
      parse({"--config", dir / "agent.yaml", "--node-name", "flag-node", "--log-level", "trace"});
  const AgentConfig& c = line.config;
  EXPECT_EQ(c.store, "file:///srv/ipfence");    // file
  EXPECT_EQ(c.socket, "/tmp/from-file.sock");   // file
  EXPECT_EQ(c.node_name, "flag-node");          // flag beats file
  EXPECT_EQ(c.log_level, "trace");              // flag beats file
  EXPECT_TRUE(c.log_json);                      // file
  EXPECT_EQ(c.metrics_addr, "0.0.0.0:9900");    // file
  EXPECT_EQ(c.cni_conf_dir, "/etc/cni/net.d");  // default
  EXPECT_EQ(c.config_file, dir / "agent.yaml");
}

TEST(ConfigTest, FlagGivenAsItsDefaultStillBeatsTheFile) {
  TempDir dir;
  write(dir / "agent.yaml", "log-level: error\nlog-json: true\n");
  CommandLine line =
      parse({"--config", dir / "agent.yaml", "--log-level", "info", "--log-json=false"});
  EXPECT_EQ(line.config.log_level, "info");
  EXPECT_FALSE(line.config.log_json);
}

TEST(ConfigTest, UnknownKeyInFileIsAnErrorNamingIt) {
  TempDir dir;
  write(dir / "agent.yaml", "store: memory://\nsokcet: /tmp/x.sock\n");
  EXPECT_EQ(error_of({"--config", dir / "agent.yaml"}),
            "config file " + (dir / "agent.yaml") +
                ": unknown key \"sokcet\"; known keys: store, socket, node-name, cni-conf-dir, "
                "metrics-addr, log-level, log-json, guard, bpf-pin-dir, masters, guard-mode, "
                "master-mode, reserved-policy, pod-guard, pod-cgroup, max-leases, "
                "max-reserved-prefixes, "
                "conflict-watch, conflict-dedup-seconds, conflict-ring-kib, "
                "conflict-active-seconds, quarantine, "
                "quarantine-quiet-seconds, quarantine-max-per-pool, conflict-probe, "
                "conflict-probe-count, conflict-probe-timeout-ms");
}

TEST(ConfigTest, ConflictWatchSettingsHaveDefaultsAndAreChecked) {
  CommandLine defaults = parse({});
  EXPECT_TRUE(defaults.config.conflict_watch);
  EXPECT_EQ(defaults.config.conflict_dedup_seconds, 10u);
  EXPECT_EQ(defaults.config.conflict_ring_kib, 128u);
  EXPECT_TRUE(defaults.config.quarantine);
  EXPECT_EQ(defaults.config.quarantine_quiet_seconds, 600u);
  EXPECT_EQ(defaults.config.quarantine_max_per_pool, 64u);
  CommandLine set = parse({"--conflict-watch=false", "--quarantine-quiet-seconds", "30",
                           "--quarantine=false", "--conflict-dedup-seconds=2"});
  EXPECT_FALSE(set.config.conflict_watch);
  EXPECT_FALSE(set.config.quarantine);
  EXPECT_EQ(set.config.quarantine_quiet_seconds, 30u);
  EXPECT_EQ(set.config.conflict_dedup_seconds, 2u);
  EXPECT_EQ(error_of({"--quarantine-max-per-pool", "99999999"}),
            "quarantine-max-per-pool: 99999999 is not in 0..16777216");
  EXPECT_EQ(parse({"--conflict-ring-kib", "1024"}).config.conflict_ring_kib, 1024u);
  for (const char* bad : {"0", "2", "96", "131072"})
    EXPECT_EQ(error_of({"--conflict-ring-kib", bad}),
              std::string("conflict-ring-kib: ") + bad + " is not a power of 2 in 4..65536");
}

TEST(ConfigTest, FileErrorsNameTheKey) {
  TempDir dir;
  write(dir / "a.yaml", "log-json: maybe\n");
  EXPECT_THAT(error_of({"--config", dir / "a.yaml"}),
              HasSubstr("key \"log-json\": expected true or false, got \"maybe\""));
  write(dir / "b.yaml", "store: [a, b]\n");
  EXPECT_THAT(error_of({"--config", dir / "b.yaml"}),
              HasSubstr("key \"store\": expected a string, got a list"));
  write(dir / "c.yaml", "- store\n");
  EXPECT_THAT(error_of({"--config", dir / "c.yaml"}), HasSubstr("expected a mapping"));
  write(dir / "d.yaml", "store: [unclosed\n");
  EXPECT_THAT(error_of({"--config", dir / "d.yaml"}), HasSubstr("not valid YAML"));
  EXPECT_THAT(error_of({"--config", dir / "missing.yaml"}), HasSubstr("cannot be read"));
}

TEST(ConfigTest, EmptyFileAndNullValuesKeepDefaults) {
  TempDir dir;
  write(dir / "empty.yaml", "");
  write(dir / "nulls.yaml", "store:\n");
  EXPECT_EQ(parse({"--config", dir / "empty.yaml"}).config.store, "file:///var/lib/ipfence");
  EXPECT_EQ(parse({"--config", dir / "nulls.yaml"}).config.store, "file:///var/lib/ipfence");
}

TEST(ConfigTest, ValuesAreChecked) {
  EXPECT_THAT(error_of({"--log-level", "verbose"}),
              HasSubstr("log-level: \"verbose\" is not one of trace"));
  EXPECT_THAT(error_of({"--metrics-addr", "9711"}), HasSubstr("metrics-addr: \"9711\""));
  EXPECT_THAT(error_of({"--metrics-addr", "127.0.0.1:99999"}), HasSubstr("no valid port"));
  EXPECT_THAT(error_of({"--socket", "agent.sock"}), HasSubstr("socket: \"agent.sock\" must be"));
  EXPECT_THAT(error_of({"--socket", "/" + std::string(120, 'a')}), HasSubstr("too long"));
  EXPECT_THAT(error_of({"--cni-conf-dir", "net.d"}), HasSubstr("cni-conf-dir"));
  EXPECT_THAT(error_of({"--no-such-flag"}), HasSubstr("--no-such-flag"));
  EXPECT_NO_THROW(parse({"--metrics-addr", "[::1]:0"}));
}

TEST(ConfigTest, HelpAndVersionExitWithoutRunning) {
  CommandLine help = parse({"--help"});
  EXPECT_TRUE(help.exit);
  EXPECT_EQ(help.exit_code, 0);
  for (const auto& key : config_keys()) EXPECT_THAT(help.output, HasSubstr("--" + key));
  EXPECT_THAT(help.output, HasSubstr("--config"));
  CommandLine version = parse({"--version"});
  EXPECT_TRUE(version.exit);
  EXPECT_THAT(version.output, HasSubstr(IPFENCE_VERSION));
}

// --- the active conflict probe -----------------------------------------------------------

TEST(ConflictProbeFlagsTest, DefaultsOffTwoProbesIn100ms) {
  ipam::ConflictProbeSettings d = conflict_probe_defaults(parse({"--node-name", "n"}).config);
  EXPECT_EQ(d, (ipam::ConflictProbeSettings{.enabled = false, .count = 2, .timeout = 100ms}));
  d = conflict_probe_defaults(
      parse({"--node-name", "n", "--conflict-probe", "--conflict-probe-count", "3",
             "--conflict-probe-timeout-ms", "250"})
          .config);
  EXPECT_EQ(d, (ipam::ConflictProbeSettings{.enabled = true, .count = 3, .timeout = 250ms}));
}

TEST(ConflictProbeFlagsTest, BadValuesNameTheFlag) {
  EXPECT_EQ(error_of({"--node-name", "n", "--conflict-probe-count", "0"}),
            "conflict-probe-count: 0 is not in 1..10");
  EXPECT_EQ(error_of({"--node-name", "n", "--conflict-probe-timeout-ms", "9000"}),
            "conflict-probe-timeout-ms: 9000 is not in 1..5000 (every probing ADD waits this long "
            "when nobody answers)");
  EXPECT_EQ(error_of({"--node-name", "n", "--conflict-probe", "--conflict-watch=false"}),
            "conflict-probe: needs --conflict-watch (answers to the probes arrive through the "
            "watcher); turn the watch on or the probe off");
}

}  // namespace
}  // namespace ipfence::agent
