#!/usr/bin/env bash
# The demo: walks ../shared/seed/reserved-ip.md (Spiderpool's reserved-IP walk-through) with
# ipfencectl over a temporary file store, narrating each step as the seed does, showing each
# command and what it printed.
#
# Usage: scripts/demo.sh BUILD_DIR
#
# For now it stops at the objects: pods need the agent and real macvlan interfaces, which a
# later stage adds in deploy_app (and the "restart the pod" parts of patch/delete).
set -euo pipefail

build_dir=${1:?usage: scripts/demo.sh BUILD_DIR}
ctl_binary=$(realpath "$build_dir/ctl/ipfencectl" 2>/dev/null || true)
if [[ ! -x $ctl_binary ]]; then
  echo "demo: $build_dir/ctl/ipfencectl not found; build first (make build)" >&2
  exit 1
fi

workdir=$(mktemp -d -t ipfence-demo-XXXXXX)
trap 'rm -rf "$workdir"' EXIT
# Every ipfencectl below uses this store; nothing outside $workdir is touched.
export IPFENCE_STORE="file://$workdir/store"

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
  run ipfencectl get network-attachment-definitions.k8s.cni.cncf.io -n kube-system
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

deploy_app() {
  say "== (The seed now deploys test-app with 2 replicas: one runs with 10.6.168.133, the other" \
    "fails with \"all IPs have been exhausted\". That needs the agent; a later stage runs it here.)"
}

patch_reserved_ip() {
  say "== Add the pod's IP to the ReservedIP: a pod restarted now could get no IP."
  run ipfencectl patch spiderreservedip test-reservedip \
    --patch '{"spec":{"ips":["10.6.168.131-10.6.168.133"]}}' --type=merge
  run ipfencectl get sr -o wide
  run ipfencectl get sp -o wide
}

delete_reserved_ip() {
  say "== Remove the ReservedIP: every IP of the pool is available again."
  run ipfencectl delete sr test-reservedip
  run ipfencectl get sp -o wide
}

main() {
  say "ipfence demo: the reserved-IP walk-through, on a temporary store ($IPFENCE_STORE)"
  create_multus_config
  create_reserved_ip
  create_ippool
  deploy_app
  patch_reserved_ip
  delete_reserved_ip
  say "Done."
}

main
