#!/usr/bin/env bash
# The demo: walks ../shared/seed/reserved-ip.md (Spiderpool's reserved-IP walk-through) end to
# end on this machine, narrating each step as the seed does and showing each command with what
# it printed:
#   - a "node" network namespace whose macvlan master ens192 is one end of a veth "wire"; the
#     other end is an "outside host" namespace (10.6.0.1/16);
#   - ipfence-agent running in the node namespace on a temporary file store;
#   - ipfencectl applying the seed's SpiderMultusConfig, SpiderReservedIP and SpiderIPPool;
#   - the seed's Deployment (2 replicas) as pods: network namespaces attached through the real
#     macvlan plugin (containernetworking-plugins) calling the ipfence IPAM plugin.
#   - the eBPF guard dropping a pod's attempt to use a reserved IP, and the conflict watcher
#     reporting an outside host that takes a pod's IP.
# Everything it makes is removed on exit, also on Ctrl-C or failure.
#
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail

build_dir=$(realpath "${1:?usage: scripts/demo.sh BUILD_DIR}")
ctl_binary=$build_dir/ctl/ipfencectl
agent_binary=$build_dir/agent/ipfence-agent
cnirun_binary=$build_dir/tests/cnirun
for binary in "$ctl_binary" "$agent_binary" "$cnirun_binary" "$build_dir/cni/ipfence"; do
  if [[ ! -x $binary ]]; then
    echo "demo: $binary not found; build first (make build)" >&2
    exit 1
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (it makes network namespaces and macvlan interfaces)" >&2
  exit 1
fi

workdir=$(mktemp -d -t ipfence-demo-XXXXXX)
tag="ipfdemo$$"
node_ns="$tag-node"
outside_ns="$tag-out"
agent_pid=""
pods=()  # pod names, in the order they were created

