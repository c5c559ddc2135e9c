// A real etcd cluster (1..N members, Debian's etcd-server) for end-to-end tests, in a
// network namespace of its own that node namespaces are wired to by veth links, as nodes
// reach etcd over the network: a killed member refuses connections (RST from its kernel),
// and a cut link makes the whole cluster unreachable from one node while the others still
// reach it. Nothing listens outside the test's namespaces.
//
// Members run with their data on tmpfs when there is one (/dev/shm): the tests are about
// who wins which key, not about fsync. Every member is SIGKILLed when the object goes
// away and also when the test process dies (PR_SET_PDEATHSIG), and the data is removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/support/netns.h"

namespace ipfence::e2e {

class EtcdCluster {
 public:
  // `tag` names the namespace ("<tag>-etcd"); members listen on ports 2379, 12379, 22379...
  EtcdCluster(const std::string& tag, int members);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  const Netns& netns() const { return netns_; }

  // Wires `node` to the cluster (a veth pair "etcd0" in the node, 10.254.<n>.2/24; the
  // cluster's end is 10.254.<n>.1) and returns the store URL an agent in that namespace
  // uses: every member's endpoint, then `query` (e.g. "?timeout=1s&prefix=/t/").
  std::string attach(const Netns& node, const std::string& query = "");
  // Takes a node's link down or up again: etcd unreachable from that node only.
  void set_link(const Netns& node, bool up);

  void kill(int member);     // SIGKILL, as a crashed machine
  void restart(int member);  // same name, ports and data; waits until it is healthy
  void kill_all();
  void restart_all();
  bool running(int member) const { return members_.at(member).pid > 0; }
  // The member that leads the raft group now; -1 when none answers.
  int leader() const;
  // The member's /health says true (it has a leader).
  bool healthy(int member) const;
  // Keys under the absolute `prefix` (e.g. "/ipfence/ips/"), as a running member counts
  // them (a linearizable read); -1 when no member answers.
  long count_keys(const std::string& prefix) const { return range(prefix, true).first; }
  // The keys under `prefix` with their values (at most 1000).
  std::map<std::string, std::string> read_prefix(const std::string& prefix) const {
    return range(prefix, false).second;
  }
  std::string log(int member) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    int metrics_port = 0;
    pid_t pid = -1;
  };
  void spawn(int member, bool fresh);
  bool wait_healthy(const std::vector<int>& members, std::chrono::milliseconds timeout);
  std::string initial_cluster() const;
  std::pair<long, std::map<std::string, std::string>> range(const std::string& prefix,
                                                            bool count_only) const;

  Netns netns_;
  std::string dir_;
  std::vector<Member> members_;
  std::vector<std::string> attached_;  // node namespace names, in attach order
};

}  // namespace ipfence::e2e