cleanup() {
  set +e
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-"); do ip netns delete "$ns"; done
  mountpoint -q "$workdir/bpffs" && umount "$workdir/bpffs"
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every ipfencectl below uses this store; nothing outside $workdir is touched.
export IPFENCE_STORE="file://$workdir/store"
socket=$workdir/agent.sock
conf_dir=$workdir/net.d

ipfencectl() { "$ctl_binary" "$@"; }

# Narration: the seed's words for the step.
say() { printf '\n%s\n' "$*"; }

# Shows a command as a shell prompt line (quoting the arguments that need it, so it can be
# pasted), then runs it; its output follows as is.
run() {
  local line="~#" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      line+=" $arg"
    else
      line+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '%s\n' "$line"
  "$@"
}

# Shows a manifest the way the seed applies it (cat <<EOF | kubectl apply -f -), then applies it.
apply_manifest() {
  local manifest
  manifest=$(cat)
  printf '~# cat <<EOF | ipfencectl apply -f -\n%s\nEOF\n' "$manifest"
  printf '%s\n' "$manifest" | ipfencectl apply -f -
}

create_multus_config() {
  say "== Create a Macvlan SpiderMultusConfig (master: ens192); it stands for the Multus" \
    "NetworkAttachmentDefinition that pods name."
  MACVLAN_MASTER_INTERFACE="ens192"
  MACVLAN_MULTUS_NAME="macvlan-$MACVLAN_MASTER_INTERFACE"
  apply_manifest <<EOF
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: ${MACVLAN_MULTUS_NAME}
  namespace: kube-system
spec:
  cniType: macvlan
  enableCoordinator: true
  macvlan:
    master:
    - ${MACVLAN_MASTER_INTERFACE}
EOF
  run ipfencectl get spidermultusconfigs.spiderpool.spidernet.io -n kube-system
  say "The NetworkAttachmentDefinition it renders (ipfence ships no coordinator plugin, so" \
    "enableCoordinator adds none):"
  run ipfencectl render nad "$MACVLAN_MULTUS_NAME" -n kube-system
}

create_reserved_ip() {
  say "== Reserve 10.6.168.131-10.6.168.132: hosts outside the cluster use them, so IPAM must" \
    "never hand them out."
  apply_manifest <<'EOF'
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata:
  name: test-reservedip
spec:
  ips:
  - 10.6.168.131-10.6.168.132
EOF
  run ipfencectl get sr
}

create_ippool() {
  say "== Create an IP pool with 10.6.168.131-10.6.168.133: 3 IPs, of which the reserved IPs" \
    "leave only 1 available."
  apply_manifest <<'EOF'
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: test-ippool
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.131-10.6.168.133
EOF
  run ipfencectl get sp
  say "RESERVED and AVAILABLE (-o wide) show why only one pod of two can get an IP:"
  run ipfencectl get sp -o wide
}

# --- a tiny kubelet: pods are network namespaces attached with the agent's conflist ---------

declare -A pod_status pod_ip pod_event
annotation='{"ipv4": ["test-ippool"]}'

pod_start() {
  local name=$1 out
  ip netns add "$tag-$name"
  ip -n "$tag-$name" link set lo up
  [[ " ${pods[*]} " == *" $name "* ]] || pods+=("$name")
  if out=$(cnirun ADD --container "$name" --netns "/var/run/netns/$tag-$name" \
    --arg K8S_POD_NAMESPACE=default --arg "K8S_POD_NAME=$name" --arg "K8S_POD_UID=uid-$name" \
    --cni-arg "ipam.spidernet.io/ippool=$annotation" 2>&1); then
    pod_status[$name]=Running
    pod_ip[$name]=$(ip -n "$tag-$name" -4 -o addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
    pod_event[$name]=""
  else
    # As kubelet does: tear the half-made sandbox down, keep the pod ContainerCreating.
    cnirun DEL --container "$name" --netns "/var/run/netns/$tag-$name" >/dev/null 2>&1 || true
    ip netns delete "$tag-$name"
    pod_status[$name]=ContainerCreating
    pod_ip[$name]="<none>"
    pod_event[$name]=$(printf '%s' "$out" | jq -r '.msg // empty' 2>/dev/null || printf '%s' "$out")
  fi
}

pod_delete() {
  local name=$1 kept=()
  cnirun DEL --container "$name" --netns "/var/run/netns/$tag-$name" >/dev/null
  ip netns delete "$tag-$name" 2>/dev/null || true
  for p in "${pods[@]}"; do [[ $p == "$name" ]] || kept+=("$p"); done
  pods=("${kept[@]}")
  echo "pod \"$name\" deleted"
}

# A pod that is not Running is retried, as kubelet keeps retrying its sandbox.
pods_retry() {
  local p
  for p in "${pods[@]}"; do
    [[ ${pod_status[$p]} == Running ]] || { ip netns delete "$tag-$p" 2>/dev/null || true; pod_start "$p"; }
  done
}

pods_table() {
  printf '~# kubectl get po -owide\n'
  printf '%-28s %-6s %-18s %-14s %s\n' NAME READY STATUS IP NODE
  local p ready
  for p in "${pods[@]}"; do
    ready=0/1; [[ ${pod_status[$p]} == Running ]] && ready=1/1
    printf '%-28s %-6s %-18s %-14s %s\n' "$p" "$ready" "${pod_status[$p]}" "${pod_ip[$p]}" node1
  done
  for p in "${pods[@]}"; do
    [[ -n ${pod_event[$p]} ]] && printf '  %s: FailedCreatePodSandBox: %s\n' "$p" "${pod_event[$p]}"
  done
  return 0
}

deploy_app() {
  say "== Deploy test-app with 2 replicas; the pod annotation ipam.spidernet.io/ippool:" \
    "$annotation picks the pool. Only one IP is available, so only one pod can run."
  pod_start test-app-67dd9f645-dv8xz
  pod_start test-app-67dd9f645-lpjgs
  pods_table
  say "The running pod reaches the outside host from its own address over the macvlan master:"
  run ip netns exec "$tag-test-app-67dd9f645-dv8xz" ping -c1 -W2 10.6.0.1
  run ipfencectl get allocations
}

# The running pod takes a reserved address (a host outside the cluster uses it) and tries to
# reach the outside host from it: the eBPF guard drops it and counts it as "reserved".
spoof_attempt() {
  local pod p
  for p in "${pods[@]}"; do [[ ${pod_status[$p]} == Running ]] && { pod=$p; break; }; done
  say "== The running pod $pod tries to use the reserved IP 10.6.168.131: it adds it to eth0" \
    "and pings the outside host from it. The eBPF guard drops every such frame, so no reply" \
    "comes back and the outside host's neighbour table never learns the pod's MAC for it."
  run ip netns exec "$tag-$pod" ip addr add 10.6.168.131/16 dev eth0
  if run ip netns exec "$tag-$pod" ping -c2 -i0.2 -W1 -I 10.6.168.131 10.6.0.1; then
    echo "demo: the spoofed ping got a reply; the guard did not drop it" >&2
    exit 1
  fi
  say "No reply: the guard on the pod's interface dropped them, counted under RESERVED:"
  run ipfencectl get guards --agent-socket "$socket"
  run ip netns exec "$tag-$pod" ip addr del 10.6.168.131/16 dev eth0
  say "From its own address the pod still gets through:"
  run ip netns exec "$tag-$pod" ping -c1 -W2 10.6.0.1
}

# A host outside the cluster starts using the running pod's address (a static IP someone
# configured by hand): its gratuitous ARP reaches the master, the conflict watcher reports it,
# and the agent shows it in `ipfencectl get conflicts` and in /metrics.
conflict_detected() {
  local pod p ip metrics_addr
  for p in "${pods[@]}"; do [[ ${pod_status[$p]} == Running ]] && { pod=$p; break; }; done
  ip=$(ip -n "$tag-$pod" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)
  say "== A host outside the cluster starts using $ip, the address of pod $pod, and announces" \
    "it with a gratuitous ARP. The agent's watcher on the master sees it:"
  run ip netns exec "$outside_ns" ip addr add "$ip/32" dev wire0
  run ip netns exec "$outside_ns" arping -U -c1 -I wire0 "$ip"
  ip netns exec "$outside_ns" ip addr del "$ip/32" dev wire0
  for _ in $(seq 40); do ipfencectl get conflicts 2>/dev/null | grep -q "$ip" && break; sleep 0.05; done
  run ipfencectl get conflicts
  metrics_addr=$(curl -s --unix-socket "$socket" http://agent/v1/status | jq -r .metricsAddr)
  say "And in the agent's /metrics (what Prometheus scrapes; deploy/ has alert rules for it):"
  printf '~# curl -s http://%s/metrics | grep ^ipfence_conflict\n' "$metrics_addr"
  ip netns exec "$node_ns" curl -s "http://$metrics_addr/metrics" | grep '^ipfence_conflict'
  grep -m1 '"event":"conflict"' "$workdir/agent.log" >/dev/null ||
    { echo "demo: the agent logged no conflict" >&2; exit 1; }
}

patch_reserved_ip() {
  say "== Add the pod's IP to the ReservedIP, then restart the pod: it fails with" \
    "\"all IPs have been exhausted\" (the running pod kept its IP until it was deleted)."
  run ipfencectl patch spiderreservedip test-reservedip \
    --patch '{"spec":{"ips":["10.6.168.131-10.6.168.133"]}}' --type=merge
  run ipfencectl get sp -o wide
  printf '~# kubectl delete po test-app-67dd9f645-dv8xz\n'
  pod_delete test-app-67dd9f645-dv8xz
  pod_start test-app-67dd9f645-fvx4m
  pods_retry
  pods_table
}

delete_reserved_ip() {
  say "== Remove the ReservedIP: the pods obtain IPs and run."
  run ipfencectl delete sr test-reservedip
  pods_retry
  pods_table
  run ipfencectl get sp -o wide
  say "(ipfence hands IPs out next-fit, not lowest-first: a just-released IP is not handed out" \
    "again at once, so the IPs may differ from the seed's 10.6.168.133 and 10.6.168.131.)"
}

start_node() {
  say "Setting up: node namespace $node_ns with macvlan master ens192, wired to an outside host" \
    "($outside_ns, 10.6.0.1/16); ipfence-agent on store $IPFENCE_STORE."
  ip netns add "$node_ns"
  ip netns add "$outside_ns"
  ip -n "$node_ns" link set lo up
  ip -n "$outside_ns" link set lo up
  ip -n "$node_ns" link add ens192 type veth peer name wire0 netns "$outside_ns"
  ip -n "$node_ns" link set ens192 up
  ip -n "$outside_ns" link set wire0 up
  ip -n "$outside_ns" addr add 10.6.0.1/16 dev wire0
  mkdir -p "$conf_dir"
  # The guard pins its maps on a bpffs of the demo's own (`ip netns exec` hides /sys/fs/bpf).
  mkdir -p "$workdir/bpffs"
  mount -t bpf bpf "$workdir/bpffs"
  ip netns exec "$node_ns" "$agent_binary" --store "$IPFENCE_STORE" --socket "$socket" \
    --node-name node1 --cni-conf-dir "$conf_dir" --metrics-addr 127.0.0.1:0 \
    --bpf-pin-dir "$workdir/bpffs" >"$workdir/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do [[ -S $socket ]] && break; sleep 0.05; done
  [[ -S $socket ]] || { cat "$workdir/agent.log" >&2; echo "demo: agent did not start" >&2; exit 1; }
}

# Runs the conflist the agent wrote for the SpiderMultusConfig, inside the node namespace.
cnirun() {
  local verb=$1
  shift
  "$cnirun_binary" --conflist "$conf_dir/macvlan-ens192.conflist" \
    --cni-path "$build_dir/cni:/usr/lib/cni" --node-netns "$node_ns" \
    --cache-dir "$workdir/cni-cache" "$verb" "$@"
}

main() {
  say "ipfence demo: the reserved-IP walk-through (shared/seed/reserved-ip.md), end to end"
  start_node
  create_multus_config
  say "The agent wrote the CNI conflist for it:"
  for _ in $(seq 100); do [[ -f $conf_dir/macvlan-ens192.conflist ]] && break; sleep 0.05; done
  run cat "$conf_dir/macvlan-ens192.conflist"
  create_reserved_ip
  create_ippool
  deploy_app
  spoof_attempt
  conflict_detected
  patch_reserved_ip
  delete_reserved_ip
  say "Done."
}

main
